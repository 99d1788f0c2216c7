/**
 * JavaScript, TypeScript and TSX. The TypeScript grammars extend the JavaScript one, so the node types overlap; a
 * type a grammar lacks simply never occurs (and costs nothing).
 *
 * Where the nodes come from (this is the indexer's hot loop, and every read of a node is a call into native code):
 * - ONE pre-order listing (`file.nodes`) of the few node types that can sit at any depth: calls, `new`, variable
 *   declarators, function and class declarations, function and class expressions (named ones define their name),
 *   TypeScript type declarations, and assignments when the text has one that can define something. Every listed
 *   node costs a transfer from native code, so the list is kept short: arrows are not listed (a module-level
 *   callback is found from its call).
 * - Module-level statements (imports, exports, namespaces, `declare`, overload signatures) come from the child list
 *   of the program and of each namespace body; members come from their class, interface, object or enum body.
 * - Scope is a stack of container ranges in document order (no parent walks); containers found ahead of the walk
 *   (members, namespaces) wait in the stack's queue until the walk reaches them.
 * - Names, callees, JSDoc and headers are read from the text where its shape is plain, with field lookups only for
 *   what the text cannot settle. Offsets are UTF-16 (JS string) indexes, as the binding reports them. Nothing
 *   recurses: 10,000 nesting levels cost no JS stack.
 *
 * Conventions (pinned by test/extract/javascript.test.ts and the golden fixtures):
 * - scope separator '.'; class members `Class.member`; object-literal members `obj.key`, nested objects
 *   `obj.key.inner`; `Foo.prototype.bar = …` is method `Foo.bar`; `a.b = function…` is method `a.b`;
 *   `this.x = function…` in a method or constructor function is method `Class.x`;
 *   `exports.foo = …` / `module.exports.foo = …` is `foo` flagged `export`; `module.exports = function () {}` and
 *   `export default function () {}` are named `default`; `module.exports = { a() {} }` gives exported functions `a`;
 *   `Object.defineProperty(obj, 'name', …)` defines `obj.name`.
 * - a definition's name position is its identifier; its range starts at its JSDoc, decorators or `export`.
 * - class fields are `field` even when their value is an arrow function (calls inside are scoped to the field).
 * - locals (non-function variables inside functions, blocks and callbacks) are not symbols; functions bound to
 *   locals are, scoped to the enclosing definition. A function passed as an argument at module level is a scope
 *   named after its call: `describe('suite', () => { function f() {} })` gives `describe('suite').f`. Inside a named
 *   definition, anonymous functions belong to it. A local object literal holding functions is a symbol too, with its
 *   members; a named function or class expression (`return function connect() {}`) defines its own name.
 * - call refs sit at the called name (`find` in `this.repo.find(`); `new Foo()` at `Foo`.
 * - imports: `import a, { b as c } from './m'` gives import refs `a` and `b` (the imported name; context `b as c`)
 *   with module './m'; `import * as ns` and `export * from` are named `*`; `require('fs')` and `import('fs')` with a
 *   literal are imports named by the module, `const { a, b: c } = require('m')` gives `a` and `b`; a computed
 *   `require(x)` is a call.
 * - the JSDoc of a definition is the nearest `/** … *\/` above it, across blank lines and `//` lines.
 */
import type { SymbolKind } from '../../protocol/types.js';
import {
  blockDoc,
  collapse,
  CONTEXT_MAX,
  MAX_DEPTH,
  ScopeStack,
  TooDeepError,
  signature,
  SIGNATURE_MAX,
  type Access,
  type Frame,
  type GrammarGap,
  type LanguagePlugin,
  type Sink,
  type SourceFile,
  type SyntaxNode,
} from '../toolkit/index.js';

/** Node types that can occur at any depth. (TypeScript-only names cost nothing in the JavaScript grammar.) */
const DEEP_TYPES = [
  'call_expression',
  'variable_declarator',
  'new_expression',
  'function_declaration',
  'generator_function_declaration',
  'class_declaration',
  'abstract_class_declaration',
  'interface_declaration',
  'type_alias_declaration',
  'enum_declaration',
  'function_expression', // (named ones define their name)
  'generator_function',
  'class',
];
/** Assignments matter only where one can define something; listed when the text has such an assignment. */
const DEEP_TYPES_ASSIGN = [...DEEP_TYPES, 'assignment_expression'];
const ASSIGN_HINT = /\bexports\b|\bprototype\b|\.\s*[\w$]+\s*=\s*(?:async\b|function\b|class\b|\(|\{|[\w$]+\s*=>)|^\s*[\w$]+\s*=\s*(?:async\b|function\b|class\b)/m;

const FUNCTION_VALUES = new Set(['arrow_function', 'function_expression', 'generator_function']);

/**
 * What a container is, which decides what a declarator inside it means:
 * - `ns`: module level (the file, a namespace, `declare module`/`global`);
 * - `fn`: a function, method, or a callback named after its call: only functions bound to its locals are symbols;
 * - `class`: a class body; `member`: a field initializer, static block or enum (code, but not a function).
 */
type FrameKind = 'ns' | 'fn' | 'class' | 'member';

interface JsFrame extends Frame<FrameKind> {
  /** What `this.x = …` inside defines members of: a method's class, a constructor function itself. */
  owner: string | null;
  /** Start of the function or class expression this frame was opened for by what binds it (a declarator, ...). */
  value?: number;
}

interface ExportInfo {
  h: number;
  isDefault: boolean;
}

interface AmbientInfo {
  h: number;
  exported: ExportInfo | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Text helpers (plain loops and sticky regexes: they never look past the construct at hand)

const ID_START = String.raw`[\p{ID_Start}$_\\]`;
const ID_CONT = String.raw`[\p{ID_Continue}$\u200c\u200d\\]`;
const IDENT = new RegExp(`#?${ID_START}${ID_CONT}*`, 'uy');
/** The Unicode-aware callee chain, for callees the ASCII scanner gives up on. */
const CHAIN = new RegExp(String.raw`(?:#?${ID_START}${ID_CONT}*|\?\.|\.|!|\s+)*`, 'uy');
const LAST_NAME = new RegExp(`#?${ID_START}${ID_CONT}*$`, 'u');
const WORD_GAP = new RegExp(String.raw`${ID_CONT}\s+#?${ID_START}`, 'u');
/** A string literal as the first argument: `('x'`, `("x"`, `` (`x` `` (no substitutions). */
const STRING_ARG = /\(\s*('[^'\\\n]*'|"[^"\\\n]*"|`[^`\\$]*`)\s*[,)]/y;
const FUNCTION_HEAD = new RegExp(String.raw`(async\s+)?function\s*(\*)?\s*(${ID_START}${ID_CONT}*)`, 'uy');
const DECLARE = /declare\s+/y;
const GLOBAL_BLOCK = /global\s*\{/y;
const EXPORT_DEFAULT = /\bexport\s+default\b/;
const KEYWORD = /(const|let|var|using|await\s+using)\b/y;
const NAMESPACE_HEAD = /(?:namespace|module)\s+[^\s.=(]/y;
/** The text after a callee that may pass a function (looked at over CALLBACK_WINDOW characters). */
const CALLBACK_HINT = /=>|\bfunction\b/;
const CALLBACK_WINDOW = 400;
/** An object literal's text that may hold a function: `function`, an arrow, a class, or a method `name(…) {`. */
const MAY_HOLD_FUNCTIONS = /\bfunction\b|=>|\bclass\b|\)\s*\{/;
/** TypeScript's compiled re-export: `Object.defineProperty(exports, "x", { enumerable: true, get: function () { return m.x; } })`. */
const REEXPORT_GETTER = /get\s*:\s*function\s*\(\s*\)\s*\{\s*return\s+[\w$]+(?:\.[\w$]+|\[[^\]]+\])\s*;?\s*\}\s*\}\s*\)\s*$/;

/** Words that may stand before a definition's name. */
const MODIFIERS = new Set([
  'static',
  'async',
  'get',
  'set',
  'abstract',
  'private',
  'protected',
  'public',
  'override',
  'readonly',
  'declare',
  'accessor',
  'export',
  'default',
  'class',
  'function',
  'interface',
  'type',
  'enum',
  'namespace',
  'module',
  'const',
]);

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13 || c === 11 || c === 12 || c === 0xa0 || c === 0xfeff;
}

/** ASCII identifier characters, plus anything non-ASCII (only used to find word edges). */
function isIdentChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 36 || c === 95 || c > 127;
}

function startsWithWord(src: string, at: number, word: string): boolean {
  return src.startsWith(word, at) && !isIdentChar(src.charCodeAt(at + word.length));
}

function skipSpace(src: string, p: number): number {
  while (isSpace(src.charCodeAt(p))) p++;
  return p;
}

/**
 * End of the identifier (or `#private` name) at `pos`, or -1. Plain ASCII is scanned by hand; anything else
 * (Unicode letters, `\\u` escapes) goes through the Unicode-aware regex.
 */
function identEnd(src: string, pos: number): number {
  let p = pos;
  let c = src.charCodeAt(p);
  if (c === 35 /* # */) c = src.charCodeAt(++p);
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36) {
    for (;;) {
      c = src.charCodeAt(++p);
      if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36) continue;
      if (c > 127 || c === 92) break; // not plain ASCII after all
      return p;
    }
  } else if (c <= 127 && c !== 92) {
    return -1;
  }
  IDENT.lastIndex = pos;
  return IDENT.exec(src) ? IDENT.lastIndex : -1;
}

