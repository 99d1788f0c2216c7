/**
 * Text scanners shared by the brace languages whose declarations keep their annotations inside the node and their
 * doc comment just above it (Go, Java, C#, PHP): leading docs, names, attribute prefixes and callee names.
 */
import type { SymbolKind } from '../../protocol/types.js';
import type { SourceFile } from './index.js';
import type { Access } from './access.js';
import type { LineIndex } from './lines.js';
import { ScopeStack, type Frame } from './scope.js';
import type { Sink } from './sink.js';
import { blockDoc, docText, signature } from './text.js';

/** Whitespace: space, \n, \t, \r, \f, \v. */
export const isBlank = (c: number) => c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11;

/** Identifier characters: ASCII letters, digits, `_`, `$` (Java), and anything non-ASCII. */
export const isIdentChar = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c > 127;

/** Index after the blanks at `p`. */
export function skipBlanks(src: string, p: number): number {
  while (p < src.length && isBlank(src.charCodeAt(p))) p++;
  return p;
}

/** Index after the identifier at `p` (`p` itself when there is none). */
export function identEnd(src: string, p: number): number {
  while (p < src.length && isIdentChar(src.charCodeAt(p))) p++;
  return p;
}

/** Index of the bracket matching the closer just before `p` (`)`, `]`, `>`), scanning backwards, or -1. */
function openerBefore(src: string, p: number, limit: number): number {
  const close = src.charCodeAt(p - 1);
  const open = close === 41 ? 40 : close === 93 ? 91 : 60;
  let depth = 0;
  for (let i = p - 1; i >= limit; i--) {
    const c = src.charCodeAt(i);
    if (c === close) depth++;
    else if (c === open && --depth === 0) return i;
  }
  return -1;
}

/**
 * The '(' of a call's arguments when the callee text from `p` is a plain path (`a.b`, `a->b`, `A::b`, `\\A\\b`,
 * `a?.b`) with type arguments or indexes (`<...>`, `[...]`) in it; -1 for anything else (comments, strings, a
 * parenthesized callee), where the tree has to answer.
 */
function argumentsOpen(src: string, p: number): number {
  const limit = Math.min(src.length, p + 1024);
  const from = p;
  while (p < limit) {
    const c = src.charCodeAt(p);
    if (isIdentChar(c) || isBlank(c) || c === 46 || c === 92 || c === 58 || c === 63) p++;
    else if (c === 45 && src.charCodeAt(p + 1) === 62) p += 2;
    else if (c === 60 || c === 91) {
      // type arguments or an index: balanced, with no call, block or statement inside
      const close = c === 60 ? 62 : 93;
      let depth = 0;
      for (; p < limit; p++) {
        const d = src.charCodeAt(p);
        if (d === c) depth++;
        else if (d === close && --depth === 0) break;
        else if (d === 40 || d === 123 || d === 59 || d === 34 || d === 39 || d === 47) return -1;
      }
      if (depth !== 0) return -1;
      p++;
    } else {
      // the arguments follow a name or type arguments (not a Go type assertion `x.(T)`)
      let q = p;
      while (q > from && isBlank(src.charCodeAt(q - 1))) q--;
      const last = src.charCodeAt(q - 1);
      return c === 40 && q > from && (isIdentChar(last) || last === 62 || last === 93) ? p : -1;
    }
  }
  return -1;
}

/**
 * The called name of a call whose callee is `src[start, argsAt)`: its last identifier (`a.b.Foo` -> `Foo`), after
 * dropping type arguments in `brackets` (`Foo<int>`, `New[T]`) when `typeArgs` accepts their text. Null when the
 * callee does not end in a name (`f()(x)`, `table[i](x)`).
 */
export function calleeName(src: string, start: number, argsAt: number, brackets: '<' | '[' | null, typeArgs: (text: string) => boolean = () => true): { name: string; at: number } | null {
  let e = argsAt;
  while (e > start && isBlank(src.charCodeAt(e - 1))) e--;
  const last = src.charCodeAt(e - 1);
  if (brackets !== null && last === (brackets === '<' ? 62 : 93)) {
    const open = openerBefore(src, e, Math.max(start, e - 480));
    if (open < 0 || !typeArgs(src.slice(open + 1, e - 1))) return null;
    e = open;
    while (e > start && isBlank(src.charCodeAt(e - 1))) e--;
  }
  let b = e;
  while (b > start && isIdentChar(src.charCodeAt(b - 1))) b--;
  if (b === e) return null;
  const first = src.charCodeAt(b);
  if (first >= 48 && first <= 57) return null;
  return { name: src.slice(b, e), at: b };
}

