/**
 * One extractor for JavaScript, TypeScript and TSX. The TypeScript grammars extend the JavaScript one, so the node
 * types overlap; a type a grammar lacks simply never occurs (and costs nothing).
 *
 * Where the nodes come from (this is the indexer's hot loop, and every read of a node is a call into native code):
 * - ONE native `descendantsOfType` call lists, in pre-order, the few node types that can sit at any depth: calls,
 *   `new`, variable declarators, function and class declarations, TypeScript type declarations, and assignments
 *   (only when the text mentions `exports`/`prototype`). The native walk compares every node of the tree with
 *   every listed type, so the list is kept short on purpose.
 * - Module-level statements (imports, exports, namespaces, `declare`, overload signatures) come from the child
 *   list of the program and of each namespace body; members come from their class/interface/object/enum body.
 * - Scope is a stack of container ranges in document order (no parent walks); containers found ahead of the walk
 *   (members, namespaces) wait in a queue sorted by start until the walk reaches them.
 * - Nodes are integer handles over the binding's transfer buffer when the binding is the very one this tree came
 *   from (checked per file, see `../access.ts`): no wrapper object and no weak-reference cache entry per node.
 *   Otherwise the public API is used (`publicAccess`), with the same results (a test compares both).
 * - Calls, locals, assignments, names, JSDoc and end positions are read from the source text where its shape is
 *   plain, with field lookups only for what the text cannot settle. Offsets are UTF-16 (JS string) indexes, as the
 *   binding reports them. Nothing recurses: 10,000 nesting levels cost no JS stack.
 *
 * Conventions (pinned by test/extract/javascript.test.ts):
 * - scope separator '.'; class members `Class.member`; object-literal members `obj.key`; `Foo.prototype.bar =` is
 *   method `Foo.bar`; `exports.foo =` / `module.exports.foo =` is function `foo` flagged `export`;
 *   `module.exports = function () {}` and `export default function () {}` are named `default`;
 *   `module.exports = { a() {} }` gives exported functions `a`.
 * - class fields are `field` even when their value is an arrow function (calls inside are scoped to the field).
 * - `import * as ns from 'm'` and `export * from 'm'` are import refs named `*`; `import a, { b as c } from './m'`
 *   gives import refs `a` and `b` (the imported name) with context './m'; `require('fs')`/`import('fs')` with a
 *   literal give one import ref `fs` and no call ref (with a computed argument they are calls).
 * - locals (non-function variables inside functions, blocks and callbacks) are not symbols; functions bound to
 *   locals are, scoped to the enclosing named definition. Anonymous functions are not scopes of their own.
 */
import type { RefRecord, SymbolKind, SymbolRecord } from '../../protocol/types.js';
import {
  CONTEXT_MAX,
  DOC_MAX,
  SIGNATURE_MAX,
  cleanComment,
  collapse,
  qualify,
  TooDeepError,
  type Extraction,
  type SyntaxNode,
} from '../common.js';
import { accessFor } from '../access.js';

const SEP = '.';
/** Named containers (functions, classes, namespaces, members) nested deeper than this make the file `too-deep`. */
export const MAX_SCOPE_DEPTH = 1000;

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
];
/** Assignments only matter for CommonJS exports and prototype methods; listed only when the text has either. */
const DEEP_TYPES_CJS = [...DEEP_TYPES, 'assignment_expression'];
/**
 * With syntax errors, tree-sitter may keep declarations after the error only as expressions inside an ERROR node
 * (`class X {}` as a class expression, `function f() {}` as a function expression); those are listed too.
 */
const RECOVERY_TYPES = ['ERROR', 'class', 'function_expression'];
const CJS_HINT = /\bexports\b|\bprototype\b/;

const FUNCTION_VALUES = new Set(['arrow_function', 'function_expression', 'generator_function']);

/**
 * What a container is, which decides what a declarator inside it means:
 * - `ns`: module level (the file, a namespace, `declare module`/`global`);
 * - `fn`: a named function or method: only functions bound to its locals become symbols;
 * - `class`: a class body; `member`: a field initializer, static block or enum (code, but not a function).
 */
type FrameKind = 'ns' | 'fn' | 'class' | 'member';

