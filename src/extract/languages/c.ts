/**
 * C (tree-sitter-c 0.24), and the rules C++ shares with it (./cpp.ts extends `CFamilyFile`: the C++ grammar is a
 * superset of the C one, with the same node types for the C part).
 *
 * Every node of interest comes from ONE pre-order listing (`file.nodes`), as integer handles. Per node we read its
 * start; the end and field lookups only for definitions (and for a `struct` specifier, to tell `struct s {…}` from
 * a use `struct s *p`). Callees are read from the text. Scopes are a range stack; nothing recurses.
 *
 * Conventions (pinned by the golden fixtures under fixtures/extract/c/):
 * - functions: a definition is `function`; a prototype (`int f(void);`, in a header or not) is `function` flagged
 *   `declaration`, so a header's API is searchable and `--kind function` still finds both (the flag tells them
 *   apart); `static`, `inline`, `extern` are flags;
 * - `#define` (object-like and function-like) is `macro`, signature = its first line;
 * - `struct`/`union`/`enum` with a body are `struct` (a union flagged `union`) and `enum`; `typedef struct {…} Foo`
 *   is the struct `Foo` (one symbol); `typedef struct foo {…} Foo` is the struct `foo` and the type `Foo`; other
 *   typedefs are `type`;
 * - fields are `Struct.field` (the members of an anonymous struct or union belong to the enclosing one); enum
 *   constants are `enum_member` scoped to their enum (unscoped for an anonymous enum);
 * - file-level variables are `variable` (`extern` ones flagged `declaration`); locals are not symbols;
 * - a definition's range starts at the `/** *\/` or `//` comment block directly above it (no blank line between),
 *   which is its doc;
 * - call refs sit at the called name (`f` in `s->ops->f(x)`), context = the callee text; `#include <x.h>` and
 *   `#include "x.h"` are import refs named by the header, module = the header, context = the directive.
 *
 * Code written for a preprocessor (the grammar sees the macros unexpanded), as far as the tree allows:
 * - a loop macro `list_for_each_entry(p, h, m) {…}` in a body (read as a nested function) is a call ref;
 * - `void __init f(void) {…}` (read as a declaration `void __init` and a definition `f (void)`) is the function
 *   `f`; `SYSCALL_DEFINE2(name, …) {…}` and `BPF_CALL_0(name) {…}` are the function `name` flagged
 *   `macro SYSCALL_DEFINE2`; `class EXPORT_MACRO Name {` is the class `Name`;
 * - a definition at column 0 that the tree puts inside a function (error recovery after a brace-less loop macro
 *   can swallow the rest of the file) is a file-level function;
 * - `cGaps` names such idioms, so a file whose every error is one of them is `ok` with a `grammar-gap` note.
 */
import type { SymbolKind } from '../../protocol/types.js';
import {
  BraceFile,
  blockDoc,
  type GrammarGap,
  isBlank,
  isIdentChar,
  lineGap,
  lineDoc,
  signature,
  skipBlanks,
  type Frame,
  type LanguagePlugin,
  type LineIndex,
  type SourceFile,
} from '../toolkit/index.js';

export const C_TYPES = [
  'preproc_include',
  'preproc_def',
  'preproc_function_def',
  'function_definition',
  'declaration',
  'type_definition',
  'field_declaration',
  'struct_specifier',
  'union_specifier',
  'enum_specifier',
  'enumerator',
  'call_expression',
];

/** Declarator nodes that wrap the declared name. */
const WRAPPERS = new Set([
  'pointer_declarator',
  'array_declarator',
  'init_declarator',
  'parenthesized_declarator',
  'attributed_declarator',
  'reference_declarator',
  'function_declarator',
  'template_function',
]);
/** Nodes that are the declared name. */
const NAMES = new Set(['operator_cast', 'identifier', 'field_identifier', 'type_identifier', 'operator_name', 'destructor_name', 'qualified_identifier', 'primitive_type']);

/** A declared name, read from a declarator chain. */
export interface Declared {
  name: string;
  at: number;
  /** `A::b::f` -> `A::b` (C++ out-of-class definitions), else null. */
  qualifier: string | null;
  /** The declarator directly around the name is a function declarator (`f(…)`, `*f(…)`; not `(*fp)(…)`). */
  isFunction: boolean;
}