function unquote(text: string): string {
  const c = text.charCodeAt(0);
  return (c === 34 || c === 39 || c === 96) && text.length >= 2 ? text.slice(1, -1) : text;
}

/** Where the first line of `[start, end)` ends (a multi-line initializer stays out of a signature). */
function firstLineEnd(src: string, start: number, end: number): number {
  const nl = src.indexOf('\n', start);
  return nl >= 0 && nl < end ? nl : end;
}

/**
 * Modifier words directly before `nameStart` (`static async *`, `private readonly`, `abstract class`), scanning
 * backwards. Returns where that run starts, so decorators in front of it stay out of the signature.
 */
function modifiersBefore(src: string, nodeStart: number, nameStart: number, out: Set<string>): number {
  let i = nameStart;
  let runStart = nameStart;
  while (i > nodeStart) {
    let j = i;
    while (j > nodeStart && isSpace(src.charCodeAt(j - 1))) j--;
    if (j <= nodeStart) break;
    if (src.charCodeAt(j - 1) === 42 /* * */) {
      out.add('*');
      runStart = i = j - 1;
      continue;
    }
    let k = j;
    while (k > nodeStart && isIdentChar(src.charCodeAt(k - 1))) k--;
    if (k === j) break;
    const word = src.slice(k, j);
    if (!MODIFIERS.has(word)) break;
    if (k > nodeStart) {
      const before = src.charCodeAt(k - 1);
      if (!isSpace(before) && before !== 41 /* ) */) break; // `@x.get foo`: part of a decorator
    }
    out.add(word);
    runStart = i = k;
  }
  return runStart;
}

/** Start of the `const`/`let`/`var`/`using` keyword directly before `start` (a first declarator), or -1. */
function keywordBefore(src: string, start: number): number {
  let i = start;
  while (i > 0 && isSpace(src.charCodeAt(i - 1))) i--;
  let k = i;
  while (k > 0 && isIdentChar(src.charCodeAt(k - 1))) k--;
  if (k === i) return -1;
  if (k > 0) {
    const b = src.charCodeAt(k - 1);
    if (b === 46 /* . */ || b === 35 /* # */ || b === 92 /* \ */) return -1;
  }
  const word = src.slice(k, i);
  if (word === 'const' || word === 'let' || word === 'var') return k;
  if (word !== 'using') return -1;
  let j = k;
  while (j > 0 && isSpace(src.charCodeAt(j - 1))) j--;
  return j >= 5 && src.startsWith('await', j - 5) && !isIdentChar(src.charCodeAt(j - 6)) ? j - 5 : k;
}

/** How far back a line is scanned for its start; a longer line (minified code) counts as code. */
const LINE_SCAN_MAX = 4096;

/** Start of the line that ends at `end`, or -1 when it is longer than LINE_SCAN_MAX. */
function lineStartBefore(src: string, end: number): number {
  const floor = Math.max(0, end - LINE_SCAN_MAX);
  const nl = src.lastIndexOf('\n', end - 1);
  if (nl >= floor - 1) return nl + 1;
  return floor === 0 ? 0 : -1;
}

/**
 * The JSDoc of a definition whose text starts at `start`: the nearest `/** … *\/` above it, across blank lines, `//`
 * lines and other block comments, as TypeScript attaches it; null at the first code. Returns its text and start.
 * A block comment's opener is read from the text when that is unambiguous: it is the first comment opener since
 * the previous `*\/` and no `//` precedes it on its line. Otherwise `commentStart(end)` asks the tree where the
 * comment ending there starts (-1: not a comment). Every scan is bounded, so minified code stays linear.
 */
function jsDocBefore(src: string, start: number, commentStart: (end: number) => number): { doc: string | null; start: number } | null {
  let i = start;
  for (;;) {
    let newline = false;
    for (let c = src.charCodeAt(i - 1); i > 0 && isSpace(c); c = src.charCodeAt(--i - 1)) if (c === 10) newline = true;
    if (i < 2) return null;
    if (src.charCodeAt(i - 1) === 47 && src.charCodeAt(i - 2) === 42) {
      // a block comment ends here: where does it open?
      let open = src.lastIndexOf('/*', i - 3);
      if (open >= 0 && src.indexOf('*/', open + 2) !== i - 2) open = -1;
      const prevClose = open >= 0 ? src.lastIndexOf('*/', open - 1) : -1;
      const openLine = open >= 0 ? lineStartBefore(src, open) : -1;
      if (open < 0 || openLine < 0 || src.indexOf('/*', prevClose < 0 ? 0 : prevClose + 2) !== open || src.slice(openLine, open).includes('//')) {
        open = commentStart(i); // ambiguous text: an opener inside the comment, a string or a `//` comment
        if (open < 0) return null;
      }
      if (src.startsWith('/**', open) && i - open > 4) return { doc: blockDoc(src.slice(open, i)), start: open };
      i = open; // a plain block comment: look further up
      continue;
    }
    if (!newline) return null; // code on the definition's own line
    // the line that ends here: a `//` comment line is passed over, anything else is code
    const lineStart = lineStartBefore(src, i);
    if (lineStart < 0) return null;
    let k = lineStart;
    while (k < i && isSpace(src.charCodeAt(k))) k++;
    if (src.charCodeAt(k) !== 47 || src.charCodeAt(k + 1) !== 47) return null;
    i = lineStart;
  }
}

/** Flags of a class/interface member from its modifier words. */
function memberFlags(mods: Set<string>, decorated: boolean): string[] {
  const flags: string[] = [];
  if (mods.has('declare')) flags.push('declare');
  if (mods.has('abstract')) flags.push('abstract');
  if (mods.has('static')) flags.push('static');
  if (mods.has('private')) flags.push('private');
  if (mods.has('protected')) flags.push('protected');
  if (mods.has('public')) flags.push('public');
  if (mods.has('override')) flags.push('override');
  if (mods.has('readonly')) flags.push('readonly');
  if (mods.has('accessor')) flags.push('accessor');
  if (mods.has('async')) flags.push('async');
  if (mods.has('*')) flags.push('generator');
  if (decorated) flags.push('decorated');
  return flags;
}

/** What `scanCallee` found: the callee text's end, and its last name. */
interface Callee {
  end: number;
  nameStart: number;
  nameEnd: number;
}

const TAIL = /^!*(?:\?\.)?$/;

/**
 * Reads a plain callee at `pos`: identifiers joined by `.`/`?.`/`!`, blanks allowed around them (`this.repo.find`,
 * `a?.b`, `x!.y`). True when it ends in an identifier followed by `(`, `` ` `` or `<`, with `out` set (the callee
 * ends at its last identifier: trailing `?.`/`!`/blanks are dropped). False (use the tree) for anything else,
 * including non-ASCII names, which `scanCalleeUnicode` reads.
 */
function scanCallee(src: string, pos: number, out: Callee): boolean {
  const n = src.length;
  let p = pos;
  let lastIdEnd = -1;
  let lastIdStart = -1;
  let tokenEnd = -1; // end of the last identifier or `.`/`?.`/`!` token
  let lastWasIdent = false;
  while (p < n) {
    const c = src.charCodeAt(p);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36 || c === 35) {
      if (lastWasIdent) return false; // `a b(`: not one callee
      const s = p++;
      for (;;) {
        const d = src.charCodeAt(p);
        if ((d >= 97 && d <= 122) || (d >= 65 && d <= 90) || (d >= 48 && d <= 57) || d === 95 || d === 36) p++;
        else break;
      }
      const d = src.charCodeAt(p);
      if (d > 127 || d === 92) return false;
      lastIdStart = s;
      lastIdEnd = tokenEnd = p;
      lastWasIdent = true;
    } else if (c === 46 /* . */) {
      lastWasIdent = false;
      tokenEnd = ++p;
    } else if (c === 63 /* ? */ && src.charCodeAt(p + 1) === 46) {
      const d = src.charCodeAt(p + 2);
      if (d >= 48 && d <= 57) return false; // `a ?.5 : b`
      lastWasIdent = false;
      tokenEnd = p += 2;
    } else if (c === 33 /* ! */ && src.charCodeAt(p + 1) !== 61 /* = */) {
      tokenEnd = ++p;
    } else if (isSpace(c)) {
      p++;
    } else if (c === 40 /* ( */ || c === 96 /* ` */ || c === 60 /* < */) {
      break;
    } else {
      return false;
    }
  }
  if (p >= n || lastIdEnd < 0) return false;
  // the callee must end with its last identifier, give or take a trailing `!` or `?.` (an optional call)
  if (tokenEnd > lastIdEnd && !TAIL.test(src.slice(lastIdEnd, tokenEnd).replace(/\s+/g, ''))) return false;
  out.end = lastIdEnd;
  out.nameStart = lastIdStart;
  out.nameEnd = lastIdEnd;
  return true;
}