interface Frame {
  start: number;
  end: number;
  qualified: string | null;
  kind: FrameKind;
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
const STRING_ARG = /\(\s*(?:'([^'\\\n]*)'|"([^"\\\n]*)"|`([^`\\$]*)`)\s*[,)]/y;
const CJS = new RegExp(
  String.raw`(module\s*\.\s*exports|exports)(?:\s*\.\s*(${ID_START}${ID_CONT}*))?\s*=(?![=>])`,
  'uy',
);
const PROTO = new RegExp(
  String.raw`(${ID_START}${ID_CONT}*)\s*\.\s*prototype(?:\s*\.\s*(${ID_START}${ID_CONT}*))?\s*=(?![=>])`,
  'uy',
);
const FUNCTION_HEAD = new RegExp(String.raw`(async\s+)?function\s*(\*)?\s*(${ID_START}${ID_CONT}*)`, 'uy');
const DECLARE = /declare\s+/y;
const GLOBAL_BLOCK = /global\s*\{/y;
const EXPORT_DEFAULT = /\bexport\s+default\b/;
const KEYWORD = /(const|let|var|using|await\s+using)\b/y;
const NAMESPACE_HEAD = /(?:namespace|module)\s+[^\s.=(]/y;

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

/** Header text from `start` to `end`, blanks collapsed, trailing `{ = : ; ,` dropped, at most SIGNATURE_MAX. */
function sigText(src: string, start: number, end: number): string {
  const limit = start + SIGNATURE_MAX * 8;
  const cut = end > limit;
  let e = cut ? limit : end;
  // drop trailing blanks and `{ = : ; ,` (what signatureOf in common.ts drops, plus `;` and `,`)
  for (;;) {
    const c = src.charCodeAt(e - 1);
    if (e > start && (isSpace(c) || c === 123 || c === 61 || c === 58 || c === 59 || c === 44)) e--;
    else break;
  }
  const raw = src.slice(start, e);
  let s: string;
  if (BLANKS.test(raw)) s = collapse(raw, SIGNATURE_MAX);
  else s = raw.length > SIGNATURE_MAX ? raw.slice(0, SIGNATURE_MAX - 1) + '…' : raw;
  return cut && !s.endsWith('…') ? s.slice(0, SIGNATURE_MAX - 1) + '…' : s;
}
/** Whitespace that `collapse` would change (a line break, a tab, or two blanks in a row), or an edge blank. */
const BLANKS = /[^\S ]|  |^ | $/;

/** A callee's text as a ref context: collapsed and truncated, without collapsing more text than it needs. */
function contextText(text: string, plain: boolean): string {
  if (plain) return text.length > CONTEXT_MAX ? text.slice(0, CONTEXT_MAX - 1) + '…' : text;
  if (text.length <= CONTEXT_MAX * 4) return collapse(text, CONTEXT_MAX);
  const s = collapse(text.slice(0, CONTEXT_MAX * 4), CONTEXT_MAX);
  return s.endsWith('…') ? s : s.slice(0, CONTEXT_MAX - 1) + '…';
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

/** The source before `start` (skipping blanks) ends with a block comment. */
function commentBefore(src: string, start: number): boolean {
  let i = start;
  while (i > 0 && isSpace(src.charCodeAt(i - 1))) i--;
  return i >= 2 && src.charCodeAt(i - 1) === 47 && src.charCodeAt(i - 2) === 42;
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

/**
 * The JSDoc blocks directly above `start`, with the rules of `leadingComments` (common.ts): consecutive block
 * comments, nearest last, no blank line between them or before the definition, all of them `/** *\/`.
 * Read from the text when that is unambiguous: the `/**` is the first comment opener since the previous `*\/` and no
 * `//` precedes it on its line. Otherwise `commentStart(end)` asks the tree where the comment ending there starts
 * (-1: not a comment).
 */
function jsDocBefore(src: string, start: number, commentStart: (end: number) => number): string | null {
  const blocks: string[] = [];
  let at = start;
  for (;;) {
    let i = at;
    let newlines = 0;
    while (i > 0 && isSpace(src.charCodeAt(i - 1))) {
      if (src.charCodeAt(i - 1) === 10) newlines++;
      i--;
    }
    if (newlines > 1 || i < 4 || src.charCodeAt(i - 1) !== 47 || src.charCodeAt(i - 2) !== 42) break;
    let open = src.lastIndexOf('/**', i - 3);
    if (open >= 0 && src.indexOf('*/', open + 2) !== i - 2) open = -1;
    const prevClose = open >= 0 ? src.lastIndexOf('*/', open - 1) : -1;
    const lineStart = open >= 0 ? src.lastIndexOf('\n', open - 1) + 1 : 0;
    const firstOpener = open >= 0 ? src.indexOf('/*', prevClose < 0 ? 0 : prevClose + 2) : -1;
    if (open < 0 || firstOpener !== open || src.slice(lineStart, open).includes('//')) {
      open = commentStart(i); // ambiguous text: a comment opener inside the comment, a string or a `//` comment
      if (open < 0 || !src.startsWith('/**', open)) break;
    }
    blocks.unshift(src.slice(open, i));
    at = open;
  }
  const doc = cleanComment(blocks);
  return doc && doc.length > DOC_MAX ? doc.slice(0, DOC_MAX - 1) + '…' : doc;
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

const TAIL = /^!*(?:\?\.)?$/;

// Result of `scanCallee` (module scratch: the scan is synchronous and allocation-free).
let calleeEnd = 0;
let nameStart = 0;
let nameEnd = 0;
let calleeBlank = false;

/**
 * Reads a plain callee at `pos`: identifiers joined by `.`/`?.`/`!`, blanks allowed around them (`this.repo.find`,
 * `a?.b`, `x!.y`). True when it ends in an identifier followed by `(`, `` ` `` or `<`; sets calleeEnd (after
 * trailing `?.`/`!`/blanks are dropped), nameStart/nameEnd (its last identifier) and calleeBlank (it has blanks).
 * False (use the tree) for anything else, including non-ASCII names.
 */
function scanCallee(src: string, pos: number): boolean {
  const n = src.length;
  let p = pos;
  let lastIdEnd = -1;
  let lastIdStart = -1;
  let tokenEnd = -1; // end of the last identifier or `.`/`?.`/`!` token
  let blank = false;
  let pendingBlank = false;
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
      if (pendingBlank) blank = true;
      pendingBlank = false;
      lastIdStart = s;
      lastIdEnd = tokenEnd = p;
      lastWasIdent = true;
    } else if (c === 46 /* . */) {
      if (pendingBlank) blank = true;
      pendingBlank = false;
      lastWasIdent = false;
      tokenEnd = ++p;
    } else if (c === 63 /* ? */ && src.charCodeAt(p + 1) === 46) {
      const d = src.charCodeAt(p + 2);
      if (d >= 48 && d <= 57) return false; // `a ?.5 : b`
      if (pendingBlank) blank = true;
      pendingBlank = false;
      lastWasIdent = false;
      tokenEnd = p += 2;
    } else if (c === 33 /* ! */ && src.charCodeAt(p + 1) !== 61 /* = */) {
      if (pendingBlank) blank = true;
      pendingBlank = false;
      tokenEnd = ++p;
    } else if (isSpace(c)) {
      pendingBlank = true;
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
  calleeEnd = lastIdEnd;
  nameStart = lastIdStart;
  nameEnd = lastIdEnd;
  calleeBlank = blank;
  return true;
}

/** The Unicode-aware version of `scanCallee` (regexes; only for what the ASCII scanner refused). */
function scanCalleeUnicode(src: string, pos: number): boolean {
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
  calleeEnd = pos + text.length;
  nameEnd = calleeEnd;
  nameStart = calleeEnd - m[0].length;
  calleeBlank = /\s/.test(text);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------

export function extract(root: SyntaxNode, src: string): Extraction {
  const symbols: SymbolRecord[] = [];
  const refs: RefRecord[] = [];
  const hasError = root.hasError;
  const types = CJS_HINT.test(src) ? DEEP_TYPES_CJS : DEEP_TYPES;
  const A = accessFor(root, hasError ? [...types, ...RECOVERY_TYPES] : types);
  const count = A.count;
  const errorEnds: number[] = []; // ERROR nodes open at the walk's position

  // ---- scope: open containers, plus containers found ahead of the walk (sorted by start) ----
  const frames: Frame[] = [];
  const pending: Frame[] = [];
  let pendingAt = 0;
  const TOP: Frame = { start: -1, end: Infinity, qualified: null, kind: 'ns' };
  /** The innermost container open at `start`. */
  const enter = (start: number): Frame => {
    for (;;) {
      while (frames.length && frames[frames.length - 1].end <= start) frames.pop();
      if (pendingAt < pending.length && pending[pendingAt].start <= start) {
        const f = pending[pendingAt++];
        if (f.end > start) open(f);
        continue;
      }
      return frames.length ? frames[frames.length - 1] : TOP;
    }
  };
  /** Opens a container at the walk's position. */
  const open = (f: Frame): void => {
    // Qualified names grow with nesting, so their total size grows with its square: refuse absurd nesting.
    if (frames.length >= MAX_SCOPE_DEPTH) throw new TooDeepError(MAX_SCOPE_DEPTH);
    frames.push(f);
  };
  /** A container that starts ahead of the walk. */
  const later = (f: Frame): void => {
    let i = pending.length;
    while (i > pendingAt && pending[i - 1].start > f.start) i--;
    pending.splice(i, 0, f);
  };

  const exportsAt = new Map<number, ExportInfo>(); // declaration start -> its export statement
  const ambientAt = new Map<number, AmbientInfo>(); // declaration start -> its `declare` wrapper
  const moduleStatements = new Set<number>(); // starts of statements at module or namespace level

  const ref = (
    line: number,
    col: number,
    kind: RefRecord['kind'],
    name: string,
    scope: string | null,
    context: string,
    plain: boolean,
  ): void => {
    refs.push({ kind, name, line, col, scope, context: contextText(context, plain) });
  };
  const refAt = (h: number, kind: RefRecord['kind'], name: string, scope: string | null, context: string): void =>
    ref(A.row(h) + 1, A.col(h), kind, name, scope, context, false);

  /** Row and column (UTF-16) of an offset, from the line starts (built on first use; no call into the tree). */
  let lineStarts: number[] | null = null;
  const pointAt = (index: number): { row: number; column: number } => {
    if (!lineStarts) {
      lineStarts = [0];
      for (let p = src.indexOf('\n'); p >= 0; p = src.indexOf('\n', p + 1)) lineStarts.push(p + 1);
    }
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return { row: lo, column: index - lineStarts[lo] };
  };

  const symbol = (
    h: number,
    name: string,
    kind: SymbolKind,
    scope: string | null,
    signature: string,
    doc: string | null,
    flags: string[] | null,
  ): void => {
    const end = pointAt(A.end(h));
    const sym: SymbolRecord = {
      name,
      kind,
      scope,
      qualified: qualify(scope, name, SEP),
      startLine: A.row(h) + 1,
      startCol: A.col(h),
      endLine: end.row + 1,
      endCol: end.column,
      signature,
      doc,
    };
    if (flags && flags.length) sym.flags = flags;
    symbols.push(sym);
  };

  /** The JSDoc block directly above a definition whose text (for exports: the export statement) starts here. */
  const docAt = (textStart: number): string | null =>
    commentBefore(src, textStart) ? jsDocBefore(src, textStart, commentStart) : null;
  /** Start of the comment node that ends at `end`, or -1. */
  const commentStart = (end: number): number => {
    const n = root.descendantForIndex(end - 1);
    return n && n.type === 'comment' && n.endIndex === end ? n.startIndex : -1;
  };

  /** Text of a name node: identifiers by scanning, anything else (strings, computed keys) by its range. */
  const nameText = (h: number): string => {
    const s = A.start(h);
    const type = A.type(h);
    if (
      type === 'identifier' ||
      type === 'type_identifier' ||
      type === 'property_identifier' ||
      type === 'private_property_identifier'
    ) {
      const e = identEnd(src, s);
      if (e > s) return src.slice(s, e);
    }
    const text = src.slice(s, A.end(h));
    return type === 'string' ? unquote(text) : collapse(text, SIGNATURE_MAX);
  };

  const exportFlags = (ex: ExportInfo | undefined, flags: string[]): void => {
    if (!ex) return;
    flags.push('export');
    if (ex.isDefault) flags.push('default');
  };

  /** `async` / `generator` of a function value, from its own text and type. */
  const functionFlags = (fnStart: number, type: string | null, flags: string[]): void => {
    if (startsWithWord(src, fnStart, 'async')) flags.push('async');
    if (type === 'generator_function' || type === 'generator_function_declaration') flags.push('generator');
  };

  /**
   * Name and flags of a function declaration or signature: read from its header text, or from the tree when the
   * header does not look as expected (comments inside it, recovered syntax).
   */
  const functionHead = (
    h: number,
    start: number,
    type: string | null,
    ex: ExportInfo | undefined,
    amb: AmbientInfo | undefined,
  ): { name: string; flags: string[] } | null => {
    const flags: string[] = [];
    exportFlags(ex, flags);
    if (amb) flags.push('declare');
    FUNCTION_HEAD.lastIndex = start;
    const m = FUNCTION_HEAD.exec(src);
    if (m) {
      if (m[1]) flags.push('async');
      if (m[2]) flags.push('generator');
      return { name: m[3], flags };
    }
    const nm = A.child(h, 'name');
    if (nm < 0) return null;
    functionFlags(start, type, flags);
    return { name: nameText(nm), flags };
  };

  /** Signature end for a function-like node: its body's start, else its end. */
  const headEnd = (h: number): number => {
    const body = A.child(h, 'body');
    return body >= 0 ? A.start(body) : A.end(h);
  };

  // ---- containers and their members ----

  /** Class members from the class body (methods, fields, signatures), with their scopes queued. */
  const classMembers = (bodyH: number, qualified: string): void => {
    for (const m of A.namedChildren(bodyH)) {
      const t = A.type(m);
      const ms = A.start(m);
      if (t === 'class_static_block') {
        later({ start: ms, end: A.end(m), qualified, kind: 'member' });
        continue;
      }
      const isMethod = t === 'method_definition';
      const isField = t === 'field_definition' || t === 'public_field_definition';
      const isSignature = t === 'method_signature' || t === 'abstract_method_signature';
      if (!isMethod && !isField && !isSignature) continue;
      const nm = A.child(m, t === 'field_definition' ? 'property' : 'name');
      if (nm < 0) continue;
      const name = nameText(nm);
      const mods = new Set<string>();
      const sigStart = modifiersBefore(src, ms, A.start(nm), mods);
      if (t === 'abstract_method_signature') mods.add('abstract');
      let kind: SymbolKind = isField ? 'field' : 'method';
      if (!isField) {
        if (mods.has('get')) kind = 'getter';
        else if (mods.has('set')) kind = 'setter';
        else if (name === 'constructor' && !mods.has('static')) kind = 'constructor';
      }
      const flags = memberFlags(mods, sigStart > ms);
      const end = A.end(m);
      // a method's header ends at its body; a field's at the end of its first line (initializers can be long)
      const sigEnd = isMethod ? headEnd(m) : isField ? firstLineEnd(src, sigStart, end) : end;
      symbol(m, name, kind, qualified, sigText(src, sigStart, sigEnd), docAt(ms), flags);
      if (isMethod) later({ start: ms, end, qualified: qualify(qualified, name, SEP), kind: 'fn' });
      else if (isField) later({ start: ms, end, qualified: qualify(qualified, name, SEP), kind: 'member' });
    }
  };

  /** A class node (declaration or expression) named `name`: symbol, members, scope. */
  const classSymbol = (
    h: number,
    name: string,
    scope: string | null,
    flags: string[],
    sigStart: number,
    doc: string | null,
    rangeH = h,
    now = true,
    sigPrefix = '',
  ): void => {
    const body = A.child(h, 'body');
    const end = rangeH === h ? A.end(h) : A.end(rangeH);
    const sig = sigPrefix + sigText(src, sigStart, body >= 0 ? A.start(body) : A.end(h));
    symbol(rangeH, name, 'class', scope, sig, doc, flags);
    const qualified = qualify(scope, name, SEP);
    const frame: Frame = { start: A.start(rangeH), end, qualified, kind: 'class' };
    if (now) open(frame);
    else later(frame);
    if (body >= 0) classMembers(body, qualified);
  };

  /** Interface or object-type members: method signatures and property signatures. */
  const typeMembers = (bodyH: number, qualified: string): void => {
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
      const sig = sigText(src, sigStart, A.end(m));
      symbol(m, nameText(nm), kind, qualified, sig, docAt(ms), memberFlags(mods, false));
    }
  };

  /**
   * Functions in a named object literal (`const obj = { a() {}, b: () => {} }`): methods `obj.a`, `obj.b`; for
   * `module.exports = { ... }` (qualified null) exported functions `a`, `b`.
   */
  const objectMembers = (objH: number, qualified: string | null): void => {
    const exported = qualified === null;
    for (const m of A.namedChildren(objH)) {
      const t = A.type(m);
      const ms = A.start(m);
      if (t === 'method_definition') {
        const nm = A.child(m, 'name');
        if (nm < 0) continue;
        const name = nameText(nm);
        const mods = new Set<string>();
        const sigStart = modifiersBefore(src, ms, A.start(nm), mods);
        let kind: SymbolKind = exported ? 'function' : 'method';
        if (!exported && mods.has('get')) kind = 'getter';
        else if (!exported && mods.has('set')) kind = 'setter';
        const flags = memberFlags(mods, false);
        if (exported) flags.unshift('export');
        symbol(m, name, kind, qualified, sigText(src, sigStart, headEnd(m)), docAt(ms), flags);
        later({ start: ms, end: A.end(m), qualified: qualify(qualified, name, SEP), kind: 'fn' });
      } else if (t === 'pair') {
        const value = A.child(m, 'value');
        if (value < 0) continue;
        const vt = A.type(value);
        if (vt === null || !FUNCTION_VALUES.has(vt)) continue;
        const key = A.child(m, 'key');
        if (key < 0) continue;
        const name = nameText(key);
        const flags: string[] = [];
        if (exported) flags.push('export');
        functionFlags(A.start(value), vt, flags);
        const end = A.end(m);
        const kind: SymbolKind = exported ? 'function' : 'method';
        symbol(m, name, kind, qualified, sigText(src, ms, headEnd(value)), docAt(ms), flags);
        later({ start: ms, end, qualified: qualify(qualified, name, SEP), kind: 'fn' });
      }
    }
  };

  /** Enum members, from the enum body. */
  const enumMembers = (bodyH: number, qualified: string): void => {
    for (const m of A.namedChildren(bodyH)) {
      const t = A.type(m);
      let nm = m;
      if (t === 'enum_assignment') nm = A.child(m, 'name');
      else if (t !== 'property_identifier' && t !== 'string' && t !== 'identifier') continue;
      if (nm < 0) continue;
      const ms = A.start(m);
      const sig = sigText(src, ms, firstLineEnd(src, ms, A.end(m)));
      symbol(m, nameText(nm), 'enum_member', qualified, sig, docAt(ms), null);
    }
  };

  /** A function value exported as default, or otherwise named from outside (`export default () => {}`). */
  const namedFunctionValue = (
    h: number,
    name: string,
    kind: SymbolKind,
    scope: string | null,
    flags: string[],
    sigStart: number,
    doc: string | null,
    rangeH: number,
    now: boolean,
  ): void => {
    functionFlags(A.start(h), A.type(h), flags);
    symbol(rangeH, name, kind, scope, sigText(src, sigStart, headEnd(h)), doc, flags);
    const qualified = qualify(scope, name, SEP);
    const frame: Frame = { start: A.start(rangeH), end: A.end(rangeH), qualified, kind: 'fn' };
    if (now) open(frame);
    else later(frame);
  };

  // ---- module level: statements of the program and of namespace bodies (a work list, no recursion) ----

  /** A namespace / module declaration at statement level. */
  type Work = [number[], string | null][]; // statement lists still to visit, with their namespace
  const namespaceSymbol = (
    h: number,
    scope: string | null,
    ex: ExportInfo | undefined,
    amb: AmbientInfo | undefined,
    work: Work,
  ): void => {
    const nm = A.child(h, 'name');
    if (nm < 0) return;
    const name = nameText(nm);
    const body = A.child(h, 'body');
    const start = A.start(h);
    const end = A.end(h);
    const flags: string[] = [];
    exportFlags(ex, flags);
    if (amb) flags.push('declare');
    const anchor = ex?.h ?? amb?.h ?? h;
    const sig = sigText(src, start, body >= 0 ? A.start(body) : end);
    symbol(h, name, 'namespace', scope, sig, docAt(A.start(anchor)), flags);
    const qualified = qualify(scope, name, SEP);
    later({ start, end, qualified, kind: 'ns' });
    if (body >= 0) work.push([A.namedChildren(body), qualified]);
  };

  const moduleLevel = (): void => {
    const work: Work = [[A.rootChildren(), null]];
    while (work.length) {
      const [stmts, scope] = work.pop()!;
      for (const h of stmts) {
        const start = A.start(h);
        moduleStatements.add(start);
        const t = A.type(h);
        switch (t) {
          case 'import_statement':
            importRefs(h, scope);
            break;
          case 'export_statement':
            exportStatement(h, start, scope, work);
            break;
          case 'ambient_declaration':
            ambient(h, start, scope, undefined, work);
            break;
          case 'expression_statement':
            // `namespace X {}` is wrapped in an expression statement
            NAMESPACE_HEAD.lastIndex = start;
            if (NAMESPACE_HEAD.test(src)) {
              const ns = A.lastNamedChild(h);
              const nt = ns >= 0 ? A.type(ns) : null;
              if (nt === 'internal_module' || nt === 'module') namespaceSymbol(ns, scope, undefined, undefined, work);
            }
            break;
          case 'internal_module':
          case 'module':
            namespaceSymbol(h, scope, undefined, undefined, work);
            break;
          case 'function_signature':
            signatureSymbol(h, start, scope, undefined, undefined);
            break;
        }
      }
    }
  };

  /** `function f(a: string): void;` (an overload, or inside `declare`). */
  const signatureSymbol = (
    h: number,
    start: number,
    scope: string | null,
    ex: ExportInfo | undefined,
    amb: AmbientInfo | undefined,
  ): void => {
    const head = functionHead(h, start, 'function_signature', ex, amb);
    if (!head) return;
    const { name, flags } = head;
    const anchor = ex?.h ?? amb?.h ?? h;
    symbol(h, name, 'function', scope, sigText(src, start, A.end(h)), docAt(A.start(anchor)), flags);
  };

  const importRefs = (h: number, scope: string | null): void => {
    const source = A.child(h, 'source');
    const mod = source >= 0 ? unquote(src.slice(A.start(source), A.end(source))) : '';
    let any = false;
    for (const c of A.namedChildren(h)) {
      const t = A.type(c);
      if (t === 'import_clause') {
        for (const part of A.namedChildren(c)) {
          const pt = A.type(part);
          if (pt === 'identifier') {
            refAt(part, 'import', nameText(part), scope, mod);
            any = true;
          } else if (pt === 'namespace_import') {
            refAt(part, 'import', '*', scope, mod);
            any = true;
          } else if (pt === 'named_imports') {
            for (const spec of A.namedChildren(part)) {
              if (A.type(spec) !== 'import_specifier') continue;
              const nm = A.child(spec, 'name');
              if (nm >= 0) {
                refAt(spec, 'import', nameText(nm), scope, mod);
                any = true;
              }
            }
          }
        }
      } else if (t === 'import_require_clause') {
        // `import fs = require('fs')`
        const req = A.child(c, 'source');
        const m = req >= 0 ? unquote(src.slice(A.start(req), A.end(req))) : mod;
        refAt(c, 'import', m, scope, m);
        any = true;
      }
    }
    if (!any && source >= 0) refAt(h, 'import', mod, scope, mod); // side effect only: `import './x'`
  };

  const exportStatement = (h: number, start: number, scope: string | null, work: Work): void => {
    const source = A.child(h, 'source');
    if (source >= 0) {
      // re-exports import from the other module
      const mod = unquote(src.slice(A.start(source), A.end(source)));
      let any = false;
      for (const c of A.namedChildren(h)) {
        const t = A.type(c);
        if (t === 'export_clause') {
          for (const spec of A.namedChildren(c)) {
            if (A.type(spec) !== 'export_specifier') continue;
            const nm = A.child(spec, 'name');
            if (nm >= 0) {
              refAt(spec, 'import', nameText(nm), scope, mod);
              any = true;
            }
          }
        } else if (t === 'namespace_export') {
          refAt(c, 'import', '*', scope, mod);
          any = true;
        }
      }
      if (!any) refAt(h, 'import', '*', scope, mod); // `export * from './m'`
      return;
    }
    let decl = A.child(h, 'declaration');
    if (decl < 0) decl = A.child(h, 'value');
    if (decl < 0) return;
    const ds = A.start(decl);
    const info: ExportInfo = { h, isDefault: EXPORT_DEFAULT.test(src.slice(start, ds)) };
    exportsAt.set(ds, info);
    const dt = A.type(decl);
    if (dt === 'ambient_declaration') ambient(decl, ds, scope, info, work);
    else if (dt === 'internal_module' || dt === 'module') namespaceSymbol(decl, scope, info, undefined, work);
    else if (dt === 'function_signature') signatureSymbol(decl, ds, scope, info, undefined);
    else if (info.isDefault) {
      const doc = docAt(start);
      if (dt !== null && FUNCTION_VALUES.has(dt)) {
        // `export default function () {}` / `export default () => {}`
        const nm = dt === 'arrow_function' ? -1 : A.child(decl, 'name');
        const name = nm >= 0 ? nameText(nm) : 'default';
        namedFunctionValue(decl, name, 'function', scope, ['export', 'default'], ds, doc, decl, false);
      } else if (dt === 'class') {
        // `export default class {}`
        const nm = A.child(decl, 'name');
        const name = nm >= 0 ? nameText(nm) : 'default';
        classSymbol(decl, name, scope, ['export', 'default'], ds, doc, decl, false);
      } else if (dt === 'object') {
        // `export default { ... }` (a Vue component, a config): members scoped to `default`
        objectMembers(decl, qualify(scope, 'default', SEP));
      }
    }
  };

  const ambient = (h: number, start: number, scope: string | null, ex: ExportInfo | undefined, work: Work): void => {
    DECLARE.lastIndex = start;
    if (!DECLARE.exec(src)) return;
    const ds = DECLARE.lastIndex;
    GLOBAL_BLOCK.lastIndex = ds;
    if (GLOBAL_BLOCK.exec(src)) {
      const anchor = ex?.h ?? h;
      symbol(h, 'global', 'namespace', scope, 'declare global', docAt(A.start(anchor)), ['declare']);
      const qualified = qualify(scope, 'global', SEP);
      later({ start, end: A.end(h), qualified, kind: 'ns' });
      const body = A.lastNamedChild(h);
      if (body >= 0) work.push([A.namedChildren(body), qualified]);
      return;
    }
    const info: AmbientInfo = { h, exported: ex };
    ambientAt.set(ds, info);
    const inner = A.lastNamedChild(h);
    if (inner < 0 || A.start(inner) !== ds) return;
    const it = A.type(inner);
    if (it === 'internal_module' || it === 'module') namespaceSymbol(inner, scope, ex, info, work);
    else if (it === 'function_signature') signatureSymbol(inner, ds, scope, ex, info);
  };

  moduleLevel();

  // ---- the walk over the listed nodes ----
  for (let i = 0; i < count; i++) {
    const type = A.type(i);
    if (type === null) continue;
    const start = A.start(i);
    const frame = enter(start);
    const scope = frame.qualified;

    switch (type) {
      case 'ERROR':
        errorEnds.push(A.end(i));
        break;

      case 'class':
      case 'function_expression': {
        // only in files with errors: a declaration the parser could keep only as an expression
        while (errorEnds.length && errorEnds[errorEnds.length - 1] <= start) errorEnds.pop();
        if (!errorEnds.length) break;
        const nm = A.child(i, 'name');
        if (nm < 0) break;
        const name = nameText(nm);
        if (type === 'class') classSymbol(i, name, scope, [], start, docAt(start));
        else namedFunctionValue(i, name, 'function', scope, [], start, docAt(start), i, true);
        break;
      }

      case 'call_expression': {
        const nextStart = i + 1 < count ? A.start(i + 1) : -1;
        let callee: string | null = null;
        let name = '';
        let plain = false;
        let identifierOnly = false;
        let isImport = false;
        if (nextStart !== start) {
          // A plain callee read from the text. (A listed node starting here would mean the callee itself starts
          // with a call, `new` or a function, so the text alone is not the callee.)
          if (scanCallee(src, start) || scanCalleeUnicode(src, start)) {
            callee = src.slice(start, calleeEnd);
            name = src.slice(nameStart, nameEnd);
            if (name === 'function' || name === 'class' || name === 'new') callee = null; // `function(){}.call()`
            else {
              plain = !calleeBlank;
              identifierOnly = nameStart === start;
              isImport = identifierOnly && name === 'import';
            }
          }
        } else if (A.type(i + 1) !== null) {
          // `a.b(c).d()`, `new Foo().bar()`: the listed node that starts here, then a plain `.d`
          const innerEnd = A.end(i + 1);
          let q = innerEnd;
          while (isSpace(src.charCodeAt(q))) q++;
          const c0 = src.charCodeAt(q);
          if (
            (c0 === 46 /* . */ || c0 === 63 /* ? */ || c0 === 33 /* ! */) &&
            (scanCallee(src, innerEnd) || scanCalleeUnicode(src, innerEnd))
          ) {
            callee = src.slice(start, calleeEnd);
            name = src.slice(nameStart, nameEnd);
          }
        }
        if (callee === null) {
          const fn = A.child(i, 'function');
          if (fn < 0) break;
          const ft = A.type(fn);
          callee = src.slice(A.start(fn), A.end(fn));
          if (ft === 'await_expression') callee = callee.replace(/^await\s+/, '');
          identifierOnly = ft === 'identifier';
          isImport = ft === 'import';
          const n = calleeName(fn);
          if (n === null) break;
          name = n;
        }
        const line = A.row(i) + 1;
        const col = A.col(i);
        if ((identifierOnly && name === 'require') || isImport) {
          let a = start + callee.length;
          while (isSpace(src.charCodeAt(a))) a++;
          STRING_ARG.lastIndex = a;
          const m = STRING_ARG.exec(src);
          if (m) {
            const mod = m[1] ?? m[2] ?? m[3] ?? '';
            ref(line, col, 'import', mod, scope, mod, false);
            break;
          }
        }
        ref(line, col, 'call', name, scope, callee, plain);
        break;
      }

      case 'new_expression': {
        const line = A.row(i) + 1;
        const col = A.col(i);
        let cs = start + 3;
        while (isSpace(src.charCodeAt(cs))) cs++;
        const nextStart = i + 1 < count ? A.start(i + 1) : -1;
        const plainCallee = cs > start + 3 && nextStart !== cs && (scanCallee(src, cs) || scanCalleeUnicode(src, cs));
        if (plainCallee && src.charCodeAt(calleeEnd) !== 96 /* tagged template: the callee is a call */) {
          const text = src.slice(cs, calleeEnd);
          if (!text.includes('?')) {
            ref(line, col, 'call', src.slice(nameStart, nameEnd), scope, text, !calleeBlank);
            break;
          }
        }
        const ctor = A.child(i, 'constructor');
        if (ctor < 0) break;
        const name = calleeName(ctor);
        if (name !== null) ref(line, col, 'call', name, scope, src.slice(A.start(ctor), A.end(ctor)), false);
        break;
      }

      case 'function_declaration':
      case 'generator_function_declaration': {
        const amb = ambientAt.get(start);
        const ex = exportsAt.get(start) ?? amb?.exported;
        const head = functionHead(i, start, type, ex, amb);
        if (!head) break;
        const { name, flags } = head;
        const end = A.end(i);
        const anchor = ex?.h ?? amb?.h ?? i;
        symbol(i, name, 'function', scope, sigText(src, start, headEnd(i)), docAt(A.start(anchor)), flags);
        open({ start, end, qualified: qualify(scope, name, SEP), kind: 'fn' });
        break;
      }

      case 'class_declaration':
      case 'abstract_class_declaration': {
        const nm = A.child(i, 'name');
        if (nm < 0) break;
        const amb = ambientAt.get(start);
        const ex = exportsAt.get(start) ?? amb?.exported;
        const flags: string[] = [];
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        const mods = new Set<string>();
        const sigStart = modifiersBefore(src, start, A.start(nm), mods);
        if (mods.has('abstract') || type === 'abstract_class_declaration') flags.push('abstract');
        // decorators sit in the class node, or in front of `export` in the export statement
        if ((sigStart > start && src.charCodeAt(start) === 64) || (ex && src.charCodeAt(A.start(ex.h)) === 64)) {
          flags.push('decorated');
        }
        const anchor = ex?.h ?? amb?.h ?? i;
        classSymbol(i, nameText(nm), scope, flags, sigStart, docAt(A.start(anchor)));
        break;
      }

      case 'interface_declaration':
      case 'type_alias_declaration':
      case 'enum_declaration': {
        const nm = A.child(i, 'name');
        if (nm < 0) break;
        const name = nameText(nm);
        const amb = ambientAt.get(start);
        const ex = exportsAt.get(start) ?? amb?.exported;
        const flags: string[] = [];
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        const qualified = qualify(scope, name, SEP);
        const anchor = ex?.h ?? amb?.h ?? i;
        const doc = docAt(A.start(anchor));
        if (type === 'type_alias_declaration') {
          const value = A.child(i, 'value');
          const objectType = value >= 0 && A.type(value) === 'object_type';
          // `type Props = { ... }`: the header stops at the object type, whose members are its properties
          symbol(i, name, 'type', scope, sigText(src, start, objectType ? A.start(value) : A.end(i)), doc, flags);
          if (objectType) typeMembers(value, qualified);
          break;
        }
        const body = A.child(i, 'body');
        const end = A.end(i);
        const sig = sigText(src, start, body >= 0 ? A.start(body) : end);
        if (type === 'interface_declaration') {
          symbol(i, name, 'interface', scope, sig, doc, flags);
          if (body >= 0) typeMembers(body, qualified);
        } else {
          if (startsWithWord(src, start, 'const')) flags.push('const');
          symbol(i, name, 'enum', scope, sig, doc, flags);
          if (body >= 0) enumMembers(body, qualified);
          open({ start, end, qualified, kind: 'member' }); // member initializers
        }
        break;
      }

      case 'variable_declarator': {
        const nameEnd_ = identEnd(src, start);
        if (nameEnd_ < 0) break; // destructuring: nothing is named here
        const name = src.slice(start, nameEnd_);
        const atModuleLevel = frame.kind === 'ns';
        // Where the value starts: from the text for `name = value`; `name: T = value` asks the tree.
        let valueStart = -1;
        let value = -1;
        let q = start + name.length;
        while (isSpace(src.charCodeAt(q))) q++;
        const eq = src.charCodeAt(q) === 61 /* = */ && src.charCodeAt(q + 1) !== 61 && src.charCodeAt(q + 1) !== 62;
        if (eq) {
          q++;
          while (isSpace(src.charCodeAt(q))) q++;
          valueStart = q;
        } else {
          const c = src.charCodeAt(start + name.length);
          if (c === 58 /* : */ || c === 33 /* ! */) {
            value = A.child(i, 'value');
            if (value >= 0) valueStart = A.start(value);
          }
        }
        // Is the value a function or class? Only values that can start one are looked up.
        let valueType: string | null = value >= 0 ? A.type(value) : null;
        if (valueStart >= 0 && value < 0) {
          const c = src.charCodeAt(valueStart);
          let candidate = false;
          if (c === 40 /* ( */ || c === 60 /* < */) candidate = true;
          else if (c === 102 /* f */) candidate = startsWithWord(src, valueStart, 'function');
          else if (c === 97 /* a */) candidate = startsWithWord(src, valueStart, 'async');
          else if (c === 99 /* c */) candidate = startsWithWord(src, valueStart, 'class');
          if (!candidate) {
            // `x => ...`
            let e = identEnd(src, valueStart);
            if (e > 0) {
              while (isSpace(src.charCodeAt(e))) e++;
              candidate = src.charCodeAt(e) === 61 && src.charCodeAt(e + 1) === 62;
            }
          }
          if (candidate) {
            value = A.child(i, 'value');
            valueType = value >= 0 ? A.type(value) : null;
          }
        }
        const isFunction = valueType !== null && FUNCTION_VALUES.has(valueType);
        const isClass = valueType === 'class';
        if (!isFunction && !isClass && !atModuleLevel) break; // a local variable
        // The declaration: its keyword is right before the first declarator; otherwise ask the tree.
        let decl = -1;
        let declStart = keywordBefore(src, start);
        let kw: string;
        if (declStart >= 0) kw = src.slice(declStart, start).trimEnd();
        else {
          decl = A.parent(i);
          if (decl < 0) break;
          declStart = A.start(decl);
          KEYWORD.lastIndex = declStart;
          kw = KEYWORD.exec(src)?.[1] ?? 'var';
        }
        kw = kw.replace(/\s+/, ' ');
        const amb = ambientAt.get(declStart);
        const ex = exportsAt.get(declStart) ?? amb?.exported;
        const topLevel = atModuleLevel && (ex !== undefined || amb !== undefined || moduleStatements.has(declStart));
        if (!isFunction && !isClass && !topLevel) break; // `for (let i = 0; ...)`, a block, a callback's local
        const flags: string[] = [];
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        // the doc sits above the declaration (`/** d */ export const a = 1, b = 2`), for every declarator in it
        const doc = docAt(ex ? A.start(ex.h) : amb ? A.start(amb.h) : declStart);
        if (isClass) {
          classSymbol(value, name, scope, flags, start, doc, i, true, `${kw} `);
          break;
        }
        if (isFunction) {
          functionFlags(valueStart, valueType, flags);
          symbol(i, name, 'function', scope, `${kw} ${sigText(src, start, headEnd(value))}`, doc, flags);
          open({ start, end: A.end(i), qualified: qualify(scope, name, SEP), kind: 'fn' });
          break;
        }
        const end = A.end(i);
        const kind: SymbolKind = kw === 'let' || kw === 'var' ? 'variable' : 'constant';
        symbol(i, name, kind, scope, `${kw} ${sigText(src, start, firstLineEnd(src, start, end))}`, doc, flags);
        if (valueStart >= 0 && src.charCodeAt(valueStart) === 123 /* { */) {
          // `const obj = { a() {}, b: () => {} }`: its functions are members `obj.a`, `obj.b`
          if (value < 0) value = A.child(i, 'value');
          if (value >= 0 && A.type(value) === 'object') objectMembers(value, qualify(scope, name, SEP));
        }
        break;
      }

      case 'assignment_expression': {
        // Most assignments are `this.x = ...` or `x = ...`: rule those out before any regex.
        const idEnd = identEnd(src, start);
        if (idEnd < 0) break;
        let q = idEnd;
        while (isSpace(src.charCodeAt(q))) q++;
        if (src.charCodeAt(q) !== 46 /* . */) break;
        const c0 = src.charCodeAt(start);
        let exportsTarget = false;
        let m: RegExpExecArray | null = null;
        if ((c0 === 109 /* m */ || c0 === 101) /* e */ && (startsWithWord(src, start, 'exports') || startsWithWord(src, start, 'module'))) {
          CJS.lastIndex = start;
          m = CJS.exec(src);
          exportsTarget = m !== null;
        }
        let r = q + 1;
        while (isSpace(src.charCodeAt(r))) r++;
        if (!m && startsWithWord(src, r, 'prototype')) {
          PROTO.lastIndex = start;
          m = PROTO.exec(src);
        }
        if (!m) break;
        const rhs = A.child(i, 'right');
        if (rhs < 0) break;
        const rt = A.type(rhs);
        if (rt === 'object') {
          // `module.exports = { ... }` / `Foo.prototype = { ... }`
          if (!m[2]) objectMembers(rhs, exportsTarget ? null : m[1]);
          break;
        }
        const isFn = rt !== null && FUNCTION_VALUES.has(rt);
        if (!isFn && rt !== 'class') break;
        let name: string;
        let symScope: string | null;
        let kind: SymbolKind;
        const flags: string[] = [];
        if (exportsTarget) {
          symScope = null;
          if (m[2]) name = m[2];
          else {
            // `module.exports = function name() {}` / `= class Name {}`: the value's own name, else `default`
            const nm = A.child(rhs, 'name');
            name = nm >= 0 ? nameText(nm) : 'default';
          }
          flags.push('export');
          if (name === 'default') flags.push('default');
          kind = isFn ? 'function' : 'class';
        } else {
          if (!m[2]) break; // `Foo.prototype = fn` defines no method
          name = m[2];
          symScope = m[1];
          kind = isFn ? 'method' : 'class';
        }
        const doc = docAt(start);
        if (isFn) namedFunctionValue(rhs, name, kind, symScope, flags, start, doc, i, true);
        else classSymbol(rhs, name, symScope, flags, start, doc, i);
        break;
      }
    }
  }

  return { symbols, refs };

  /** Last identifier of a callee that is not a plain dotted chain; unwraps a bounded number of times. */
  function calleeName(fn: number): string | null {
    let h = fn;
    for (let guard = 0; h >= 0 && guard < 16; guard++) {
      switch (A.type(h)) {
        case 'identifier':
        case 'property_identifier':
        case 'private_property_identifier':
        case 'super':
        case 'import':
        case 'this':
          return nameText(h);
        case 'member_expression':
          h = A.child(h, 'property');
          break;
        case 'subscript_expression': {
          const index = A.child(h, 'index');
          return index >= 0 && A.type(index) === 'string' ? unquote(src.slice(A.start(index), A.end(index))) : null;
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
          return null;
      }
    }
    return null;
  }
}