export type Kind = 'file' | 'namespace' | 'class' | 'enum' | 'function';

/** `name (` at the start of a loop macro read as a nested function definition. */
const LOOP_MACRO = /([A-Za-z_]\w*)\s*\(/y;

/** The file's own frame. */
const TOP: Frame<Kind> = { start: -1, end: Infinity, qualified: null, kind: 'file' };

/** `class EXPORT_MACRO Name [final] [: bases] {` */
const MACRO_CLASS = /(class|struct|union)\s+([A-Z_][A-Z0-9_]*)\s+([A-Za-z_]\w*)\s*(?:final\s*)?(?::[^;{}()]*)?\{/y;

/** `MACRO(name,` or `MACRO(name)`: a function defined by a macro. */
const MACRO_DEFINITION = /([A-Za-z_]\w*)\s*\(\s*([A-Za-z_]\w*)\s*[,)]/y;

/** C++ casts the grammar reads as calls of a template function. */
const CASTS = new Set(['static_cast', 'dynamic_cast', 'const_cast', 'reinterpret_cast']);

const SPECIFIERS_WITH_BODY = new Set(['struct_specifier', 'union_specifier', 'enum_specifier', 'class_specifier']);

// ---------------------------------------------------------------------------------------------------------------
// Text scanners


/** Index just past the '>' matching the '<' at `i` (template arguments), or -1. Gives up at ';', '{' or 1024 chars. */
function skipAngle(src: string, i: number): number {
  let depth = 0;
  const stop = Math.min(src.length, i + 1024);
  for (let j = i; j < stop; j++) {
    const c = src.charCodeAt(j);
    if (c === 60) depth++;
    else if (c === 62) {
      if (--depth === 0) return j + 1;
    } else if (c === 59 || c === 123 || c === 125) return -1;
  }
  return -1;
}

/**
 * The callee of a call starting at `from`, read from the text: names joined by `.`, `->`, `::`, with template
 * arguments when `templates` (C++). Returns the called name's span and where the arguments open, or null when the
 * callee is something else (`(*fp)(x)`, `table[i](x)`, a cast): the caller then asks the tree.
 */
function plainCallee(src: string, from: number, templates: boolean): { nameAt: number; nameEnd: number; open: number } | null {
  let p = from;
  let nameAt = -1;
  let nameEnd = -1;
  let prevName = false;
  const len = Math.min(src.length, from + 1024);
  while (p < len) {
    const c = src.charCodeAt(p);
    if (isBlank(c)) p++;
    else if (c === 40) return nameAt >= 0 && prevName ? { nameAt, nameEnd, open: p } : null;
    else if (isIdentChar(c) && !(c >= 48 && c <= 57)) {
      if (prevName) return null; // two names in a row: `obj.template f<T>(`, a cast, ...
      nameAt = p;
      while (p < len && isIdentChar(src.charCodeAt(p))) p++;
      nameEnd = p;
      prevName = true;
    } else if (c === 46 || (c === 45 && src.charCodeAt(p + 1) === 62) || (c === 58 && src.charCodeAt(p + 1) === 58)) {
      p += c === 46 ? 1 : 2;
      prevName = false;
    } else if (c === 60 && templates && prevName) {
      p = skipAngle(src, p);
      if (p < 0) return null;
    } else return null;
  }
  return null;
}

/** The last name in a callee text (`(*ops->fp)` -> `fp`, `f<int>` -> `f`), or -1. */
function trailingName(src: string, from: number, to: number): { at: number; end: number } | null {
  let e = to;
  for (;;) {
    while (e > from && isBlank(src.charCodeAt(e - 1))) e--;
    const c = src.charCodeAt(e - 1);
    if (e > from && c === 41) e--; // `(*fp)`
    else if (e > from && c === 62) {
      // template arguments: back to the matching '<'
      let depth = 0;
      let j = e - 1;
      for (; j >= from; j--) {
        const d = src.charCodeAt(j);
        if (d === 62) depth++;
        else if (d === 60 && --depth === 0) break;
      }
      if (j < from) return null;
      e = j;
    } else break;
  }
  let b = e;
  while (b > from && isIdentChar(src.charCodeAt(b - 1))) b--;
  if (b === e || (src.charCodeAt(b) >= 48 && src.charCodeAt(b) <= 57)) return null;
  return { at: b, end: e };
}

/** Index just past the '}' matching the '{' at `open` (strings, characters and comments skipped), or -1. */
function matchBrace(src: string, open: number): number {
  let depth = 0;
  const stop = Math.min(src.length, open + (1 << 20));
  for (let i = open; i < stop; i++) {
    const c = src.charCodeAt(i);
    if (c === 123) depth++;
    else if (c === 125) {
      if (--depth === 0) return i + 1;
    } else if (c === 34 || c === 39) {
      for (i++; i < stop && src.charCodeAt(i) !== c && src.charCodeAt(i) !== 10; i++) if (src.charCodeAt(i) === 92) i++;
    } else if (c === 47 && src.charCodeAt(i + 1) === 47) {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? stop : nl;
    } else if (c === 47 && src.charCodeAt(i + 1) === 42) {
      const e = src.indexOf('*/', i + 2);
      i = e < 0 ? stop : e + 1;
    }
  }
  return -1;
}

/**
 * The comment block directly above the line of `start` (no blank line between): a `/** *\/` or `/*! *\/` block, or
 * consecutive `//` lines. Its text and where it starts.
 */
export function docAbove(src: string, lines: LineIndex, start: number): { doc: string | null; start: number } {
  const none = { doc: null, start };
  const row = lines.row(start);
  if (row === 0) return none;
  const ls = lines.lineStart(row);
  for (let k = ls; k < start; k++) if (!isBlank(src.charCodeAt(k))) return none;
  let e = ls - 1; // the '\n' ending the previous line
  while (e > 0 && (src.charCodeAt(e - 1) === 32 || src.charCodeAt(e - 1) === 9 || src.charCodeAt(e - 1) === 13)) e--;
  if (src.charCodeAt(e - 1) === 47 && src.charCodeAt(e - 2) === 42) {
    // a block comment ends the previous line
    const open = src.lastIndexOf('/*', e - 2);
    if (open < 0 || src.charCodeAt(open + 2) !== 42 && src.charCodeAt(open + 2) !== 33) return none;
    if (src.charCodeAt(open + 2) === 42 && src.charCodeAt(open + 3) === 42 && src.charCodeAt(open + 4) !== 47) return none; // `/*** banner`
    const r = lines.row(open);
    for (let k = lines.lineStart(r); k < open; k++) if (!isBlank(src.charCodeAt(k))) return none; // code before it
    return { doc: blockDoc(src.slice(open, e)), start: open };
  }
  const block: string[] = [];
  let first = -1;
  for (let r = row - 1; r >= 0; r--) {
    const text = src.slice(lines.lineStart(r), lines.lineEnd(r, src.length)).trim();
    if (!text.startsWith('//')) break;
    block.push(text.replace(/^\/\/[/!]?<?/, '//'));
    first = lines.lineStart(r) + src.slice(lines.lineStart(r)).search(/\S/);
  }
  if (!block.length) return none;
  return { doc: lineDoc(block.reverse(), 2), start: first };
}

/** `#define NAME …` and `#include`: the directive's first line, without a trailing continuation backslash. */
function firstLine(src: string, start: number, end: number): string {
  let e = src.indexOf('\n', start);
  if (e < 0 || e > end) e = end;
  let line = src.slice(start, e).trimEnd();
  if (line.endsWith('\\')) line = line.slice(0, -1).trimEnd();
  return line;
}

/** Storage and inline specifiers in front of the declared name, as flags. */
const SPECIFIERS = /\b(static|extern|inline|virtual|constexpr|explicit)\b/g;
function specifierFlags(text: string): string[] {
  const flags: string[] = [];
  SPECIFIERS.lastIndex = 0;
  for (let m = SPECIFIERS.exec(text); m; m = SPECIFIERS.exec(text)) if (!flags.includes(m[1])) flags.push(m[1]);
  return flags;
}

// ---------------------------------------------------------------------------------------------------------------

export type Scope = Frame<Kind>;

/** The statement (`typedef`, declaration) a struct specifier may sit in: its doc and range start apply to both. */
interface Statement {
  start: number;
  end: number;
  typeStart: number;
  rangeStart: number;
  doc: string | null;
  /** `typedef struct {…} Foo`: the name the anonymous specifier takes. */
  typedefName: Declared | null;
}

/** One file: a visitor over the listed nodes. C++ adds its node types in a subclass. */
export class CFamilyFile extends BraceFile<Kind> {
  private statement: Statement | null = null;
  /** A declaration cut short by an attribute macro (`void __init` of `void __init f(void) {}`): where it started. */
  private fragment = { start: -1, end: -1 };
  /** With syntax errors, declarations can come apart (see `fragment`). */
  private readonly broken: boolean;
  /** C++ `template <…>` in front of the next definition: the range starts there. */
  protected templateStart = -1;
  protected templateEnd = -1;

  constructor(
    file: SourceFile,
    types: string[],
    protected readonly cpp: boolean,
  ) {
    super(file, types, 'file');
    this.broken = file.root.hasError;
  }

  protected visit(i: number, type: string, start: number, frame: Scope): void {
    switch (type) {
      case 'call_expression':
        if (!(frame.kind === 'file' && this.broken && this.macroDefinedFunction(i, start))) this.call(i, start, frame.qualified);
        break;
      case 'preproc_include':
        this.include(i, start, frame.qualified);
        break;
      case 'preproc_def':
      case 'preproc_function_def':
        this.macro(i, start);
        break;
      case 'function_definition':
        if (!(this.broken && this.macroClass(start, frame))) this.functionDefinition(i, start, frame);
        break;
      case 'declaration':
      case 'field_declaration':
        if (frame.kind !== 'function' && frame.kind !== 'enum' && !(this.broken && this.macroClass(start, frame))) this.declaration(i, start, frame, type === 'field_declaration');
        break;
      case 'type_definition':
        if (frame.kind !== 'function') this.typedef(i, start, frame);
        break;
      case 'struct_specifier':
      case 'union_specifier':
      case 'enum_specifier':
      case 'class_specifier':
        this.specifier(i, start, frame, type);
        break;
      case 'enumerator':
        this.enumerator(i, start, frame);
        break;
      default:
        this.other(i, start, frame, type);
    }
  }

  /** C++ node types (C has none beyond the above). */
  protected other(_i: number, _start: number, _frame: Scope, _type: string): void {}

  /** The name a declarator declares, walking down its wrappers. */
  protected declared(h: number): Declared | null {
    const a = this.a;
    let isFunction = false;
    const qualifiers: string[] = [];
    for (let guard = 0; h >= 0 && guard < 64; guard++) {
      const t = a.type(h);
      if (t === null) return null;
      if (t === 'qualified_identifier') {
        const scope = a.child(h, 'scope');
        if (scope >= 0) qualifiers.push(this.templateless(this.text(scope)));
        h = a.child(h, 'name');
        continue;
      }
      if (t === 'operator_cast') {
        // `operator bool()`: named by the type it converts to
        const at = a.start(h);
        const text = this.text(h);
        const paren = text.indexOf('(');
        return { name: (paren < 0 ? text : text.slice(0, paren)).replace(/\s+/g, ' ').trim(), at, qualifier: qualifiers.length ? qualifiers.join('::') : null, isFunction: true };
      }
      if (NAMES.has(t)) {
        const at = a.start(h);
        let name = this.text(h);
        if (t === 'operator_name' || t === 'destructor_name') name = name.replace(/\s+/g, '');
        const qualifier = qualifiers.length ? qualifiers.join('::') : null;
        return { name, at, qualifier, isFunction };
      }
      if (!WRAPPERS.has(t)) return null;
      isFunction = t === 'function_declarator';
      const inner = t === 'template_function' ? a.child(h, 'name') : a.child(h, 'declarator');
      if (inner >= 0) h = inner;
      else {
        // parenthesized and reference declarators hold their declarator without a field
        const kids = a.namedChildren(h);
        h = kids.find((k) => WRAPPERS.has(a.type(k) ?? '') || NAMES.has(a.type(k) ?? '')) ?? -1;
        if (t === 'parenthesized_declarator') isFunction = false;
      }
    }
    return null;
  }

  /** `Box<T>` -> `Box`, `a::B<int>::C` -> `a::B::C`. */
  protected templateless(text: string): string {
    return text.includes('<') ? text.replace(/<[^<>]*(?:<[^<>]*(?:<[^<>]*>[^<>]*)*>[^<>]*)*>/g, '').replace(/\s+/g, '') : text.replace(/\s+/g, '');
  }

  /** The type and declarators of a declaration, typedef or field declaration (its named children after the type). */
  protected declarators(h: number): { type: number; decls: Declared[] } {
    const a = this.a;
    const type = a.child(h, 'type');
    const typeStart = type >= 0 ? a.start(type) : -1;
    const decls: Declared[] = [];
    for (const k of a.namedChildren(h)) {
      const t = a.type(k);
      if (t === null || a.start(k) <= typeStart || !(WRAPPERS.has(t) || NAMES.has(t))) continue;
      const d = this.declared(k);
      if (d) decls.push(d);
    }
    return { type, decls };
  }

  /** Doc and range start of a definition at `start` (a `template <…>` in front of it included). */
  protected leading(start: number): { doc: string | null; start: number } {
    let from = start;
    if (this.templateStart >= 0 && this.templateStart < start && start < this.templateEnd) from = this.templateStart;
    this.templateStart = -1;
    return docAbove(this.src, this.lines, from);
  }

  protected def(name: string, kind: SymbolKind, scope: string | null, nameAt: number, start: number, end: number, sig: string, flags: string[] | null = null, lead = this.leading(start)): string {
    return this.sink.def({ name, kind, scope, nameAt, start: lead.start, end, signature: sig, doc: lead.doc, flags });
  }

  /** `A::f` written inside namespace `ns`: the scope `ns::A`. */
  protected qualifiedScope(frame: Scope, qualifier: string | null): string | null {
    if (qualifier === null) return frame.qualified;
    return this.sink.qualify(frame.qualified, qualifier);
  }

  private call(i: number, start: number, scope: string | null): void {
    const { a, src } = this;
    // a call in the callee (`f(x)(y)`, `a.b().c()`) starts where this one does: read on after it
    let from = start;
    if (i + 1 < a.count && a.start(i + 1) === start && a.type(i + 1) === 'call_expression') from = a.end(i + 1);
    let c = plainCallee(src, from, this.cpp);
    if (!c) {
      const args = a.child(i, 'arguments');
      if (args < 0) return;
      const open = a.start(args);
      const n = trailingName(src, from, open);
      if (!n) return;
      c = { nameAt: n.at, nameEnd: n.end, open };
    }
    const name = src.slice(c.nameAt, c.nameEnd);
    if (this.cpp && CASTS.has(name)) return;
    let end = c.open;
    while (end > start && isBlank(src.charCodeAt(end - 1))) end--;
    this.sink.ref('call', name, c.nameAt, scope, src.slice(start, Math.min(end, start + 480)));
  }

  /**
   * `class EXPORT_MACRO Name : Base {…}`: the grammar takes the macro for the name and comes apart. Read from the
   * text: a class (or struct, union) `Name`, its members scoped to it.
   */
  private macroClass(start: number, frame: Scope): boolean {
    const src = this.src;
    const c = src.charCodeAt(start);
    if (c !== 99 && c !== 115 && c !== 117) return false; // class, struct, union
    MACRO_CLASS.lastIndex = start;
    const m = MACRO_CLASS.exec(src);
    if (!m) return false;
    const open = MACRO_CLASS.lastIndex - 1;
    const close = matchBrace(src, open);
    if (close < 0) return false;
    const kind: SymbolKind = m[1] === 'class' ? 'class' : 'struct';
    const nameAt = start + m[0].indexOf(m[3], m[1].length + m[2].length + 1);
    const q = this.def(m[3], kind, frame.qualified, nameAt, start, close, signature(src, start, open), m[1] === 'union' ? ['union'] : null);
    this.scopes.push({ start, end: close, qualified: q, kind: 'class' });
    return true;
  }

  /**
   * `SYSCALL_DEFINE1(name, int, x) { … }` at file level: the grammar reads a call and a block. It is a function
   * defined by a macro: named by the macro's first argument, flagged `macro SYSCALL_DEFINE1`.
   */
  private macroDefinedFunction(i: number, start: number): boolean {
    const { a, src } = this;
    const end = a.end(i);
    let p = end;
    p = skipBlanks(src, p);
    if (src.charCodeAt(p) !== 123) return false;
    MACRO_DEFINITION.lastIndex = start;
    const m = MACRO_DEFINITION.exec(src);
    const body = a.node(i).parent?.nextNamedSibling;
    if (!m || !body || body.type !== 'compound_statement' || body.startIndex !== p) return false;
    const nameAt = start + m[0].indexOf(m[2], m[1].length);
    const q = this.def(m[2], 'function', null, nameAt, start, body.endIndex, signature(src, start, end), ['macro ' + m[1]]);
    this.scopes.push({ start, end: body.endIndex, qualified: q, kind: 'function' });
    return true;
  }

  private include(i: number, start: number, scope: string | null): void {
    const path = this.a.child(i, 'path');
    if (path < 0) return;
    const ps = this.a.start(path);
    const text = this.text(path);
    const q = text.charCodeAt(0);
    if (q !== 60 && q !== 34) return; // `#include MACRO`
    const header = text.slice(1, -1);
    this.sink.ref('import', header, ps + 1, scope, firstLine(this.src, start, this.a.end(i)), header);
  }

  private macro(i: number, start: number): void {
    const name = this.a.child(i, 'name');
    if (name < 0) return;
    let end = this.a.end(i);
    if (this.src.charCodeAt(end - 1) === 10) end--; // the directive's newline
    this.def(this.text(name), 'macro', null, this.a.start(name), start, end, firstLine(this.src, start, end));
  }

  /** A function's kind and flags in `frame` (C++ refines: methods, constructors). */
  protected functionKind(_d: Declared, _frame: Scope): SymbolKind {
    return 'function';
  }

  private functionDefinition(i: number, start: number, frame: Scope): void {
    const a = this.a;
    const end = a.end(i);
    let d = this.declared(a.child(i, 'declarator'));
    let from = start;
    if (this.broken && d && !d.isFunction && this.fragment.end >= 0 && /^\s*$/.test(this.src.slice(this.fragment.end, start))) {
      // `void __init f(void) {}` reads as the declaration `void __init` and a definition `f (void) {}` whose
      // type is the name
      const type = a.child(i, 'type');
      if (type >= 0 && a.type(type) === 'type_identifier') d = { name: this.text(type), at: a.start(type), qualifier: null, isFunction: true };
      from = this.fragment.start;
    }
    if (this.broken && d && !d.isFunction && /^[A-Z_][A-Z0-9_]*$/.test(d.name)) {
      // `int f() const NOEXCEPT_MACRO {…}`: the grammar takes the macro for the name and puts `f()` in an error
      const err = a.namedChildren(i).find((k) => a.type(k) === 'ERROR');
      const fn = err === undefined ? undefined : a.namedChildren(err).find((k) => a.type(k) === 'function_declarator');
      const inner = fn === undefined ? null : this.declared(fn);
      if (inner) d = inner;
    }
    if (this.broken && frame.kind === 'function' && d && d.isFunction && (start === 0 || this.src.charCodeAt(start - 1) === 10)) {
      // A definition at column 0 inside a function: error recovery ran the previous function on (a loop macro
      // without braces, `for_each_x(p)\n\tstmt;`, can swallow the rest of the file). It is a file-level function.
      frame = TOP;
    }
    if (!d || frame.kind === 'function') {
      // In a function body this is a loop macro (`list_for_each(p, head) {…}`, which the grammar reads as a nested
      // function): a call. Either way the calls inside belong to the enclosing definition.
      if (frame.kind === 'function') {
        LOOP_MACRO.lastIndex = start;
        const m = LOOP_MACRO.exec(this.src);
        if (m) this.sink.ref('call', m[1], start, frame.qualified, m[1]);
      }
      this.scopes.push({ start, end, qualified: frame.qualified, kind: 'function' });
      return;
    }
    const body = a.child(i, 'body');
    const sigEnd = body >= 0 ? a.start(body) : end;
    const scope = this.qualifiedScope(frame, d.qualifier);
    const flags = specifierFlags(this.src.slice(from, Math.min(d.at, from + 480)));
    if (!d.isFunction && from === start) {
      // `BPF_CALL_0(name) { … }`: a function defined by a macro, named by its argument
      const type = a.child(i, 'type');
      if (type >= 0 && a.type(type) === 'type_identifier') flags.push('macro ' + this.text(type));
    }
    const q = this.def(d.name, this.functionKind(d, frame), scope, d.at, from, end, signature(this.src, from, sigEnd), flags);
    this.scopes.push({ start, end, qualified: q, kind: 'function' });
  }

  /** File-level (or namespace, or class member) declarations: prototypes, variables, fields. */
  private declaration(i: number, start: number, frame: Scope, field: boolean): void {
    const end = this.a.end(i);
    if (this.broken && this.src.charCodeAt(end - 1) !== 59) {
      // no `;`: the head of a definition the grammar split at an attribute macro
      this.fragment = { start, end };
      return;
    }
    const { type, decls } = this.declarators(i);
    const lead = this.leading(start);
    this.remember(type, start, end, null, lead);
    if (!decls.length) return;
    const sig = this.statementSignature(start, end, type);
    const flags = specifierFlags(this.src.slice(start, decls[0].at));
    for (const d of decls) {
      let kind: SymbolKind;
      const f = [...flags];
      if (d.isFunction) {
        kind = this.functionKind(d, frame);
        f.push('declaration');
      } else if (frame.kind === 'class' || field) kind = 'field';
      else {
        kind = 'variable';
        if (flags.includes('extern')) f.push('declaration');
      }
      this.def(d.name, kind, this.qualifiedScope(frame, d.qualifier), d.at, start, end, sig, f, lead);
    }
  }

  private typedef(i: number, start: number, frame: Scope): void {
    const a = this.a;
    const end = a.end(i);
    const { type, decls } = this.declarators(i);
    const lead = this.leading(start);
    // `typedef struct {…} Foo`: the specifier (next in the walk) takes the first name
    const t = type >= 0 ? a.type(type) : null;
    const anonymous = decls.length > 0 && t !== null && SPECIFIERS_WITH_BODY.has(t) && a.child(type, 'name') < 0 && a.child(type, 'body') >= 0;
    this.remember(type, start, end, anonymous ? decls[0] : null, lead);
    const sig = this.statementSignature(start, end, type);
    for (const d of anonymous ? decls.slice(1) : decls) this.def(d.name, 'type', frame.qualified, d.at, start, end, sig, null, lead);
  }

  /** A declaration's text as its signature, a struct body in it shown as `{…}`. */
  private statementSignature(start: number, end: number, type: number): string {
    const src = this.src;
    const typeEnd = type >= 0 ? this.a.end(type) : -1;
    if (typeEnd < 0 || src.charCodeAt(typeEnd - 1) !== 125) return signature(src, start, end);
    const open = src.indexOf('{', this.a.start(type));
    return signature(src.slice(start, open) + '{…}' + src.slice(typeEnd, end), 0, open - start + 3 + end - typeEnd);
  }

  /** The statement a struct specifier may be the type of (next in the walk): it shares the statement's doc. */
  private remember(type: number, start: number, end: number, typedefName: Declared | null, lead: { doc: string | null; start: number }): void {
    this.statement = { start, end, typeStart: type >= 0 ? this.a.start(type) : -1, rangeStart: lead.start, doc: lead.doc, typedefName };
  }

  /** `struct s {…}`, `union u {…}`, `enum e {…}`, C++ `class c {…}`; a use (`struct s *p`) defines nothing. */
  private specifier(i: number, start: number, frame: Scope, type: string): void {
    const { a, src } = this;
    const end = a.end(i);
    if (src.charCodeAt(end - 1) !== 125) return; // no body
    const body = a.child(i, 'body');
    if (body < 0) return;
    const st = this.statement;
    const inStatement = st !== null && st.typeStart === start && start < st.end;
    const nameNode = a.child(i, 'name');
    let name: string;
    let nameAt: number;
    let qualifier: string | null = null;
    if (nameNode >= 0) {
      const d = this.declared(nameNode) ?? { name: this.templateless(this.text(nameNode)), at: a.start(nameNode), qualifier: null, isFunction: false };
      ({ name, at: nameAt, qualifier } = d);
    } else if (inStatement && st.typedefName) {
      name = st.typedefName.name;
      nameAt = st.typedefName.at;
    } else {
      // anonymous: the members belong to the enclosing container
      this.scopes.push({ start, end, qualified: frame.qualified, kind: type === 'enum_specifier' ? 'enum' : 'class' });
      return;
    }
    const kind: SymbolKind = type === 'enum_specifier' ? 'enum' : type === 'class_specifier' ? 'class' : 'struct';
    const flags: string[] = type === 'union_specifier' ? ['union'] : [];
    const lead = inStatement ? { doc: st.doc, start: st.rangeStart } : this.leading(start);
    if (!inStatement) this.templateStart = -1;
    const headerStart = inStatement ? st.start : start;
    let sig = signature(src, headerStart, a.start(body));
    if (nameNode < 0) sig += ` {…} ${name}`;
    const q = this.def(name, kind, this.qualifiedScope(frame, qualifier), nameAt, start, end, sig, flags, lead);
    this.scopes.push({ start, end, qualified: q, kind: kind === 'enum' ? 'enum' : 'class' });
  }

  private enumerator(i: number, start: number, frame: Scope): void {
    if (frame.kind !== 'enum') return;
    const name = this.a.child(i, 'name');
    if (name < 0) return;
    const end = this.a.end(i);
    this.def(this.text(name), 'enum_member', frame.qualified, this.a.start(name), start, end, signature(this.src, start, end));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What a C grammar cannot read without running the preprocessor

/** A C gap: judged by the error's line and the next (and, `wide`, the three before). */
export const gap = (name: string, re: RegExp): GrammarGap => lineGap(name, re, 2);

/**
 * Valid C (it compiles) that the grammar cannot parse because a macro stands where C syntax is expected. A file
 * whose every error is one of these is indexed `ok` with the gap noted; what parsed around them is indexed.
 */
export const cGaps: readonly GrammarGap[] = [
  gap('attribute macros among the specifiers (`int __init f(void)`, `char __user *p`, `x __read_mostly`)', /\b(?:__(?!(?:func|FUNCTION|LINE|FILE|VA_ARGS|DATE|TIME)__)\w+|notrace|noinline\w*|noinstr|asmlinkage|nokprobe_inline|const_debug|fastcall|WINAPI|CALLBACK|APIENTRY)\b/),
  gap('loop macros (`list_for_each_entry(p, head, member) {`, `scoped_guard(mutex, &m) {`)', /\b\w*for_each\w*\s*\(|^[ \t]*(?!(?:if|while|for|switch|return|sizeof)\b)[A-Za-z_]\w*\s*\(.*\)[ \t]*\{[ \t]*$/m),
  gap('macro calls with a type argument (`container_of(p, struct s, m)`, `min_t(unsigned long, a, b)`)', /\b[A-Za-z_]\w*\s*\((?:[^()]*[(,]\s*)?(?:(?:struct|union|enum)\s+\w+|typeof\s*\([^()]*\)|(?:const\s+)?(?:unsigned|signed|long|short|char|int|bool|float|double)(?:\s+(?:unsigned|signed|long|short|char|int))*)\s*\**\s*[,)]/),
  gap('declarations made by macros (`DEFINE_MUTEX(m)`, `static DECLARE_BITMAP(b, 8)`, `TP_PROTO(...)`)', /^[ \t]*(?:static\s+|extern\s+|const\s+)*[A-Z][A-Z0-9_]*\s*\(/m),
  gap('GNU named variadic macro parameters (`#define f(args...)`)', /#\s*define\s+\w+\([^)]*\w\.\.\.\)/),
  gap('GNU case ranges (`case 1 ... 9:`)', /\bcase\b[^:\n]*\.\.\./),
  gap('preprocessor conditionals that split a statement or a declaration', /^[ \t]*#\s*(?:if|ifdef|ifndef|else|elif|endif)\b/m),
];

export const c: LanguagePlugin = {
  sep: '.',
  extract: (file) => new CFamilyFile(file, C_TYPES, false).run(),
};