/**
 * Skips the annotations at `p`: Java `@A`, `@a.b.C(...)` (not `@interface`), C# `[...]`, PHP `#[...]`. Returns the
 * index of the first token after them.
 */
export function skipAnnotations(src: string, p: number): number {
  for (;;) {
    p = skipBlanks(src, p);
    const c = src.charCodeAt(p);
    if (c === 64 && !src.startsWith('@interface', p)) {
      // @name(.name)* then optional (...)
      let q = p + 1;
      for (;;) {
        q = identEnd(src, skipBlanks(src, q));
        const n = skipBlanks(src, q);
        if (src.charCodeAt(n) === 46) q = n + 1;
        else break;
      }
      const n = skipBlanks(src, q);
      p = src.charCodeAt(n) === 40 ? balancedEnd(src, n) : q;
    } else if (c === 91 || (c === 35 && src.charCodeAt(p + 1) === 91)) {
      p = balancedEnd(src, c === 35 ? p + 1 : p);
    } else return p;
    if (p < 0) return src.length;
  }
}

/** Index just past the bracket matching the one at `p` (strings skipped), or -1. */
function balancedEnd(src: string, p: number): number {
  let depth = 0;
  for (let i = p; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 40 || c === 91 || c === 123) depth++;
    else if (c === 41 || c === 93 || c === 125) {
      if (--depth === 0) return i + 1;
    } else if (c === 34 || c === 39) {
      for (i++; i < src.length && src.charCodeAt(i) !== c; i++) if (src.charCodeAt(i) === 92) i++;
    }
  }
  return -1;
}

/**
 * The doc comment right above a declaration starting at `start`, and where its range then starts: a `/** … *\/`
 * block (blank lines between allowed), or else, when `marker` is given (`//` for Go, `///` for C#), the run of such
 * line comments on the lines directly above. `keep` filters the lines (Go drops `//go:` directives).
 */
export function leadingDoc(
  src: string,
  start: number,
  lines: LineIndex,
  marker: string | null,
  keep: (line: string) => boolean = () => true,
): { doc: string | null; start: number } {
  let p = start;
  while (p > 0 && isBlank(src.charCodeAt(p - 1))) p--;
  if (p >= 4 && src.charCodeAt(p - 1) === 47 && src.charCodeAt(p - 2) === 42) {
    const open = src.lastIndexOf('/*', p - 3);
    if (open >= 0 && src.charCodeAt(open + 2) === 42 && p - open > 4) return { doc: blockDoc(src.slice(open, p)), start: open };
    return { doc: null, start };
  }
  if (marker === null) return { doc: null, start };
  const row = lines.row(start);
  const ls = lines.lineStart(row);
  for (let i = ls; i < start; i++) if (!isBlank(src.charCodeAt(i))) return { doc: null, start }; // code before it
  const found: string[] = [];
  let first = start;
  for (let r = row - 1; r >= 0; r--) {
    const from = skipBlanks(src, lines.lineStart(r));
    const to = lines.lineEnd(r, src.length);
    if (from >= to || !src.startsWith(marker, from) || (marker === '//' ? false : src.charCodeAt(from + marker.length) === 47)) break;
    const text = src.slice(from, to).trimEnd();
    if (keep(text)) found.push(text.slice(text.charCodeAt(marker.length) === 32 ? marker.length + 1 : marker.length));
    first = from;
  }
  if (first === start) return { doc: null, start };
  return { doc: docText(found.reverse().join('\n')), start: first };
}

/** Longest callee text kept before the called name, for a call's context. */
const CALLEE_MAX = 480;

/**
 * What every brace-language extractor holds: the file, its node listing (handles in pre-order) and its scope
 * stack, with the reads they all make.
 */