/** The Unicode-aware version of `scanCallee` (regexes; only for what the ASCII scanner refused). */
function scanCalleeUnicode(src: string, pos: number, out: Callee): boolean {
  CHAIN.lastIndex = pos;
  CHAIN.exec(src);
  const end = CHAIN.lastIndex;
  const c = src.charCodeAt(end);
  if (end <= pos || (c !== 40 && c !== 96 && c !== 60)) return false;
  let text = src.slice(pos, end).trimEnd();
  if (text.endsWith('?.')) text = text.slice(0, -2).trimEnd();
  while (text.endsWith('!')) text = text.slice(0, -1);
  if (!text.length || text.endsWith('.') || WORD_GAP.test(text)) return false;
  const m = LAST_NAME.exec(text);
  if (!m) return false;
  out.end = pos + text.length;
  out.nameEnd = out.end;
  out.nameStart = out.end - m[0].length;
  return true;
}

/**
 * The left side of an assignment at `pos` when it is a member chain of plain names (`a.b.c`, `this.x`,
 * `Foo.prototype.bar`) followed by `=`: the names with their offsets, and where the value starts. Null otherwise
 * (`x = …`, `a[k] = …`, `a.b += …`, destructuring).
 */
function memberTarget(src: string, pos: number): { names: string[]; at: number[]; value: number } | null {
  const names: string[] = [];
  const at: number[] = [];
  let p = pos;
  for (;;) {
    const e = identEnd(src, p);
    if (e < 0) return null;
    names.push(src.slice(p, e));
    at.push(p);
    p = skipSpace(src, e);
    if (src.charCodeAt(p) !== 46 /* . */) break;
    p = skipSpace(src, p + 1);
  }
  if (names.length < 2 || src.charCodeAt(p) !== 61 /* = */) return null;
  const next = src.charCodeAt(p + 1);
  if (next === 61 || next === 62) return null; // `==`, `=>`
  return { names, at, value: skipSpace(src, p + 1) };
}

/** Whether the value starting at `v` can be a function or class (only those are looked up in the tree). */
function mayBeFunctionOrClass(src: string, v: number): boolean {
  const c = src.charCodeAt(v);
  if (c === 40 /* ( */ || c === 60 /* < */) return true;
  if (c === 102 /* f */) return startsWithWord(src, v, 'function');
  if (c === 97 /* a */ && startsWithWord(src, v, 'async')) return true;
  if (c === 99 /* c */) return startsWithWord(src, v, 'class');
  // `x => ...`
  let e = identEnd(src, v);
  if (e < 0) return false;
  e = skipSpace(src, e);
  return src.charCodeAt(e) === 61 && src.charCodeAt(e + 1) === 62;
}

// ---------------------------------------------------------------------------------------------------------------

/** One file: module-level statements first, then a visitor over the listed nodes, one method per construct. */
class JsFile {
  private readonly src: string;
  private readonly sink: Sink;
  private readonly root: SyntaxNode;
  private readonly A: Access;
  private readonly scopes = new ScopeStack<FrameKind, JsFrame>({ start: -1, end: Infinity, qualified: null, kind: 'ns', owner: null });
  /** Declaration start -> its export statement. */
  private readonly exportsAt = new Map<number, ExportInfo>();
  /** Declaration start -> its `declare` wrapper. */
  private readonly ambientAt = new Map<number, AmbientInfo>();
  /** Starts of statements at module or namespace level. */
  private readonly moduleStatements = new Set<number>();
  /** `require(…)` calls whose imports a destructuring declarator already recorded (`const { a } = require('m')`). */
  private readonly requireDone = new Set<number>();
  /** Scratch for `scanCallee`. */
  private readonly callee: Callee = { end: 0, nameStart: 0, nameEnd: 0 };

  constructor(file: SourceFile) {
    this.src = file.src;
    this.sink = file.sink;
    this.root = file.root;
    this.A = file.nodes(ASSIGN_HINT.test(file.src) ? DEEP_TYPES_ASSIGN : DEEP_TYPES);
  }

  run(): void {
    this.moduleLevel();
    const A = this.A;
    for (let i = 0; i < A.count; i++) {
      const type = A.type(i);
      if (type === null) continue;
      const start = A.start(i);
      const frame = this.scopes.at(start);
      switch (type) {
        case 'call_expression':
          this.call(i, start, frame);
          break;
        case 'new_expression':
          this.newExpression(i, start, frame);
          break;
        case 'variable_declarator':
          this.variableDeclarator(i, start, frame);
          break;
        case 'assignment_expression':
          this.assignment(i, start, frame);
          break;
        case 'function_declaration':
        case 'generator_function_declaration':
          this.functionDeclaration(i, start, type, frame.qualified);
          break;
        case 'class_declaration':
        case 'abstract_class_declaration':
          this.classDeclaration(i, start, type, frame.qualified);
          break;
        case 'interface_declaration':
        case 'type_alias_declaration':
        case 'enum_declaration':
          this.typeDeclaration(i, start, type, frame.qualified);
          break;
        case 'function_expression':
        case 'generator_function':
        case 'class':
          this.functionValue(i, start, type, frame);
          break;
      }
    }
  }

  // ---- shared readers ----

  private qualify(scope: string | null, name: string): string {
    return this.sink.qualify(scope, name);
  }

  /** The JSDoc above a definition whose text starts at `textStart`, and where its enclosing range starts. */
  private docAt(textStart: number): { doc: string | null; start: number } {
    return jsDocBefore(this.src, textStart, this.commentStart) ?? { doc: null, start: textStart };
  }

  /** Start of the comment node that ends at `end`, or -1. */
  private readonly commentStart = (end: number): number => {
    const n = this.root.descendantForIndex(end - 1);
    return n && n.type === 'comment' && n.endIndex === end ? n.startIndex : -1;
  };

  /** Records a definition whose text (export, decorators, keyword) starts at `textStart`, with the JSDoc above it. */
  private define(
    name: string,
    kind: SymbolKind,
    scope: string | null,
    nameAt: number,
    textStart: number,
    end: number,
    sig: string,
    flags: string[] | null,
    doc = this.docAt(textStart),
  ): string {
    return this.sink.def({ name, kind, scope, nameAt, start: doc.start, end, signature: sig, doc: doc.doc, flags });
  }

  /** Text of a name node: identifiers by scanning, anything else (strings, computed keys) by its range. */
  private nameText(h: number): string {
    const { A, src } = this;
    const s = A.start(h);
    const type = A.type(h);
    if (type === 'identifier' || type === 'type_identifier' || type === 'property_identifier' || type === 'private_property_identifier') {
      const e = identEnd(src, s);
      if (e > s) return src.slice(s, e);
    }
    const text = src.slice(s, A.end(h));
    return type === 'string' ? unquote(text) : collapse(text, SIGNATURE_MAX);
  }

  /** Offset of the name in a name node (inside the quotes of a string key). */
  private nameAt(h: number): number {
    return this.A.start(h) + (this.A.type(h) === 'string' ? 1 : 0);
  }

  private exportFlags(ex: ExportInfo | undefined, flags: string[]): void {
    if (!ex) return;
    flags.push('export');
    if (ex.isDefault) flags.push('default');
  }

  /** `async` / `generator` of a function value, from its own text and type. */
  private functionFlags(fnStart: number, type: string | null, flags: string[]): void {
    if (startsWithWord(this.src, fnStart, 'async')) flags.push('async');
    if (type === 'generator_function' || type === 'generator_function_declaration') flags.push('generator');
  }

  /**
   * Name, name position and flags of a function declaration or signature: read from its header text, or from the
   * tree when the header does not look as expected (comments inside it, recovered syntax).
   */
  private functionHead(
    h: number,
    start: number,
    type: string | null,
    ex: ExportInfo | undefined,
    amb: AmbientInfo | undefined,
  ): { name: string; at: number; flags: string[] } | null {
    const flags: string[] = [];
    this.exportFlags(ex, flags);
    if (amb) flags.push('declare');
    FUNCTION_HEAD.lastIndex = start;
    const m = FUNCTION_HEAD.exec(this.src);
    if (m) {
      if (m[1]) flags.push('async');
      if (m[2]) flags.push('generator');
      return { name: m[3], at: FUNCTION_HEAD.lastIndex - m[3].length, flags };
    }
    const nm = this.A.child(h, 'name');
    if (nm < 0) return null;
    this.functionFlags(start, type, flags);
    return { name: this.nameText(nm), at: this.nameAt(nm), flags };
  }

  /** Signature end for a function-like node: its body's start, else its end. */
  private headEnd(h: number): number {
    const body = this.A.child(h, 'body');
    return body >= 0 ? this.A.start(body) : this.A.end(h);
  }

  // ---- definitions found by the walk ----

  private functionDeclaration(i: number, start: number, type: string, scope: string | null): void {
    const amb = this.ambientAt.get(start);
    const ex = this.exportsAt.get(start) ?? amb?.exported;
    const head = this.functionHead(i, start, type, ex, amb);
    if (!head) return;
    const end = this.A.end(i);
    const anchor = ex?.h ?? amb?.h ?? i;
    const q = this.define(head.name, 'function', scope, head.at, this.A.start(anchor), end, signature(this.src, start, this.headEnd(i)), head.flags);
    this.scopes.push({ start, end, qualified: q, kind: 'fn', owner: q });
  }

  private classDeclaration(i: number, start: number, type: string, scope: string | null): void {
    const { A, src } = this;
    const nm = A.child(i, 'name');
    if (nm < 0) return;
    const amb = this.ambientAt.get(start);
    const ex = this.exportsAt.get(start) ?? amb?.exported;
    const flags: string[] = [];
    this.exportFlags(ex, flags);
    if (amb) flags.push('declare');
    const mods = new Set<string>();
    const sigStart = modifiersBefore(src, start, A.start(nm), mods);
    if (mods.has('abstract') || type === 'abstract_class_declaration') flags.push('abstract');
    // decorators sit in the class node, or in front of `export` in the export statement
    if ((sigStart > start && src.charCodeAt(start) === 64) || (ex && src.charCodeAt(A.start(ex.h)) === 64)) flags.push('decorated');
    const anchor = ex?.h ?? amb?.h ?? i;
    this.classSymbol(i, this.nameText(nm), A.start(nm), scope, flags, sigStart, A.start(anchor));
  }

  /**
   * A class node (declaration or expression) named `name`: symbol, members, scope. `rangeH` is the node whose range
   * the symbol takes (a declarator or assignment holding a class expression); `now` opens its scope at the walk's
   * position, otherwise when the walk reaches it.
   */
  private classSymbol(
    h: number,
    name: string,
    nameAt: number,
    scope: string | null,
    flags: string[],
    sigStart: number,
    textStart: number,
    rangeH = h,
    now = true,
    sigPrefix = '',
    doc?: { doc: string | null; start: number },
  ): void {
    const A = this.A;
    const body = A.child(h, 'body');
    const end = A.end(rangeH);
    const sig = sigPrefix + signature(this.src, sigStart, body >= 0 ? A.start(body) : A.end(h));
    const q = this.define(name, 'class', scope, nameAt, textStart, end, sig, flags, doc);
    const frame: JsFrame = { start: A.start(rangeH), end, qualified: q, kind: 'class', owner: q, value: A.start(h) };
    if (now) this.scopes.push(frame);
    else this.scopes.later(frame);
    if (body >= 0) this.classMembers(body, q);
  }

  /** A function value named from outside: bound by `export default`, an assignment, a declarator. */
  private namedFunctionValue(
    h: number,
    name: string,
    nameAt: number,
    kind: SymbolKind,
    scope: string | null,
    flags: string[],
    sigStart: number,
    rangeH: number,
    now: boolean,
    owner: string | null,
    doc?: { doc: string | null; start: number },
    sigPrefix = '',
  ): void {
    const A = this.A;
    this.functionFlags(A.start(h), A.type(h), flags);
    const start = A.start(rangeH);
    const end = A.end(rangeH);
    const q = this.define(name, kind, scope, nameAt, start, end, sigPrefix + signature(this.src, sigStart, this.headEnd(h)), flags, doc);
    const frame: JsFrame = { start, end, qualified: q, kind: 'fn', owner: owner ?? q, value: A.start(h) };
    if (now) this.scopes.push(frame);
    else this.scopes.later(frame);
  }

  private typeDeclaration(i: number, start: number, type: string, scope: string | null): void {
    const { A, src } = this;
    const nm = A.child(i, 'name');
    if (nm < 0) return;
    const name = this.nameText(nm);
    const amb = this.ambientAt.get(start);
    const ex = this.exportsAt.get(start) ?? amb?.exported;
    const flags: string[] = [];
    this.exportFlags(ex, flags);
    if (amb) flags.push('declare');
    const textStart = A.start(ex?.h ?? amb?.h ?? i);
    const end = A.end(i);
    if (type === 'type_alias_declaration') {
      const value = A.child(i, 'value');
      const objectType = value >= 0 && A.type(value) === 'object_type';
      // `type Props = { ... }`: the header stops at the object type, whose members are its properties
      const q = this.define(name, 'type', scope, A.start(nm), textStart, end, signature(src, start, objectType ? A.start(value) : end), flags);
      if (objectType) this.typeMembers(value, q);
      return;
    }
    const body = A.child(i, 'body');
    const sig = signature(src, start, body >= 0 ? A.start(body) : end);
    if (type === 'interface_declaration') {
      const q = this.define(name, 'interface', scope, A.start(nm), textStart, end, sig, flags);
      if (body >= 0) this.typeMembers(body, q);
    } else {
      if (startsWithWord(src, start, 'const')) flags.push('const');
      const q = this.define(name, 'enum', scope, A.start(nm), textStart, end, sig, flags);
      if (body >= 0) this.enumMembers(body, q);
      this.scopes.push({ start, end, qualified: q, kind: 'member', owner: q }); // member initializers
    }
  }

  /** `const f = () => {}`, `let C = class {}`, module-level `const X = …`; `const { a } = require('m')`. */
  private variableDeclarator(i: number, start: number, frame: JsFrame): void {
    const { A, src } = this;
    if (src.charCodeAt(start) === 123 /* { */) {
      this.destructuredRequire(i, start, frame.qualified);
      return;
    }
    const nameEnd = identEnd(src, start);
    if (nameEnd < 0) return; // an array pattern: nothing is named here
    const name = src.slice(start, nameEnd);
    const atModuleLevel = frame.kind === 'ns';
    // Where the value starts: from the text for `name = value`; `name: T = value` asks the tree.
    let valueStart = -1;
    let value = -1;
    const q = skipSpace(src, nameEnd);
    if (src.charCodeAt(q) === 61 /* = */ && src.charCodeAt(q + 1) !== 61 && src.charCodeAt(q + 1) !== 62) {
      valueStart = skipSpace(src, q + 1);
    } else {
      const c = src.charCodeAt(nameEnd);
      if (c === 58 /* : */ || c === 33 /* ! */) {
        value = A.child(i, 'value');
        if (value >= 0) valueStart = A.start(value);
      }
    }
    // Is the value a function or class? Only values that can start one are looked up.
    let valueType: string | null = value >= 0 ? A.type(value) : null;
    if (valueStart >= 0 && value < 0 && mayBeFunctionOrClass(src, valueStart)) {
      value = A.child(i, 'value');
      valueType = value >= 0 ? A.type(value) : null;
    }
    const isFunction = valueType !== null && FUNCTION_VALUES.has(valueType);
    const isClass = valueType === 'class';
    if (!isFunction && !isClass && !atModuleLevel) {
      // a local variable: only an object literal holding functions defines something (its methods)
      if (frame.kind === 'fn' && valueStart >= 0 && src.charCodeAt(valueStart) === 123 /* { */) this.localObject(i, start, name, frame.qualified);
      return;
    }
    // The declaration: its keyword is right before the first declarator; otherwise ask the tree.
    let declStart = keywordBefore(src, start);
    const first = declStart >= 0;
    let kw: string;
    if (first) kw = src.slice(declStart, start).trimEnd();
    else {
      const decl = A.parent(i);
      if (decl < 0) return;
      declStart = A.start(decl);
      KEYWORD.lastIndex = declStart;
      kw = KEYWORD.exec(src)?.[1] ?? 'var';
    }
    kw = kw.replace(/\s+/, ' ');
    const amb = this.ambientAt.get(declStart);
    const ex = this.exportsAt.get(declStart) ?? amb?.exported;
    const topLevel = atModuleLevel && (ex !== undefined || amb !== undefined || this.moduleStatements.has(declStart));
    if (!isFunction && !isClass && !topLevel) return; // `for (let i = 0; ...)`, a block, a callback's local
    const flags: string[] = [];
    this.exportFlags(ex, flags);
    if (amb) flags.push('declare');
    // the doc sits above the declaration (`/** d */ export const a = 1, b = 2`), for every declarator in it; the
    // range of the first declarator starts there too
    const textStart = ex ? A.start(ex.h) : amb ? A.start(amb.h) : declStart;
    const doc = this.docAt(textStart);
    if (!first) doc.start = start;
    if (isClass) {
      this.classSymbol(value, name, start, frame.qualified, flags, start, textStart, i, true, `${kw} `, doc);
      return;
    }
    if (isFunction) {
      const owner = valueType === 'arrow_function' ? frame.owner : null;
      this.namedFunctionValue(value, name, start, 'function', frame.qualified, flags, start, i, true, owner, doc, `${kw} `);
      return;
    }
    const end = A.end(i);
    const kind: SymbolKind = kw === 'let' || kw === 'var' ? 'variable' : 'constant';
    const qn = this.define(name, kind, frame.qualified, start, textStart, end, `${kw} ${signature(src, start, firstLineEnd(src, start, end))}`, flags, doc);
    if (valueStart >= 0 && src.charCodeAt(valueStart) === 123 /* { */) {
      // `const obj = { a() {}, b: () => {} }`: its functions are members `obj.a`, `obj.b`
      if (value < 0) value = A.child(i, 'value');
      // (`{…} satisfies Api`, `{…} as const`)
      while (value >= 0 && (A.type(value) === 'satisfies_expression' || A.type(value) === 'as_expression')) value = A.namedChildren(value)[0] ?? -1;
      if (value >= 0 && A.type(value) === 'object') this.objectMembers(value, qn, false);
    }
  }