export abstract class BraceFile<K> {
  protected readonly src: string;
  protected readonly sink: Sink;
  protected readonly lines: LineIndex;
  protected readonly a: Access;
  protected readonly scopes: ScopeStack<K>;

  constructor(file: SourceFile, types: string[], top: K) {
    this.src = file.src;
    this.sink = file.sink;
    this.lines = file.lines;
    this.a = file.nodes(types);
    this.scopes = new ScopeStack<K>({ start: -1, end: Infinity, qualified: null, kind: top });
  }

  /** Visits the listed nodes in pre-order, each with the innermost scope open at its start. */
  run(): void {
    const a = this.a;
    for (let i = 0; i < a.count; i++) {
      const start = a.start(i);
      this.visit(i, a.type(i)!, start, this.scopes.at(start));
    }
  }

  protected abstract visit(i: number, type: string, start: number, frame: Frame<K>): void;

  /** The line-comment marker of this language's docs for `leadingDoc` (C#: `///`); null: only `/** … *\/` blocks. */
  protected readonly docMarker: string | null = null;
  /** Modifiers of a header (before the name) that become flags, e.g. `static`; null: none. */
  protected readonly flagModifiers: RegExp | null = null;

  /**
   * A definition whose range starts at its doc comment, else at `start` (its first annotation or modifier), and
   * whose signature is its header from `start` to `sigEnd` without the annotations; modifiers add to `flags`.
   */
  protected annotatedDef(name: string, kind: SymbolKind, scope: string | null, nameAt: number, start: number, end: number, sigEnd: number, flags: string[] | null = null): string {
    const { doc, start: rangeStart } = leadingDoc(this.src, start, this.lines, this.docMarker);
    const sigStart = Math.min(skipAnnotations(this.src, start), sigEnd);
    const mods = this.flagModifiers ? this.src.slice(sigStart, nameAt).match(this.flagModifiers) : null;
    if (mods) flags = [...(flags ?? []), ...mods];
    const sig = signature(this.src, sigStart, sigEnd);
    return this.sink.def({ name, kind, scope, nameAt, start: rangeStart, end: Math.min(end, this.src.length), signature: sig, doc, flags });
  }

  /**
   * Declaration `i` with a `name` field: its definition (the header ends at its `body` field), and, for a
   * `container`, the scope it opens over its range. Its qualified name, or null when it has no name.
   */
  protected scopedDef(i: number, start: number, scope: string | null, kind: SymbolKind, flags: string[] | null, container: K | null): string | null {
    const id = this.nameField(i);
    if (!id) return null;
    const end = this.a.end(i);
    const body = this.a.child(i, 'body');
    const q = this.annotatedDef(id.name, kind, scope, id.at, start, end, body >= 0 ? this.a.start(body) : end, flags);
    if (container !== null) this.scopes.push({ start, end, qualified: q, kind: container });
    return q;
  }

  /** The source text of node `h`. */
  protected text(h: number): string {
    return this.src.slice(this.a.start(h), this.a.end(h));
  }

  /** The text and start of node `i`'s `name` field, or null. */
  protected nameField(i: number): { name: string; at: number } | null {
    const n = this.a.child(i, 'name');
    if (n < 0) return null;
    const at = this.a.start(n);
    return { name: this.src.slice(at, this.a.end(n)), at };
  }

  /**
   * Where the arguments of call `i` (starting at `start`) open, read from the text when the callee is plain, else
   * from the `arguments` field; -1 if none. A listed node starting where the call starts is inside its callee (a
   * chain `a.b().c()`): the scan starts after it.
   */
  protected argumentsAt(i: number, start: number): number {
    const a = this.a;
    const open = argumentsOpen(this.src, i + 1 < a.count && a.start(i + 1) === start ? a.end(i + 1) : start);
    if (open >= 0) return open;
    const args = a.child(i, 'arguments');
    return args < 0 ? -1 : a.start(args);
  }

  /** A call ref at the called name; context = the callee text from `start` (capped) to the name's end. */
  protected callRef(name: string, at: number, start: number, scope: string | null): void {
    this.sink.ref('call', name, at, scope, this.src.slice(Math.max(start, at - CALLEE_MAX), at + name.length));
  }
}