  /** `const methods = { blob() {…}, json: () => … }` inside a function: the object and its functions, scoped there. */
  private localObject(i: number, start: number, name: string, scope: string | null): void {
    const { A, src } = this;
    let value = A.child(i, 'value');
    while (value >= 0 && (A.type(value) === 'satisfies_expression' || A.type(value) === 'as_expression')) value = A.namedChildren(value)[0] ?? -1;
    if (value < 0 || A.type(value) !== 'object') return;
    const end = A.end(value);
    // most local objects are data: rule them out from the text before listing their members
    if (!MAY_HOLD_FUNCTIONS.test(src.slice(A.start(value), end))) return;
    const holdsFunction = A.namedChildren(value).some((m) => {
      const t = A.type(m);
      if (t === 'method_definition') return true;
      if (t !== 'pair') return false;
      const v = A.child(m, 'value');
      const vt = v >= 0 ? A.type(v) : null;
      return vt === 'class' || (vt !== null && FUNCTION_VALUES.has(vt));
    });
    if (!holdsFunction) return;
    const declStart = keywordBefore(src, start);
    const kw = declStart >= 0 ? src.slice(declStart, start).trim().replace(/\s+/, ' ') : 'const';
    const kind: SymbolKind = kw === 'const' ? 'constant' : 'variable';
    const q = this.define(name, kind, scope, start, declStart >= 0 ? declStart : start, A.end(i), `${kw} ${signature(src, start, firstLineEnd(src, start, end))}`, null);
    this.objectMembers(value, q, false);
  }

  /** `const { a, b: c } = require('m')`: import refs `a` and `b` from 'm' (the call then records nothing). */
  private destructuredRequire(i: number, start: number, scope: string | null): void {
    const { A, src } = this;
    const value = A.child(i, 'value');
    if (value < 0) return;
    const vs = A.start(value);
    if (!startsWithWord(src, vs, 'require')) return;
    STRING_ARG.lastIndex = skipSpace(src, vs + 7);
    const m = STRING_ARG.exec(src);
    if (!m) return;
    const module = unquote(m[1]);
    const pattern = A.child(i, 'name');
    if (pattern < 0 || A.type(pattern) !== 'object_pattern' || A.start(pattern) !== start) return;
    let any = false;
    for (const p of A.namedChildren(pattern)) {
      const t = A.type(p);
      let key = -1;
      if (t === 'shorthand_property_identifier_pattern') key = p;
      else if (t === 'pair_pattern') key = A.child(p, 'key');
      else if (t === 'object_assignment_pattern') key = A.child(p, 'left');
      if (key < 0) continue;
      this.sink.ref('import', this.nameText(key), this.nameAt(key), scope, src.slice(A.start(p), A.end(p)), module);
      any = true;
    }
    if (any) this.requireDone.add(vs);
  }

  /**
   * Assignments that define something: `a.b = function…`, `Foo.prototype.bar = …`, `this.x = function…`,
   * `exports.x = …`, `module.exports = …`, `a.b = { … }`, and `x = function…` / `x = class…` at module level.
   */
  private assignment(i: number, start: number, frame: JsFrame): void {
    const { A, src } = this;
    // most assignments are `x = …` or `this.x = …` with a plain value: rule those out before reading more
    const e = identEnd(src, start);
    if (e < 0) return;
    if (src.charCodeAt(skipSpace(src, e)) !== 46 /* . */) {
      this.plainAssignment(i, start, e, frame);
      return;
    }
    if (frame.owner === null && e - start === 4 && src.startsWith('this', start)) return;
    const t = memberTarget(src, start);
    if (!t) return;
    const { names, at, value } = t;
    const n = names.length;
    let scope: string | null;
    let exported = false;
    let proto = false;
    if (names[0] === 'module' && names[1] === 'exports') {
      if (n === 2) return this.moduleExports(i, start);
      exported = n === 3;
      scope = exported ? null : names.slice(2, -1).join('.');
    } else if (names[0] === 'exports') {
      exported = n === 2;
      scope = exported ? null : names.slice(1, -1).join('.');
    } else if (names[0] === 'this') {
      if (frame.owner === null) return;
      scope = [frame.owner, ...names.slice(1, -1)].join('.');
    } else {
      const k = names.indexOf('prototype');
      if (k === n - 1) {
        // `Foo.prototype = { ... }`: its functions are methods of Foo
        if (src.charCodeAt(value) !== 123) return;
        const rhs = A.child(i, 'right');
        if (rhs >= 0 && A.type(rhs) === 'object') this.objectMembers(rhs, names.slice(0, -1).join('.'), false);
        return;
      }
      proto = k > 0;
      scope = names.slice(0, -1).filter((s) => s !== 'prototype').join('.');
    }
    // Only what can define something is looked up in the tree: functions, classes and objects anywhere; any value
    // of an export or a prototype member.
    const isObject = src.charCodeAt(value) === 123 && names[0] !== 'this'; // `this.state = {}` is state, not a definition
    if (!exported && !proto && !isObject && !mayBeFunctionOrClass(src, value)) return;
    const rhs = A.child(i, 'right');
    if (rhs < 0) return;
    const rt = A.type(rhs);
    const name = names[n - 1];
    const nameAt = at[n - 1];
    const flags: string[] = exported ? ['export'] : [];
    if (rt !== null && FUNCTION_VALUES.has(rt)) {
      const kind: SymbolKind = exported || scope === null ? 'function' : 'method';
      this.namedFunctionValue(rhs, name, nameAt, kind, scope, flags, start, i, true, kind === 'method' ? scope : null);
      return;
    }
    if (rt === 'class') {
      this.classSymbol(rhs, name, nameAt, scope, flags, start, start, i);
      return;
    }
    const end = A.end(i);
    const sig = signature(src, start, firstLineEnd(src, start, end));
    if (rt === 'object') {
      const q = this.define(name, exported ? 'variable' : 'property', scope, nameAt, start, end, sig, flags);
      this.objectMembers(rhs, q, false);
      return;
    }
    // `exports.x = y`, `exports.x = void 0`, `exports.x = require('./x')` re-export or predeclare; they define nothing
    if (exported && (rt === 'identifier' || rt === 'member_expression' || rt === 'unary_expression' || rt === 'assignment_expression' || rt === 'undefined')) return;
    if (exported && rt === 'call_expression' && startsWithWord(src, A.start(rhs), 'require')) return;
    if (exported || proto) this.define(name, exported ? 'variable' : 'property', scope, nameAt, start, end, sig, flags);
  }

  /** `module.exports = function name() {}` / `= class {}` / `= { ... }`. */
  private moduleExports(i: number, start: number): void {
    const A = this.A;
    const rhs = A.child(i, 'right');
    if (rhs < 0) return;
    const rt = A.type(rhs);
    if (rt === 'object') {
      this.objectMembers(rhs, null, true);
      return;
    }
    const isFn = rt !== null && FUNCTION_VALUES.has(rt);
    if (!isFn && rt !== 'class') return;
    // the value's own name, else `default`
    const nm = A.child(rhs, 'name');
    const name = nm >= 0 ? this.nameText(nm) : 'default';
    const nameAt = nm >= 0 ? A.start(nm) : start;
    const flags = name === 'default' ? ['export', 'default'] : ['export'];
    if (isFn) this.namedFunctionValue(rhs, name, nameAt, 'function', null, flags, start, i, true, null);
    else this.classSymbol(rhs, name, nameAt, null, flags, start, start, i);
  }

  /** `x = function () {}` / `x = class {}` at module level. */
  private plainAssignment(i: number, start: number, e: number, frame: JsFrame): void {
    if (frame.kind !== 'ns') return;
    const { A, src } = this;
    const p = skipSpace(src, e);
    if (src.charCodeAt(p) !== 61 || src.charCodeAt(p + 1) === 61 || src.charCodeAt(p + 1) === 62) return;
    if (!mayBeFunctionOrClass(src, skipSpace(src, p + 1))) return;
    const rhs = A.child(i, 'right');
    const rt = rhs >= 0 ? A.type(rhs) : null;
    const name = src.slice(start, e);
    if (rt !== null && FUNCTION_VALUES.has(rt)) this.namedFunctionValue(rhs, name, start, 'function', frame.qualified, [], start, i, true, null);
    else if (rt === 'class') this.classSymbol(rhs, name, start, frame.qualified, [], start, start, i);
  }

  /**
   * A function or class expression met by the walk. Bound ones were handled by what binds them (their frame is open
   * here). A named one defines its own name (`return function connect() {}`, `module.exports[code] = class
   * NodeError {}`); in a broken file that also recovers a declaration the parser kept only as an expression.
   */
  private functionValue(i: number, start: number, type: string, frame: JsFrame): void {
    if (frame.value === start) return;
    const { A, src } = this;
    // a name can only follow `class` / `function`: read it from the tree only when the text has one
    if (type === 'function_expression') {
      FUNCTION_HEAD.lastIndex = start;
      if (!FUNCTION_HEAD.test(src)) return;
    }
    const nm = A.child(i, 'name');
    if (nm < 0) return;
    const name = this.nameText(nm);
    if (type === 'class') this.classSymbol(i, name, A.start(nm), frame.qualified, [], start, start);
    else this.namedFunctionValue(i, name, A.start(nm), 'function', frame.qualified, [], start, i, true, null);
  }

  /**
   * Anonymous functions passed to a call at module level are scopes named after the call and its first string
   * argument (`describe('suite')`, `app.get('/x')`, `arr.map`, `new Promise`): their locals are not module-level.
   * (Inside a named definition, callbacks belong to it.)
   */
  private callbacks(i: number, callee: string, calleeEnd: number, scope: string | null, prefix = ''): void {
    const { A, src } = this;
    // most calls pass no function: rule them out from the text that follows before listing the arguments
    if (!CALLBACK_HINT.test(src.slice(calleeEnd, calleeEnd + CALLBACK_WINDOW))) return;
    const args = A.child(i, 'arguments');
    if (args < 0) return;
    let name: string | null = null;
    for (const h of A.namedChildren(args)) {
      const t = A.type(h);
      if (t !== 'arrow_function' && t !== 'function_expression' && t !== 'generator_function') continue;
      const fs = A.start(h);
      FUNCTION_HEAD.lastIndex = fs;
      if (t !== 'arrow_function' && FUNCTION_HEAD.test(src)) continue; // named: defines its own name
      if (name === null) {
        STRING_ARG.lastIndex = skipSpace(src, calleeEnd);
        const m = STRING_ARG.exec(src);
        const c = prefix + callee.replace(/\s+/g, '');
        name = this.qualify(scope, collapse(m ? `${c}(${m[1]})` : c, CONTEXT_MAX));
      }
      this.scopes.later({ start: fs, end: A.end(h), qualified: name, kind: 'fn', owner: null, value: fs });
    }
  }

  // ---- references ----

  private call(i: number, start: number, frame: JsFrame): void {
    const { A, src } = this;
    const c = this.callee;
    const scope = frame.qualified;
    const nextStart = i + 1 < A.count ? A.start(i + 1) : -1;
    let text: string | null = null; // the callee
    let name = '';
    let nameAt = -1;
    let bare = false; // the callee is a bare name (`require`, `import`)
    if (nextStart !== start) {
      // A plain callee read from the text. (A listed node starting here would mean the callee itself starts with
      // a call, `new` or a function, so the text alone is not the callee.)
      if (scanCallee(src, start, c) || scanCalleeUnicode(src, start, c)) {
        name = src.slice(c.nameStart, c.nameEnd);
        if (name !== 'function' && name !== 'class' && name !== 'new') {
          text = src.slice(start, c.end);
          nameAt = c.nameStart;
          bare = c.nameStart === start;
        }
      }
    } else if (A.type(i + 1) !== null) {
      // `a.b(c).d()`, `new Foo().bar()`: the listed node that starts here, then a plain `.d`
      const innerEnd = A.end(i + 1);
      const c0 = src.charCodeAt(skipSpace(src, innerEnd));
      if ((c0 === 46 /* . */ || c0 === 63 /* ? */ || c0 === 33) /* ! */ && (scanCallee(src, innerEnd, c) || scanCalleeUnicode(src, innerEnd, c))) {
        text = src.slice(start, c.end);
        name = src.slice(c.nameStart, c.nameEnd);
        nameAt = c.nameStart;
      }
    }
    let calleeEnd = start + (text?.length ?? 0);
    if (text === null) {
      const fn = A.child(i, 'function');
      if (fn < 0) return;
      const ft = A.type(fn);
      calleeEnd = A.end(fn);
      text = src.slice(A.start(fn), calleeEnd);
      if (ft === 'await_expression') text = text.replace(/^await\s+/, '');
      const nm = this.calleeName(fn);
      if (nm < 0) return;
      name = this.nameText(nm);
      nameAt = this.nameAt(nm);
      bare = ft === 'identifier' || ft === 'import';
    }
    if (bare && (name === 'require' || name === 'import')) {
      STRING_ARG.lastIndex = skipSpace(src, calleeEnd);
      const m = STRING_ARG.exec(src);
      if (m) {
        // `require('fs')`, `import('./lazy.js')`: an import of the module, named by it
        if (this.requireDone.has(start)) return;
        const module = unquote(m[1]);
        this.sink.ref('import', module, m.index + m[0].indexOf(m[1]) + 1, scope, `${name}(${m[1]})`, module);
        return;
      }
    }
    this.sink.ref('call', name, nameAt, scope, text);
    if (name === 'defineProperty' && text === 'Object.defineProperty') this.defineProperty(i, start, frame);
    // (a callee with calls or subscripts in it, `a(b).then`, is named by its last name)
    else if (frame.kind === 'ns') this.callbacks(i, /[([<]/.test(text) ? name : text, calleeEnd, scope);
  }

  /** Last name of a callee that is not a plain dotted chain (unwrapped a bounded number of times), or -1. */
  private calleeName(fn: number): number {
    const A = this.A;
    let h = fn;
    for (let guard = 0; h >= 0 && guard < 16; guard++) {
      switch (A.type(h)) {
        case 'identifier':
        case 'property_identifier':
        case 'private_property_identifier':
        case 'super':
        case 'import':
        case 'this':
          return h;
        case 'member_expression':
          h = A.child(h, 'property');
          break;
        case 'subscript_expression': {
          const index = A.child(h, 'index');
          return index >= 0 && A.type(index) === 'string' ? index : -1;
        }
        case 'parenthesized_expression':
        case 'sequence_expression':
        case 'non_null_expression':
        case 'await_expression': // TS parses `await a.b<T>()` as a call of `await a.b`
          h = A.lastNamedChild(h);
          break;
        case 'instantiation_expression':
          h = A.child(h, 'function');
          break;
        default:
          return -1;
      }
    }
    return -1;
  }

  private newExpression(i: number, start: number, frame: JsFrame): void {
    const { A, src } = this;
    const scope = frame.qualified;
    const c = this.callee;
    const cs = skipSpace(src, start + 3);
    const nextStart = i + 1 < A.count ? A.start(i + 1) : -1;
    const plain = cs > start + 3 && nextStart !== cs && (scanCallee(src, cs, c) || scanCalleeUnicode(src, cs, c));
    if (plain && src.charCodeAt(c.end) !== 96 /* tagged template: the callee is a call */) {
      const text = src.slice(cs, c.end);
      if (!text.includes('?')) {
        this.sink.ref('call', src.slice(c.nameStart, c.nameEnd), c.nameStart, frame.qualified, text);
        if (frame.kind === 'ns') this.callbacks(i, text, c.end, frame.qualified, 'new ');
        return;
      }
    }
    const ctor = A.child(i, 'constructor');
    if (ctor < 0) return;
    const nm = this.calleeName(ctor);
    if (nm >= 0) this.sink.ref('call', this.nameText(nm), this.nameAt(nm), scope, src.slice(A.start(ctor), A.end(ctor)));
  }

  /** `Object.defineProperty(target, 'name', { get… })` with a literal name defines `target.name`. */
  private defineProperty(i: number, start: number, frame: JsFrame): void {
    const { A, src } = this;
    const args = A.child(i, 'arguments');
    if (args < 0) return;
    const list = A.namedChildren(args);
    if (list.length < 3 || A.type(list[1]) !== 'string' || A.type(list[2]) !== 'object') return;
    const [target, key, desc] = list;
    const name = this.nameText(key);
    if (!name || name === '__esModule') return;
    const end = A.end(i);
    const targetText = src.slice(A.start(target), A.end(target)).replace(/\s+/g, '');
    const flags: string[] = [];
    let scope: string | null;
    if (targetText === 'exports' || targetText === 'module.exports') {
      if (REEXPORT_GETTER.test(src.slice(A.start(desc), end))) return;
      scope = null;
      flags.push('export');
    } else if (targetText === 'this') {
      if (frame.owner === null) return;
      scope = frame.owner;
    } else if (/^[\w$]+(?:\.[\w$]+)*$/.test(targetText)) {
      scope = targetText
        .split('.')
        .filter((s) => s !== 'prototype')
        .join('.');
    } else return;
    const descText = src.slice(A.start(desc), A.end(desc));
    const kind: SymbolKind = /(?:^\{|,)\s*get\s*[(:]/.test(descText) ? 'getter' : /(?:^\{|,)\s*value\s*:\s*(?:async\s+)?(?:function\b|\()/.test(descText) ? 'method' : 'property';
    const q = this.define(name, kind, scope, this.nameAt(key), start, end, signature(src, start, A.start(desc)), flags);
    this.scopes.push({ start, end, qualified: q, kind: 'fn', owner: scope });
  }

  // ---- members ----

  /** Class members from the class body (methods, fields, signatures), with their scopes queued. */
  private classMembers(bodyH: number, qualified: string): void {
    const { A, src } = this;
    for (const m of A.namedChildren(bodyH)) {
      const t = A.type(m);
      const ms = A.start(m);
      if (t === 'class_static_block') {
        this.scopes.later({ start: ms, end: A.end(m), qualified, kind: 'member', owner: qualified });
        continue;
      }
      const isMethod = t === 'method_definition';
      const isField = t === 'field_definition' || t === 'public_field_definition';
      const isSignature = t === 'method_signature' || t === 'abstract_method_signature';
      if (!isMethod && !isField && !isSignature) continue;
      const nm = A.child(m, t === 'field_definition' ? 'property' : 'name');
      if (nm < 0) continue;
      const name = this.nameText(nm);
      const mods = new Set<string>();
      const sigStart = modifiersBefore(src, ms, A.start(nm), mods);
      if (t === 'abstract_method_signature') mods.add('abstract');
      let kind: SymbolKind = isField ? 'field' : 'method';
      if (!isField) {
        if (mods.has('get')) kind = 'getter';
        else if (mods.has('set')) kind = 'setter';
        else if (name === 'constructor' && !mods.has('static')) kind = 'constructor';
      }
      const end = A.end(m);
      // a method's header ends at its body; a field's at the end of its first line (initializers can be long)
      const sigEnd = isMethod ? this.headEnd(m) : isField ? firstLineEnd(src, sigStart, end) : end;
      const q = this.define(name, kind, qualified, this.nameAt(nm), ms, end, signature(src, sigStart, sigEnd), memberFlags(mods, sigStart > ms));
      if (isMethod) this.scopes.later({ start: ms, end, qualified: q, kind: 'fn', owner: qualified });
      else if (isField) this.scopes.later({ start: ms, end, qualified: q, kind: 'member', owner: qualified });
    }
  }

  /** Interface or object-type members: method signatures and property signatures. */
  private typeMembers(bodyH: number, qualified: string): void {
    const { A, src } = this;
    for (const m of A.namedChildren(bodyH)) {
      const t = A.type(m);
      if (t !== 'method_signature' && t !== 'property_signature') continue;
      const nm = A.child(m, 'name');
      if (nm < 0) continue;
      const ms = A.start(m);
      const mods = new Set<string>();
      const sigStart = modifiersBefore(src, ms, A.start(nm), mods);
      let kind: SymbolKind = 'property';
      if (t === 'method_signature') kind = mods.has('get') ? 'getter' : mods.has('set') ? 'setter' : 'method';
      const end = A.end(m);
      this.define(this.nameText(nm), kind, qualified, this.nameAt(nm), ms, end, signature(src, sigStart, end), memberFlags(mods, false));
    }
  }

  /**
   * The members of an object literal bound to a name (`const obj = {…}`, `a.b = {…}`, `export default {…}`):
   * methods, function-valued properties, getters and setters `obj.m`, classes, and nested objects `obj.key` with
   * their own members. For `module.exports = {…}` (qualified null, exported) every property is an export.
   */
  private objectMembers(objH: number, qualified: string | null, exported: boolean): void {
    const { A, src } = this;
    const work: [number, string | null, boolean][] = [[objH, qualified, exported]];
    while (work.length) {
      if (work.length > MAX_DEPTH) throw new TooDeepError(MAX_DEPTH);
      const [obj, scope, isExport] = work.pop()!;
      for (const m of A.namedChildren(obj)) {
        const t = A.type(m);
        const ms = A.start(m);
        if (t === 'method_definition') {
          const nm = A.child(m, 'name');
          if (nm < 0) continue;
          const mods = new Set<string>();
          const sigStart = modifiersBefore(src, ms, A.start(nm), mods);
          let kind: SymbolKind = isExport ? 'function' : 'method';
          if (!isExport && mods.has('get')) kind = 'getter';
          else if (!isExport && mods.has('set')) kind = 'setter';
          const flags = memberFlags(mods, false);
          if (isExport) flags.unshift('export');
          const end = A.end(m);
          const q = this.define(this.nameText(nm), kind, scope, this.nameAt(nm), ms, end, signature(src, sigStart, this.headEnd(m)), flags);
          this.scopes.later({ start: ms, end, qualified: q, kind: 'fn', owner: scope });
        } else if (t === 'pair') {
          const key = A.child(m, 'key');
          const value = A.child(m, 'value');
          if (key < 0 || value < 0) continue;
          const vt = A.type(value);
          const name = this.nameText(key);
          const end = A.end(m);
          const flags: string[] = isExport ? ['export'] : [];
          if (vt !== null && FUNCTION_VALUES.has(vt)) {
            this.functionFlags(A.start(value), vt, flags);
            const q = this.define(name, isExport ? 'function' : 'method', scope, this.nameAt(key), ms, end, signature(src, ms, this.headEnd(value)), flags);
            this.scopes.later({ start: ms, end, qualified: q, kind: 'fn', owner: scope, value: A.start(value) });
          } else if (vt === 'class') {
            this.classSymbol(value, name, this.nameAt(key), scope, flags, ms, ms, m, false);
          } else if (vt === 'object') {
            const q = this.define(name, isExport ? 'variable' : 'property', scope, this.nameAt(key), ms, end, signature(src, ms, A.start(value) + 1), flags);
            work.push([value, q, false]);
          } else if (isExport) {
            this.define(name, 'variable', scope, this.nameAt(key), ms, end, signature(src, ms, firstLineEnd(src, ms, end)), flags);
          }
        }
      }
    }
  }

  /** Enum members, from the enum body. */
  private enumMembers(bodyH: number, qualified: string): void {
    const { A, src } = this;
    for (const m of A.namedChildren(bodyH)) {
      const t = A.type(m);
      let nm = m;
      if (t === 'enum_assignment') nm = A.child(m, 'name');
      else if (t !== 'property_identifier' && t !== 'string' && t !== 'identifier') continue;
      if (nm < 0) continue;
      const ms = A.start(m);
      const end = A.end(m);
      this.define(this.nameText(nm), 'enum_member', qualified, this.nameAt(nm), ms, end, signature(src, ms, firstLineEnd(src, ms, end)), null);
    }
  }

  // ---- module level: statements of the program and of namespace bodies (a work list, no recursion) ----

  private moduleLevel(): void {
    const A = this.A;
    const work: Work = [[A.rootChildren(), null]];
    while (work.length) {
      const [stmts, scope] = work.pop()!;
      for (const h of stmts) {
        const start = A.start(h);
        this.moduleStatements.add(start);
        switch (A.type(h)) {
          case 'import_statement':
            this.importStatement(h, scope);
            break;
          case 'export_statement':
            this.exportStatement(h, start, scope, work);
            break;
          case 'ambient_declaration':
            this.ambient(h, start, scope, undefined, work);
            break;
          case 'expression_statement': {
            // `namespace X {}` is wrapped in an expression statement
            NAMESPACE_HEAD.lastIndex = start;
            if (NAMESPACE_HEAD.test(this.src)) {
              const ns = A.lastNamedChild(h);
              const nt = ns >= 0 ? A.type(ns) : null;
              if (nt === 'internal_module' || nt === 'module') this.namespace(ns, scope, undefined, undefined, work);
            }
            break;
          }
          case 'internal_module':
          case 'module':
            this.namespace(h, scope, undefined, undefined, work);
            break;
          case 'function_signature':
            this.functionSignature(h, start, scope, undefined, undefined);
            break;
        }
      }
    }
  }

  /** A namespace / module declaration at statement level; its body is visited like the file. */
  private namespace(h: number, scope: string | null, ex: ExportInfo | undefined, amb: AmbientInfo | undefined, work: Work): void {
    const A = this.A;
    const nm = A.child(h, 'name');
    if (nm < 0) return;
    const body = A.child(h, 'body');
    const start = A.start(h);
    const end = A.end(h);
    const flags: string[] = [];
    this.exportFlags(ex, flags);
    if (amb) flags.push('declare');
    const textStart = A.start(ex?.h ?? amb?.h ?? h);
    const q = this.define(this.nameText(nm), 'namespace', scope, this.nameAt(nm), textStart, end, signature(this.src, start, body >= 0 ? A.start(body) : end), flags);
    this.scopes.later({ start, end, qualified: q, kind: 'ns', owner: null });
    if (body >= 0) work.push([A.namedChildren(body), q]);
  }

  /** `function f(a: string): void;` (an overload, or inside `declare`). */
  private functionSignature(h: number, start: number, scope: string | null, ex: ExportInfo | undefined, amb: AmbientInfo | undefined): void {
    const head = this.functionHead(h, start, 'function_signature', ex, amb);
    if (!head) return;
    const end = this.A.end(h);
    this.define(head.name, 'function', scope, head.at, this.A.start(ex?.h ?? amb?.h ?? h), end, signature(this.src, start, end), head.flags);
  }

  /** `import a, { b as c }, * as ns from 'm'`, `import 'side-effect'`, `import fs = require('fs')`. */
  private importStatement(h: number, scope: string | null): void {
    const { A, src } = this;
    const source = A.child(h, 'source');
    const module = source >= 0 ? unquote(src.slice(A.start(source), A.end(source))) : '';
    const text = (x: number) => src.slice(A.start(x), A.end(x));
    let any = false;
    for (const c of A.namedChildren(h)) {
      const t = A.type(c);
      if (t === 'import_clause') {
        for (const part of A.namedChildren(c)) {
          const pt = A.type(part);
          if (pt === 'identifier') {
            this.sink.ref('import', this.nameText(part), A.start(part), scope, text(part), module);
            any = true;
          } else if (pt === 'namespace_import') {
            this.sink.ref('import', '*', A.start(part), scope, text(part), module);
            any = true;
          } else if (pt === 'named_imports') {
            for (const spec of A.namedChildren(part)) {
              if (A.type(spec) !== 'import_specifier') continue;
              const nm = A.child(spec, 'name');
              if (nm < 0) continue;
              this.sink.ref('import', this.nameText(nm), this.nameAt(nm), scope, text(spec), module);
              any = true;
            }
          }
        }
      } else if (t === 'import_require_clause') {
        // `import fs = require('fs')`
        const req = A.child(c, 'source');
        const m = req >= 0 ? unquote(text(req)) : module;
        this.sink.ref('import', m, req >= 0 ? A.start(req) + 1 : A.start(c), scope, text(c), m);
        any = true;
      }
    }
    // side effect only: `import './x'`
    if (!any && source >= 0) this.sink.ref('import', module, A.start(source) + 1, scope, text(source), module);
  }

  /** Re-exports (`export … from`), and what an export statement declares (recorded for the walk). */
  private exportStatement(h: number, start: number, scope: string | null, work: Work): void {
    const { A, src } = this;
    const source = A.child(h, 'source');
    if (source >= 0) {
      // re-exports import from the other module
      const module = unquote(src.slice(A.start(source), A.end(source)));
      let any = false;
      for (const c of A.namedChildren(h)) {
        const t = A.type(c);
        if (t === 'export_clause') {
          for (const spec of A.namedChildren(c)) {
            if (A.type(spec) !== 'export_specifier') continue;
            const nm = A.child(spec, 'name');
            if (nm < 0) continue;
            this.sink.ref('import', this.nameText(nm), this.nameAt(nm), scope, src.slice(A.start(spec), A.end(spec)), module);
            any = true;
          }
        } else if (t === 'namespace_export') {
          this.sink.ref('import', '*', A.start(c), scope, src.slice(A.start(c), A.end(c)), module);
          any = true;
        }
      }
      if (!any) this.sink.ref('import', '*', A.start(h), scope, '*', module); // `export * from './m'`
      return;
    }
    let decl = A.child(h, 'declaration');
    if (decl < 0) decl = A.child(h, 'value');
    if (decl < 0) return;
    const ds = A.start(decl);
    const info: ExportInfo = { h, isDefault: EXPORT_DEFAULT.test(src.slice(start, ds)) };
    this.exportsAt.set(ds, info);
    const dt = A.type(decl);
    if (dt === 'ambient_declaration') this.ambient(decl, ds, scope, info, work);
    else if (dt === 'internal_module' || dt === 'module') this.namespace(decl, scope, info, undefined, work);
    else if (dt === 'function_signature') this.functionSignature(decl, ds, scope, info, undefined);
    else if (info.isDefault) {
      if (dt !== null && FUNCTION_VALUES.has(dt)) {
        // `export default function () {}` / `export default () => {}`
        const nm = dt === 'arrow_function' ? -1 : A.child(decl, 'name');
        const name = nm >= 0 ? this.nameText(nm) : 'default';
        this.namedFunctionValue(decl, name, nm >= 0 ? A.start(nm) : ds, 'function', scope, ['export', 'default'], ds, decl, false, null, this.docAt(start));
      } else if (dt === 'class') {
        // `export default class {}`
        const nm = A.child(decl, 'name');
        const name = nm >= 0 ? this.nameText(nm) : 'default';
        this.classSymbol(decl, name, nm >= 0 ? A.start(nm) : ds, scope, ['export', 'default'], ds, start, decl, false);
      } else if (dt === 'object') {
        // `export default { ... }` (a Vue component, a config): members scoped to `default`
        this.objectMembers(decl, this.qualify(scope, 'default'), false);
      }
    }
  }

  /** `declare …`: `declare global {}`, `declare module 'm' {}`, `declare function f(): void;`, `declare const x`. */
  private ambient(h: number, start: number, scope: string | null, ex: ExportInfo | undefined, work: Work): void {
    const { A, src } = this;
    DECLARE.lastIndex = start;
    if (!DECLARE.exec(src)) return;
    const ds = DECLARE.lastIndex;
    GLOBAL_BLOCK.lastIndex = ds;
    if (GLOBAL_BLOCK.exec(src)) {
      const end = A.end(h);
      const q = this.define('global', 'namespace', scope, ds, A.start(ex?.h ?? h), end, 'declare global', ['declare']);
      this.scopes.later({ start, end, qualified: q, kind: 'ns', owner: null });
      const body = A.lastNamedChild(h);
      if (body >= 0) work.push([A.namedChildren(body), q]);
      return;
    }
    const info: AmbientInfo = { h, exported: ex };
    this.ambientAt.set(ds, info);
    const inner = A.lastNamedChild(h);
    if (inner < 0 || A.start(inner) !== ds) return;
    const it = A.type(inner);
    if (it === 'internal_module' || it === 'module') this.namespace(inner, scope, ex, info, work);
    else if (it === 'function_signature') this.functionSignature(inner, ds, scope, ex, info);
  }
}

/** Statement lists still to visit, with their namespace. */
type Work = [number[], string | null][];

// ---------------------------------------------------------------------------------------------------------------

export const javascript: LanguagePlugin = {
  sep: '.',
  extract: (file) => new JsFile(file).run(),
};

export const typescript = javascript;

/**
 * tree-sitter-typescript 0.23.2 (the newest on the registry) rejects `in`/`out` variance annotations on type
 * parameters (`interface Producer<out T>`); the upstream fix is an unmerged PR. The grammar reads the modifier as
 * the parameter's name, so the error is the real name (`T`, or `out T` after `in`), right after `<in`/`<out`/`, out`.
 */
const VARIANCE_BEFORE = /[<,]\s*(?:in|out)\s+$/;
const VARIANCE_ERROR = /^(?:out\s+)?[\p{ID_Start}$_][\p{ID_Continue}$]*$/u;

export const typescriptGaps: readonly GrammarGap[] = [
  {
    name: '`in`/`out` variance annotations on type parameters',
    test: (src, start, end) => VARIANCE_ERROR.test(src.slice(start, end)) && VARIANCE_BEFORE.test(src.slice(Math.max(0, start - 32), start)),
  },
];
