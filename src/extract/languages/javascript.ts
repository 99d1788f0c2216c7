/**
 * One extractor for JavaScript, TypeScript and TSX. The TypeScript grammars extend the JavaScript one, so the node
 * types overlap; a type a grammar lacks simply never occurs.
 *
 * How it stays cheap (this is the indexer's hot loop; every property read on a node is a call into native code):
 * - ONE native `descendantsOfType(TYPES)` call yields every node of interest in pre-order. Nothing recurses, so a
 *   file nested 10,000 levels deep costs no JS stack.
 * - The node list is read straight from the binding's transfer buffer when the binding is the one this tree came
 *   from (checked per file; see `listNodes`): types and start offsets/positions become plain arrays, and a
 *   SyntaxNode object is made only for the few nodes that need a field lookup. Otherwise the public
 *   `root.descendantsOfType` is used, with the same results.
 * - Scope comes from a stack of container end offsets (document order, no parent walks).
 * - The frequent cases (calls, locals, assignments) are decided from the source text at the node's start, and
 *   fall back to field lookups only when the text is not the plain shape.
 * - Field lookups, end offsets and comments are fetched only for nodes that become symbols.
 *
 * Conventions (also pinned by test/extract/javascript.test.ts):
 * - scope separator '.'; class members `Class.member`; object-literal members `obj.key`; `Foo.prototype.bar =`
 *   is method `Foo.bar`; `exports.foo =`/`module.exports.foo =` is function `foo` flagged `export`;
 *   `module.exports = function () {}` and `export default function () {}` are named `default`.
 * - namespace imports/re-exports (`import * as ns`, `export * from`) are import refs named `*`;
 *   `import a, { b as c } from './m'` gives refs `a` and `b` (the imported name), context './m';
 *   `require('fs')`/`import('fs')` with a literal give one import ref `fs` (no call ref).
 * - class fields are `field` even when their value is an arrow function (calls inside are scoped to the field).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { RefRecord, SymbolKind, SymbolRecord } from '../../protocol/types.js';
import {
  CONTEXT_MAX,
  DOC_MAX,
  SIGNATURE_MAX,
  cleanComment,
  collapse,
  leadingComments,
  qualify,
  type Extraction,
  type SyntaxNode,
} from '../common.js';

const SEP = '.';

/** Everything the walk looks at. */
const BASE_TYPES = [
  // definitions
  'function_declaration',
  'generator_function_declaration',
  'function_signature',
  'class_declaration',
  'abstract_class_declaration',
  'class',
  'method_definition',
  'method_signature',
  'abstract_method_signature',
  'field_definition',
  'public_field_definition',
  'property_signature',
  'interface_declaration',
  'type_alias_declaration',
  'enum_declaration',
  'internal_module',
  'module',
  'ambient_declaration',
  'class_static_block',
  'variable_declarator',
  // anonymous functions: scopes without a name of their own, or values a binding names
  'arrow_function',
  'function_expression',
  'generator_function',
  // references and module structure
  'export_statement',
  'import_statement',
  'call_expression',
  'new_expression',
];
/** Assignments only matter for CommonJS exports and prototype methods; skipped when the text has neither. */
const TYPES_WITH_ASSIGNMENTS = [...BASE_TYPES, 'assignment_expression'];

const FUNCTION_VALUES = new Set(['arrow_function', 'function_expression', 'generator_function', 'function']);

/**
 * What a container is, which decides what the nodes inside it mean:
 * - `ns`: module level (the file, a namespace, `declare module`): declarations become symbols;
 * - `class`/`iface`/`type`/`object`: members become symbols;
 * - `fn`: a named function (only nested named functions/classes become symbols, not its locals);
 * - `anon`: an anonymous function or class (the same, but the scope is the enclosing name);
 * - `member`: a field/property/enum (its initializer belongs to it; nothing inside is a member of anything).
 */
type FrameKind = 'ns' | 'class' | 'iface' | 'type' | 'object' | 'fn' | 'anon' | 'member';

interface Frame {
  end: number;
  qualified: string | null;
  kind: FrameKind;
  /** `object`: the object literal and, once needed, its direct members. */
  object?: SyntaxNode;
  members?: Map<number, Member>;
  /** `object` assigned to `module.exports`: members are exported functions at top level. */
  exportsObject?: boolean;
}

/** A direct member of a named object literal, keyed by where its value (or the method) starts. */
interface Member {
  name: string;
  keyStart: number;
  node: SyntaxNode;
}

interface ExportInfo {
  node: SyntaxNode;
  isDefault: boolean;
}

interface AmbientInfo {
  node: SyntaxNode;
  exported: ExportInfo | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Node listing

/** The nodes of interest in pre-order, as parallel arrays; `node(i)` makes the SyntaxNode only when asked. */
interface Listing {
  count: number;
  /** Node type, or null for an anonymous token that shares a listed name (the `class` keyword). */
  types: (string | null)[];
  /** Per node: [id, id, startByte, startRow, startColumnByte, alias] as tree-sitter marshals it (UTF-16 input). */
  fields: Uint32Array;
  node(i: number): SyntaxNode;
  /** Start offsets, rows and columns of other nodes can be read from their fields (`n[2]`, `n[3]`, `n[4]`). */
  trusted: boolean;
  /** Node-returning lookups (through the binding when listing went through it: no wrapper cache registration). */
  ops: NodeOps;
}

interface NodeOps {
  child(n: SyntaxNode, field: string): SyntaxNode | null;
  parent(n: SyntaxNode): SyntaxNode | null;
  namedChildren(n: SyntaxNode): SyntaxNode[];
  firstNamedChild(n: SyntaxNode): SyntaxNode | null;
  lastNamedChild(n: SyntaxNode): SyntaxNode | null;
  /** Start offsets of the named children (no wrappers needed). */
  childStarts(n: SyntaxNode): number[];
}

const PUBLIC_OPS: NodeOps = {
  child: (n, field) => n.childForFieldName(field),
  parent: (n) => n.parent,
  namedChildren: (n) => n.namedChildren,
  firstNamedChild: (n) => n.firstNamedChild,
  lastNamedChild: (n) => n.lastNamedChild,
  childStarts: (n) => n.namedChildren.map((c) => c.startIndex),
};

/** Numeric transfer fields of a node wrapper. */
type Raw = { [i: number]: number };

type NativeNodeMethod = (tree: unknown, ...args: unknown[]) => unknown;
interface NativeBinding {
  NodeMethods: {
    descendantsOfType: NativeNodeMethod;
    childForFieldName: NativeNodeMethod;
    parent: NativeNodeMethod;
    namedChildren: NativeNodeMethod;
    firstNamedChild: NativeNodeMethod;
    lastNamedChild: NativeNodeMethod;
  };
  nodeTransferArray: Uint32Array;
  Tree: abstract new (...args: never[]) => unknown;
}

type NodeClass = new (tree: unknown) => SyntaxNode;
interface LanguageWithClasses {
  nodeSubclasses?: NodeClass[];
}

const localRequire = createRequire(import.meta.url);
let nativeBinding: NativeBinding | null | undefined;
let directListing = true;

/**
 * Turns the transfer-buffer listing on or off (it is on by default and falls back by itself when the binding is
 * not the expected one). For tests and benchmarks that compare both paths.
 */
export function setDirectListing(enabled: boolean): void {
  directListing = enabled;
}

/** The native addon behind the `tree-sitter` package, if it is the very instance `tree` belongs to. */
function bindingFor(tree: object): NativeBinding | null {
  if (nativeBinding === undefined) {
    nativeBinding = null;
    try {
      const pkg = localRequire.resolve('tree-sitter/package.json');
      const load = createRequire(pkg)('node-gyp-build') as (dir: string) => NativeBinding;
      const b = load(dirname(pkg));
      const m = b?.NodeMethods;
      if (
        m &&
        typeof m.descendantsOfType === 'function' &&
        typeof m.childForFieldName === 'function' &&
        typeof m.parent === 'function' &&
        typeof m.namedChildren === 'function' &&
        typeof m.firstNamedChild === 'function' &&
        typeof m.lastNamedChild === 'function' &&
        b.nodeTransferArray instanceof Uint32Array &&
        typeof b.Tree === 'function'
      ) {
        nativeBinding = b;
      }
    } catch {
      nativeBinding = null;
    }
  }
  return nativeBinding && tree instanceof nativeBinding.Tree ? nativeBinding : null;
}

const typeTables = new WeakMap<object, (string | null)[]>();

/** Named type per type id (null for anonymous tokens), from the wrapper classes the binding made per language. */
function typeTable(language: LanguageWithClasses): (string | null)[] | null {
  const classes = language.nodeSubclasses;
  if (!Array.isArray(classes)) return null;
  let table = typeTables.get(language);
  if (!table) {
    table = classes.map((C) => {
      const d = C ? Object.getOwnPropertyDescriptor(C.prototype, 'type') : undefined;
      return d && typeof d.value === 'string' ? d.value : null;
    });
    typeTables.set(language, table);
  }
  return table;
}

/** The listing through the binding's transfer buffer: no wrapper objects, no per-node cache registration. */
function listDirect(root: SyntaxNode, types: string[]): Listing | null {
  const tree = root.tree as unknown as { language?: LanguageWithClasses };
  const binding = bindingFor(tree);
  const language = tree.language;
  if (!binding || !language) return null;
  const names = typeTable(language);
  const classes = language.nodeSubclasses;
  if (!names || !classes) return null;
  const named = classes.find((C, id) => names[id] !== null);
  if (!named) return null;
  const base = Object.getPrototypeOf(named) as NodeClass;
  const M = binding.NodeMethods;

  const marshal = (n: SyntaxNode): void => {
    const t = binding.nodeTransferArray;
    const r = n as unknown as Raw;
    for (let k = 0; k < 6; k++) t[k] = r[k];
  };
  /** A wrapper for one returned node (type id + fields in the transfer buffer, or an already cached wrapper). */
  const one = (v: unknown): SyntaxNode | null => {
    if (typeof v === 'number') {
      const buf = binding.nodeTransferArray;
      if (buf[0] === 0 && buf[1] === 0) return null;
      const n = new (classes[v] ?? base)(tree);
      const rn = n as unknown as Raw;
      for (let k = 0; k < 6; k++) rn[k] = buf[k];
      return n;
    }
    return v && typeof v === 'object' ? (v as SyntaxNode) : null;
  };
  /** Wrappers for a returned list; the k-th fresh node's fields sit at k*6. */
  const many = (out: unknown): SyntaxNode[] => {
    if (!Array.isArray(out)) return [];
    const buf = binding.nodeTransferArray;
    const result: SyntaxNode[] = [];
    let off = 0;
    for (const v of out) {
      if (typeof v === 'number') {
        const n = new (classes[v] ?? base)(tree);
        const rn = n as unknown as Raw;
        for (let k = 0; k < 6; k++) rn[k] = buf[off + k];
        off += 6;
        result.push(n);
      } else if (v && typeof v === 'object') result.push(v as SyntaxNode);
    }
    return result;
  };
  const ops: NodeOps = {
    child: (n, field) => (marshal(n), one(M.childForFieldName(tree, field))),
    parent: (n) => (marshal(n), one(M.parent(tree))),
    namedChildren: (n) => (marshal(n), many(M.namedChildren(tree))),
    firstNamedChild: (n) => (marshal(n), one(M.firstNamedChild(tree))),
    lastNamedChild: (n) => (marshal(n), one(M.lastNamedChild(tree))),
    childStarts: (n) => {
      marshal(n);
      const out = M.namedChildren(tree);
      if (!Array.isArray(out)) return [];
      const buf = binding.nodeTransferArray;
      const starts: number[] = [];
      let off = 0;
      for (const v of out) {
        if (typeof v === 'number') {
          starts.push(buf[off + 2] >>> 1);
          off += 6;
        } else if (v && typeof v === 'object') starts.push((v as unknown as Raw)[2] >>> 1);
      }
      return starts;
    },
  };

  marshal(root);
  const out = M.descendantsOfType(tree, types);
  if (!Array.isArray(out)) return null;
  const count = out.length;
  let fresh = 0;
  for (let i = 0; i < count; i++) if (typeof out[i] === 'number') fresh++;
  const buf = binding.nodeTransferArray; // may have been replaced by a larger one
  if (buf.length < fresh * 6) return null;
  const fields = new Uint32Array(count * 6);
  const typeIds = new Int32Array(count);
  const listTypes: (string | null)[] = new Array(count);
  const objects: (SyntaxNode | undefined)[] = new Array(count);
  let off = 0;
  for (let i = 0; i < count; i++) {
    const v = out[i];
    const o = i * 6;
    if (typeof v === 'number') {
      for (let k = 0; k < 6; k++) fields[o + k] = buf[off + k];
      off += 6;
      typeIds[i] = v;
      listTypes[i] = names[v] ?? null;
    } else if (v && typeof v === 'object') {
      // already wrapped (cached by the binding): use that object
      const n = v as SyntaxNode;
      const rv = v as Raw;
      for (let k = 0; k < 6; k++) fields[o + k] = rv[k];
      typeIds[i] = -1;
      objects[i] = n;
      listTypes[i] = n.isNamed ? n.type : null;
    } else {
      return null;
    }
  }
  const node = (i: number): SyntaxNode => {
    let n = objects[i];
    if (n) return n;
    n = new (classes[typeIds[i]] ?? base)(tree);
    const rn = n as unknown as Raw;
    const o = i * 6;
    for (let k = 0; k < 6; k++) rn[k] = fields[o + k];
    objects[i] = n;
    return n;
  };
  // The layout is what this code assumes only if a wrapper built from it answers like the listing says.
  if (count > 0) {
    const last = count - 1;
    const probe = node(last);
    const p = probe.startPosition;
    if (
      probe.startIndex !== fields[last * 6 + 2] >>> 1 ||
      p.row !== fields[last * 6 + 3] ||
      p.column !== fields[last * 6 + 4] >>> 1 ||
      (listTypes[last] !== null && probe.type !== listTypes[last])
    ) {
      return null;
    }
  }
  return { count, types: listTypes, fields, node, trusted: true, ops };
}

/** The listing through the public API. */
function listPublic(root: SyntaxNode, types: string[]): Listing {
  const nodes = root.descendantsOfType(types);
  const count = nodes.length;
  const fields = new Uint32Array(count * 6);
  let trusted = count > 0;
  for (const n of count ? [nodes[0], nodes[count - 1]] : []) {
    const r = n as unknown as Raw;
    const p = n.startPosition;
    if (typeof r[2] !== 'number' || r[2] / 2 !== n.startIndex || r[3] !== p.row || r[4] / 2 !== p.column) trusted = false;
  }
  const listTypes: (string | null)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const n = nodes[i];
    const o = i * 6;
    if (trusted) {
      const r = n as unknown as Raw;
      fields[o + 2] = r[2];
      fields[o + 3] = r[3];
      fields[o + 4] = r[4];
    } else {
      const p = n.startPosition;
      fields[o + 2] = n.startIndex * 2;
      fields[o + 3] = p.row;
      fields[o + 4] = p.column * 2;
    }
    const type = n.type;
    listTypes[i] = (type === 'class' || type === 'module') && !n.isNamed ? null : type;
  }
  return { count, types: listTypes, fields, node: (i) => nodes[i], trusted, ops: PUBLIC_OPS };
}

function listNodes(root: SyntaxNode, types: string[]): Listing {
  if (directListing) {
    try {
      const direct = listDirect(root, types);
      if (direct) return direct;
    } catch {
      // fall through to the public API
    }
  }
  return listPublic(root, types);
}

// ---------------------------------------------------------------------------------------------------------------
// Text scanners (sticky or anchored, so they never look past the construct at hand)

const ID_START = String.raw`[\p{ID_Start}$_\\]`;
const ID_CONT = String.raw`[\p{ID_Continue}$\u200c\u200d\\]`;
const IDENT = new RegExp(`#?${ID_START}${ID_CONT}*`, 'uy');
/** A callee made of identifiers, dots, `?.`, `!` and blanks: `this.repo.find`, `a?.b!.c`. */
const CHAIN = new RegExp(String.raw`(?:#?${ID_START}${ID_CONT}*|\?\.|\.|!|\s+)*`, 'uy');
const LAST_NAME = new RegExp(`#?${ID_START}${ID_CONT}*$`, 'u');
const WORD_GAP = new RegExp(String.raw`${ID_CONT}\s+#?${ID_START}`, 'u');
const NEW_KW = /new\s+/y;
const EQ = /\s*=(?![=>])\s*/y;
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
const CJS_HINT = /\bexports\b|\.\s*prototype\b/;

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

function isIdentChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 36 || c === 95 || c > 127;
}

function unquote(text: string): string {
  const c = text.charCodeAt(0);
  return (c === 34 || c === 39 || c === 96) && text.length >= 2 ? text.slice(1, -1) : text;
}

/** Header text from `start` to `end`, blanks collapsed, trailing `{ = : ; ,` dropped, at most SIGNATURE_MAX. */
function sigText(src: string, start: number, end: number): string {
  const limit = start + SIGNATURE_MAX * 8;
  const cut = end > limit;
  const raw = src.slice(start, cut ? limit : end).replace(/[\s:{=;,]+$/, '');
  const s = collapse(raw, SIGNATURE_MAX);
  return cut && !s.endsWith('…') ? s.slice(0, SIGNATURE_MAX - 1) + '…' : s;
}

/** A callee's text as a ref context: collapsed and truncated without collapsing more than it needs. */
function contextText(text: string): string {
  if (text.length <= CONTEXT_MAX * 4) return collapse(text, CONTEXT_MAX);
  const s = collapse(text.slice(0, CONTEXT_MAX * 4), CONTEXT_MAX);
  return s.endsWith('…') ? s : s.slice(0, CONTEXT_MAX - 1) + '…';
}

/** Where the first line of `[start, end)` ends (so a multi-line initializer stays out of a signature). */
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

/** The source before `start` (skipping blanks, and declaration keywords if asked) ends with a block comment. */
function commentBefore(src: string, start: number, skipKeywords: boolean): boolean {
  let i = start;
  for (;;) {
    while (i > 0 && isSpace(src.charCodeAt(i - 1))) i--;
    if (!skipKeywords) break;
    let k = i;
    while (k > 0 && isIdentChar(src.charCodeAt(k - 1))) k--;
    if (k === i) break;
    const word = src.slice(k, i);
    if (word !== 'const' && word !== 'let' && word !== 'var' && word !== 'export' && word !== 'declare') break;
    i = k;
  }
  return i >= 2 && src.charCodeAt(i - 1) === 47 && src.charCodeAt(i - 2) === 42;
}

/** Start of the `const`/`let`/`var`/`using` keyword directly before `start`, or -1. */
function keywordBefore(src: string, start: number): number {
  let i = start;
  while (i > 0 && isSpace(src.charCodeAt(i - 1))) i--;
  let k = i;
  while (k > 0 && isIdentChar(src.charCodeAt(k - 1))) k--;
  if (k === i || (k > 0 && (src.charCodeAt(k - 1) === 46 /* . */ || src.charCodeAt(k - 1) === 35))) return -1;
  const word = src.slice(k, i);
  if (word === 'const' || word === 'let' || word === 'var') return k;
  if (word !== 'using') return -1;
  let j = k;
  while (j > 0 && isSpace(src.charCodeAt(j - 1))) j--;
  return j >= 5 && src.startsWith('await', j - 5) && !isIdentChar(src.charCodeAt(j - 6)) ? j - 5 : k;
}

function isJsDoc(text: string): boolean {
  return text.startsWith('/**');
}

/** The JSDoc block directly above `anchor` (plain `//` and `/* *\/` comments are not docs). */
function docOf(anchor: SyntaxNode): string | null {
  const doc = cleanComment(leadingComments(anchor, isJsDoc));
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

// ---------------------------------------------------------------------------------------------------------------

export function extract(root: SyntaxNode, src: string): Extraction {
  const symbols: SymbolRecord[] = [];
  const refs: RefRecord[] = [];
  const list = listNodes(root, CJS_HINT.test(src) ? TYPES_WITH_ASSIGNMENTS : BASE_TYPES);
  const count = list.count;
  if (count === 0) return { symbols, refs };
  const { types, fields, trusted, ops } = list;

  /** Start offset / row / column of a node that is not in the listing. */
  const startOf = trusted ? (n: SyntaxNode): number => (n as unknown as Raw)[2] >>> 1 : (n: SyntaxNode) => n.startIndex;
  const rowOf = trusted ? (n: SyntaxNode): number => (n as unknown as Raw)[3] : (n: SyntaxNode) => n.startPosition.row;
  const colOf = trusted
    ? (n: SyntaxNode): number => (n as unknown as Raw)[4] >>> 1
    : (n: SyntaxNode) => n.startPosition.column;

  // ---- scope stack (document order only) ----
  const frames: Frame[] = [];
  const TOP: Frame = { end: Infinity, qualified: null, kind: 'ns' };
  /** The innermost container open at `start`; containers that ended before it are closed. */
  const enter = (start: number): Frame => {
    while (frames.length && frames[frames.length - 1].end <= start) frames.pop();
    return frames.length ? frames[frames.length - 1] : TOP;
  };
  const push = (f: Frame): void => {
    frames.push(f);
  };

  const exportsAt = new Map<number, ExportInfo>(); // declaration start -> its export statement
  const ambientAt = new Map<number, AmbientInfo>(); // declaration start -> its `declare` wrapper
  const claimed = new Set<number>(); // starts of function/class values a binding already named
  /** Starts of the statements at module level (the file's, and each namespace body's once seen). */
  const moduleStatements = new Set<number>(ops.childStarts(root));

  const ref = (
    line: number,
    col: number,
    kind: RefRecord['kind'],
    name: string,
    scope: string | null,
    context: string,
  ): void => {
    refs.push({ kind, name, line, col, scope, context: contextText(context) });
  };
  const refAt = (n: SyntaxNode, kind: RefRecord['kind'], name: string, scope: string | null, context: string): void =>
    ref(rowOf(n) + 1, colOf(n), kind, name, scope, context);

  const symbol = (
    n: SyntaxNode,
    name: string,
    kind: SymbolKind,
    scope: string | null,
    signature: string,
    doc: string | null,
    flags: string[] | null,
  ): void => {
    const end = n.endPosition;
    const sym: SymbolRecord = {
      name,
      kind,
      scope,
      qualified: qualify(scope, name, SEP),
      startLine: rowOf(n) + 1,
      startCol: colOf(n),
      endLine: end.row + 1,
      endCol: end.column,
      signature,
      doc,
    };
    if (flags && flags.length) sym.flags = flags;
    symbols.push(sym);
  };

  /** Text of a name node: identifiers by scanning, anything else (strings, computed keys) by its range. */
  const nameText = (n: SyntaxNode): string => {
    const s = startOf(n);
    const type = n.type;
    if (
      type === 'identifier' ||
      type === 'type_identifier' ||
      type === 'property_identifier' ||
      type === 'private_property_identifier' ||
      type === 'shorthand_property_identifier'
    ) {
      IDENT.lastIndex = s;
      const m = IDENT.exec(src);
      if (m) return m[0];
    }
    const text = src.slice(s, n.endIndex);
    return type === 'string' ? unquote(text) : collapse(text, SIGNATURE_MAX);
  };

  const exportFlags = (ex: ExportInfo | undefined, flags: string[]): void => {
    if (!ex) return;
    flags.push('export');
    if (ex.isDefault) flags.push('default');
  };

  /** `async` / `generator` of a function value from its own text and type. */
  const functionFlags = (fnStart: number, type: string, flags: string[]): void => {
    if (src.startsWith('async', fnStart) && !isIdentChar(src.charCodeAt(fnStart + 5))) flags.push('async');
    if (type === 'generator_function' || type === 'generator_function_declaration') flags.push('generator');
  };

  /** Direct members of a named object literal, computed the first time something inside it asks. */
  const membersOf = (f: Frame): Map<number, Member> => {
    if (f.members) return f.members;
    const members = new Map<number, Member>();
    f.members = members;
    if (!f.object) return members;
    for (const child of ops.namedChildren(f.object)) {
      const t = child.type;
      if (t === 'pair') {
        const key = ops.child(child, 'key');
        const value = ops.child(child, 'value');
        if (key && value) members.set(startOf(value), { name: nameText(key), keyStart: startOf(key), node: child });
      } else if (t === 'method_definition') {
        members.set(startOf(child), { name: '', keyStart: -1, node: child });
      }
    }
    return members;
  };

  /** Last identifier of a callee that is not a plain dotted chain; unwraps a bounded number of times. */
  const calleeName = (fn: SyntaxNode): string | null => {
    let n: SyntaxNode | null = fn;
    for (let guard = 0; n && guard < 16; guard++) {
      switch (n.type) {
        case 'identifier':
        case 'property_identifier':
        case 'private_property_identifier':
        case 'super':
        case 'import':
        case 'this':
          return nameText(n);
        case 'member_expression':
          n = ops.child(n, 'property');
          break;
        case 'subscript_expression': {
          const index = ops.child(n, 'index');
          return index && index.type === 'string' ? unquote(src.slice(startOf(index), index.endIndex)) : null;
        }
        case 'parenthesized_expression':
        case 'sequence_expression':
        case 'non_null_expression':
          n = ops.lastNamedChild(n);
          break;
        case 'instantiation_expression':
          n = ops.firstNamedChild(n);
          break;
        default:
          return null;
      }
    }
    return null;
  };

  /** Enum members, from the enum body's children. */
  const enumMembers = (body: SyntaxNode, qualified: string): void => {
    for (const child of ops.namedChildren(body)) {
      const t = child.type;
      let nameNode: SyntaxNode | null = child;
      if (t === 'enum_assignment') nameNode = ops.child(child, 'name');
      else if (t !== 'property_identifier' && t !== 'string' && t !== 'identifier') continue;
      if (!nameNode) continue;
      const s = startOf(child);
      const doc = commentBefore(src, s, false) ? docOf(child) : null;
      const sig = sigText(src, s, firstLineEnd(src, s, child.endIndex));
      symbol(child, nameText(nameNode), 'enum_member', qualified, sig, doc, null);
    }
  };

  for (let i = 0; i < count; i++) {
    const type = types[i];
    if (type === null) continue;
    const o = i * 6;
    const start = fields[o + 2] >>> 1;
    const frame = enter(start);
    const scope = frame.qualified;
    /** Start of the next listed node (a descendant when it starts where this node starts). */
    const nextStart = i + 1 < count ? fields[o + 8] >>> 1 : -1;

    switch (type) {
      // ------------------------------------------------------------------------------------------ references
      case 'call_expression': {
        // Fast path: a plain callee (`foo`, `this.repo.find`, `a?.b`) read from the text. A listed node starting
        // at the same offset means the callee is itself a call/new/function, so the text is not the callee.
        let callee: string | null = null;
        let name: string | null = null;
        let plainIdentifier = false;
        let isImport = false;
        if (nextStart !== start) {
          CHAIN.lastIndex = start;
          CHAIN.exec(src);
          const end = CHAIN.lastIndex;
          const c = src.charCodeAt(end);
          if (end > start && (c === 40 /* ( */ || c === 96 /* ` */ || c === 60 /* < */)) {
            let text = src.slice(start, end).trimEnd();
            if (text.endsWith('?.')) text = text.slice(0, -2).trimEnd();
            while (text.endsWith('!')) text = text.slice(0, -1);
            if (text.length && !text.endsWith('.') && !WORD_GAP.test(text)) {
              const m = LAST_NAME.exec(text);
              if (m) {
                callee = text;
                name = m[0];
                plainIdentifier = text === name;
                isImport = plainIdentifier && name === 'import';
              }
            }
          }
        }
        if (callee === null && nextStart === start && types[i + 1] !== null) {
          // `a.b(c).d()`, `new Foo().bar()`: the callee is the listed node that starts here, then `.d`
          const innerEnd = list.node(i + 1).endIndex;
          CHAIN.lastIndex = innerEnd;
          CHAIN.exec(src);
          const end = CHAIN.lastIndex;
          const c = src.charCodeAt(end);
          const c0 = src.charCodeAt(innerEnd);
          if (end > innerEnd && (c === 40 || c === 96 || c === 60) && (c0 === 46 /* . */ || c0 === 63 /* ? */ || c0 === 33 /* ! */ || isSpace(c0))) {
            let text = src.slice(innerEnd, end).trimEnd();
            if (text.endsWith('?.')) text = text.slice(0, -2).trimEnd();
            while (text.endsWith('!')) text = text.slice(0, -1);
            if (text.length && !text.endsWith('.') && !WORD_GAP.test(text)) {
              const m = LAST_NAME.exec(text);
              if (m) {
                callee = src.slice(start, innerEnd) + text;
                name = m[0];
              }
            }
          }
        }
        if (callee === null) {
          const fn = ops.child(list.node(i), 'function');
          if (!fn) break;
          callee = src.slice(startOf(fn), fn.endIndex);
          const ft = fn.type;
          plainIdentifier = ft === 'identifier';
          isImport = ft === 'import';
          name = calleeName(fn);
          if (name === null) break;
        }
        const line = fields[o + 3] + 1;
        const col = fields[o + 4] >>> 1;
        if ((plainIdentifier && name === 'require') || isImport) {
          let a = start + callee.length;
          while (isSpace(src.charCodeAt(a))) a++;
          STRING_ARG.lastIndex = a;
          const m = STRING_ARG.exec(src);
          if (m) {
            const mod = m[1] ?? m[2] ?? m[3] ?? '';
            ref(line, col, 'import', mod, scope, mod);
            break;
          }
        }
        ref(line, col, 'call', name!, scope, callee);
        break;
      }

      case 'new_expression': {
        const line = fields[o + 3] + 1;
        const col = fields[o + 4] >>> 1;
        NEW_KW.lastIndex = start;
        if (NEW_KW.exec(src)) {
          const cs = NEW_KW.lastIndex;
          CHAIN.lastIndex = cs;
          CHAIN.exec(src);
          const end = CHAIN.lastIndex;
          const c = src.charCodeAt(end);
          if (end > cs && (c === 40 || c === 60) && nextStart !== cs) {
            const text = src.slice(cs, end).trimEnd();
            if (text.length && !text.endsWith('.') && !text.includes('?') && !WORD_GAP.test(text)) {
              const m = LAST_NAME.exec(text);
              if (m) {
                ref(line, col, 'call', m[0], scope, text);
                break;
              }
            }
          }
        }
        const ctor = ops.child(list.node(i), 'constructor');
        if (!ctor) break;
        const name = calleeName(ctor);
        if (name !== null) ref(line, col, 'call', name, scope, src.slice(startOf(ctor), ctor.endIndex));
        break;
      }

      case 'import_statement': {
        const node = list.node(i);
        const source = ops.child(node, 'source');
        const mod = source ? unquote(src.slice(startOf(source), source.endIndex)) : '';
        let any = false;
        for (const child of ops.namedChildren(node)) {
          const t = child.type;
          if (t === 'import_clause') {
            for (const part of ops.namedChildren(child)) {
              const pt = part.type;
              if (pt === 'identifier') {
                refAt(part, 'import', nameText(part), scope, mod);
                any = true;
              } else if (pt === 'namespace_import') {
                refAt(part, 'import', '*', scope, mod);
                any = true;
              } else if (pt === 'named_imports') {
                for (const spec of ops.namedChildren(part)) {
                  if (spec.type !== 'import_specifier') continue;
                  const nm = ops.child(spec, 'name');
                  if (nm) {
                    refAt(spec, 'import', nameText(nm), scope, mod);
                    any = true;
                  }
                }
              }
            }
          } else if (t === 'import_require_clause') {
            // `import fs = require('fs')`
            const req = ops.child(child, 'source');
            const m = req ? unquote(src.slice(startOf(req), req.endIndex)) : mod;
            refAt(child, 'import', m, scope, m);
            any = true;
          }
        }
        if (!any && source) refAt(node, 'import', mod, scope, mod); // side effect only: `import './x'`
        break;
      }

      case 'export_statement': {
        const node = list.node(i);
        const source = ops.child(node, 'source');
        if (source) {
          // re-exports import from the other module
          const mod = unquote(src.slice(startOf(source), source.endIndex));
          let any = false;
          for (const child of ops.namedChildren(node)) {
            const t = child.type;
            if (t === 'export_clause') {
              for (const spec of ops.namedChildren(child)) {
                if (spec.type !== 'export_specifier') continue;
                const nm = ops.child(spec, 'name');
                if (nm) {
                  refAt(spec, 'import', nameText(nm), scope, mod);
                  any = true;
                }
              }
            } else if (t === 'namespace_export') {
              refAt(child, 'import', '*', scope, mod);
              any = true;
            }
          }
          if (!any) refAt(node, 'import', '*', scope, mod); // `export * from './m'`
          break;
        }
        const decl = ops.child(node, 'declaration') ?? ops.child(node, 'value');
        if (!decl) break;
        const ds = startOf(decl);
        const isDefault = EXPORT_DEFAULT.test(src.slice(start, ds));
        exportsAt.set(ds, { node, isDefault });
        if (isDefault && decl.type === 'object') {
          // `export default { ... }` (a Vue component, a config): members scoped to `default`
          push({ end: decl.endIndex, qualified: qualify(scope, 'default', SEP), kind: 'object', object: decl });
        }
        break;
      }

      case 'ambient_declaration': {
        DECLARE.lastIndex = start;
        if (!DECLARE.exec(src)) break;
        const ds = DECLARE.lastIndex;
        const node = list.node(i);
        const exported = exportsAt.get(start);
        GLOBAL_BLOCK.lastIndex = ds;
        if (GLOBAL_BLOCK.exec(src)) {
          const anchor = exported?.node ?? node;
          const doc = commentBefore(src, startOf(anchor), false) ? docOf(anchor) : null;
          symbol(node, 'global', 'namespace', scope, 'declare global', doc, ['declare']);
          const body = ops.lastNamedChild(node);
          if (body) for (const s of ops.childStarts(body)) moduleStatements.add(s);
          push({ end: node.endIndex, qualified: qualify(scope, 'global', SEP), kind: 'ns' });
          break;
        }
        ambientAt.set(ds, { node, exported });
        break;
      }

      // ----------------------------------------------------------------------------------------- definitions
      case 'function_declaration':
      case 'generator_function_declaration':
      case 'function_signature': {
        const node = list.node(i);
        let name: string;
        const flags: string[] = [];
        const amb = ambientAt.get(start);
        const ex = exportsAt.get(start) ?? amb?.exported;
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        FUNCTION_HEAD.lastIndex = start;
        const m = FUNCTION_HEAD.exec(src);
        if (m) {
          name = m[3];
          if (m[1]) flags.push('async');
          if (m[2]) flags.push('generator');
        } else {
          const nm = ops.child(node, 'name');
          if (!nm) break;
          name = nameText(nm);
          functionFlags(start, type, flags);
        }
        const body = type === 'function_signature' ? null : ops.child(node, 'body');
        const end = node.endIndex;
        const sig = sigText(src, start, body ? startOf(body) : end);
        const anchor = ex?.node ?? amb?.node ?? node;
        const doc = commentBefore(src, startOf(anchor), false) ? docOf(anchor) : null;
        symbol(node, name, 'function', scope, sig, doc, flags);
        if (body) push({ end, qualified: qualify(scope, name, SEP), kind: 'fn' });
        break;
      }

      case 'class':
      case 'class_declaration':
      case 'abstract_class_declaration': {
        if (type === 'class') {
          if (claimed.delete(start)) break; // `const C = class {}`: the binding named it
          if (!exportsAt.has(start)) {
            push({ end: list.node(i).endIndex, qualified: scope, kind: 'anon' });
            break;
          }
        }
        const node = list.node(i);
        const nm = ops.child(node, 'name');
        const amb = ambientAt.get(start);
        const ex = exportsAt.get(start) ?? amb?.exported;
        const name = nm ? nameText(nm) : ex?.isDefault ? 'default' : null;
        const end = node.endIndex;
        if (name === null) {
          push({ end, qualified: scope, kind: 'anon' });
          break;
        }
        const body = ops.child(node, 'body');
        const flags: string[] = [];
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        const mods = new Set<string>();
        const sigStart = nm ? modifiersBefore(src, start, startOf(nm), mods) : start;
        if (mods.has('abstract') || type === 'abstract_class_declaration') flags.push('abstract');
        if (sigStart > start && src.charCodeAt(start) === 64 /* @ */) flags.push('decorated');
        const sig = sigText(src, sigStart, body ? startOf(body) : end);
        const anchor = ex?.node ?? amb?.node ?? node;
        const doc = commentBefore(src, startOf(anchor), false) ? docOf(anchor) : null;
        symbol(node, name, 'class', scope, sig, doc, flags);
        push({ end, qualified: qualify(scope, name, SEP), kind: 'class' });
        break;
      }

      case 'arrow_function':
      case 'function_expression':
      case 'generator_function': {
        if (claimed.delete(start)) break;
        const ex = exportsAt.get(start);
        if (ex && ex.isDefault) {
          // `export default function () {}` / `export default () => {}`
          const node = list.node(i);
          const end = node.endIndex;
          const body = ops.child(node, 'body');
          const nm = type === 'arrow_function' ? null : ops.child(node, 'name');
          const name = nm ? nameText(nm) : 'default';
          const flags: string[] = [];
          exportFlags(ex, flags);
          functionFlags(start, type, flags);
          const sig = sigText(src, start, body ? startOf(body) : end);
          const doc = commentBefore(src, startOf(ex.node), false) ? docOf(ex.node) : null;
          symbol(node, name, 'function', scope, sig, doc, flags);
          push({ end, qualified: qualify(scope, name, SEP), kind: 'fn' });
          break;
        }
        if (frame.kind === 'object') {
          const member = membersOf(frame).get(start);
          if (member && member.keyStart >= 0) {
            // `{ b: () => {} }`: the key names it, and the signature runs from the key
            const node = list.node(i);
            const key = member.name;
            const end = node.endIndex;
            const body = ops.child(node, 'body');
            const flags: string[] = [];
            if (frame.exportsObject) flags.push('export');
            functionFlags(start, type, flags);
            const sig = sigText(src, member.keyStart, body ? startOf(body) : end);
            const doc = commentBefore(src, member.keyStart, false) ? docOf(member.node) : null;
            symbol(node, key, frame.exportsObject ? 'function' : 'method', scope, sig, doc, flags);
            push({ end, qualified: qualify(scope, key, SEP), kind: 'fn' });
            break;
          }
        }
        break; // anonymous: calls inside belong to the enclosing definition
      }

      case 'method_definition': {
        const k = frame.kind;
        const inObject = k === 'object' && membersOf(frame).has(start);
        if (k !== 'class' && !inObject) break;
        const node = list.node(i);
        const nm = k === 'class' || inObject ? ops.child(node, 'name') : null;
        if (!nm) break; // a method of an unnamed object: like an anonymous function
        const name = nameText(nm);
        const mods = new Set<string>();
        const sigStart = modifiersBefore(src, start, startOf(nm), mods);
        let kind: SymbolKind = 'method';
        if (mods.has('get')) kind = 'getter';
        else if (mods.has('set')) kind = 'setter';
        else if (name === 'constructor' && k === 'class' && !mods.has('static')) kind = 'constructor';
        const exported = inObject && frame.exportsObject === true;
        if (exported && kind === 'method') kind = 'function';
        const flags = memberFlags(mods, sigStart > start);
        if (exported) flags.unshift('export');
        const body = ops.child(node, 'body');
        const end = node.endIndex;
        const sig = sigText(src, sigStart, body ? startOf(body) : end);
        const doc = commentBefore(src, start, false) ? docOf(node) : null;
        symbol(node, name, kind, scope, sig, doc, flags);
        push({ end, qualified: qualify(scope, name, SEP), kind: 'fn' });
        break;
      }

      case 'class_static_block': {
        if (frame.kind === 'class') push({ end: list.node(i).endIndex, qualified: scope, kind: 'member' });
        break;
      }

      case 'method_signature':
      case 'abstract_method_signature':
      case 'property_signature':
      case 'field_definition':
      case 'public_field_definition': {
        const k = frame.kind;
        const isField = type === 'field_definition' || type === 'public_field_definition';
        const ok =
          isField || type === 'abstract_method_signature'
            ? k === 'class'
            : type === 'property_signature'
              ? k === 'iface' || k === 'type'
              : k === 'class' || k === 'iface' || k === 'type';
        if (!ok) break;
        const node = list.node(i);
        const nm = ops.child(node, type === 'field_definition' ? 'property' : 'name');
        if (!nm) break;
        const end = node.endIndex;
        const name = nameText(nm);
        const mods = new Set<string>();
        const sigStart = modifiersBefore(src, start, startOf(nm), mods);
        let kind: SymbolKind;
        if (isField) kind = 'field';
        else if (type === 'property_signature') kind = 'property';
        else kind = mods.has('get') ? 'getter' : mods.has('set') ? 'setter' : 'method';
        if (type === 'abstract_method_signature') mods.add('abstract');
        const flags = memberFlags(mods, sigStart > start);
        // a field's signature stops at the end of its first line (an initializer can be a whole object)
        const sig = sigText(src, sigStart, isField ? firstLineEnd(src, sigStart, end) : end);
        const doc = commentBefore(src, start, false) ? docOf(node) : null;
        symbol(node, name, kind, scope, sig, doc, flags);
        push({ end, qualified: qualify(scope, name, SEP), kind: 'member' });
        break;
      }

      case 'variable_declarator': {
        IDENT.lastIndex = start;
        const idm = IDENT.exec(src);
        if (!idm) break; // destructuring: nothing is named here
        const name = idm[0];
        const moduleLevel = frame.kind === 'ns';
        // Where the value starts: from the text when it is `name = value`, else (`name: T = value`) by lookup.
        let valueStart = -1;
        let valueNode: SyntaxNode | null = null;
        EQ.lastIndex = start + name.length;
        if (EQ.exec(src)) valueStart = EQ.lastIndex;
        else {
          const c = src.charCodeAt(start + name.length);
          if (c === 58 /* : */ || c === 33 /* ! */) {
            valueNode = ops.child(list.node(i), 'value');
            if (valueNode) valueStart = startOf(valueNode);
          }
        }
        // A function or class value is the next listed node, starting where the value starts and ending with it.
        let fnIndex = -1;
        let end = -1;
        if (valueStart >= 0 && nextStart === valueStart) {
          const nt = types[i + 1];
          if (nt !== null && (FUNCTION_VALUES.has(nt) || nt === 'class')) {
            end = list.node(i).endIndex;
            if (list.node(i + 1).endIndex === end) fnIndex = i + 1;
          }
        }
        if (fnIndex < 0 && !moduleLevel) break; // a local variable
        const node = list.node(i);
        // The declaration: its keyword is right before the first declarator; otherwise ask the tree.
        let decl: SyntaxNode | null = null;
        let declStart = keywordBefore(src, start);
        let kw: string;
        if (declStart >= 0) kw = src.slice(declStart, start).trimEnd();
        else {
          decl = ops.parent(node);
          if (!decl) break;
          declStart = startOf(decl);
          KEYWORD.lastIndex = declStart;
          kw = KEYWORD.exec(src)?.[1] ?? 'var';
        }
        kw = kw.replace(/\s+/, ' ');
        const amb = ambientAt.get(declStart);
        const ex = exportsAt.get(declStart) ?? amb?.exported;
        const topLevel = moduleLevel && (ex !== undefined || amb !== undefined || moduleStatements.has(declStart));
        if (fnIndex < 0 && !topLevel) break; // e.g. `for (let i = 0; ...)`, a block, a callback at module level
        const flags: string[] = [];
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        if (end < 0) end = node.endIndex;
        let doc: string | null = null;
        if (commentBefore(src, start, true) || commentBefore(src, ex ? startOf(ex.node) : amb ? startOf(amb.node) : declStart, false)) {
          const anchor = ex?.node ?? amb?.node ?? decl ?? ops.parent(node);
          if (anchor) doc = docOf(anchor);
        }
        if (fnIndex >= 0) {
          const fnNode = list.node(fnIndex);
          const ft = types[fnIndex]!;
          const fs = startOf(fnNode);
          claimed.add(fs);
          const body = ops.child(fnNode, 'body');
          const sig = sigText(src, start, body ? startOf(body) : end);
          const isClass = ft === 'class';
          if (!isClass) functionFlags(fs, ft, flags);
          symbol(node, name, isClass ? 'class' : 'function', scope, `${kw} ${sig}`, doc, flags);
          push({ end, qualified: qualify(scope, name, SEP), kind: isClass ? 'class' : 'fn' });
          break;
        }
        const kind: SymbolKind = kw === 'let' || kw === 'var' ? 'variable' : 'constant';
        const sig = sigText(src, start, firstLineEnd(src, start, end));
        symbol(node, name, kind, scope, `${kw} ${sig}`, doc, flags);
        if (valueStart >= 0 && src.charCodeAt(valueStart) === 123 /* { */) {
          // `const obj = { a() {}, b: () => {} }`: its functions are members `obj.a`, `obj.b`
          valueNode ??= ops.child(node, 'value');
          if (valueNode && valueNode.type === 'object') {
            push({ end, qualified: qualify(scope, name, SEP), kind: 'object', object: valueNode });
          }
        }
        break;
      }

      case 'assignment_expression': {
        const c0 = src.charCodeAt(start);
        let target: 'exports' | 'proto' | null = null;
        let m: RegExpExecArray | null = null;
        if (c0 === 109 /* m */ || c0 === 101 /* e */) {
          CJS.lastIndex = start;
          m = CJS.exec(src);
          if (m) target = 'exports';
        }
        if (!target) {
          PROTO.lastIndex = start;
          m = PROTO.exec(src);
          if (m) target = 'proto';
        }
        if (!target || !m) break;
        const node = list.node(i);
        const rhs = ops.child(node, 'right');
        if (!rhs) break;
        const rt = rhs.type;
        const rs = startOf(rhs);
        const end = node.endIndex;
        if (rt === 'object') {
          // `module.exports = { ... }` / `Foo.prototype = { ... }`
          if (!m[2] && target === 'exports') push({ end, qualified: null, kind: 'object', object: rhs, exportsObject: true });
          else if (!m[2]) push({ end, qualified: m[1], kind: 'object', object: rhs });
          break;
        }
        const isFn = FUNCTION_VALUES.has(rt);
        if (!isFn && rt !== 'class') break;
        let name: string;
        let symScope: string | null;
        let kind: SymbolKind;
        const flags: string[] = [];
        if (target === 'exports') {
          symScope = null;
          if (m[2]) name = m[2];
          else {
            // `module.exports = function name() {}` / `class Name {}`: the value's own name, else `default`
            const nm = ops.child(rhs, 'name');
            name = nm ? nameText(nm) : 'default';
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
        if (isFn) functionFlags(rs, rt, flags);
        claimed.add(rs);
        const body = ops.child(rhs, 'body');
        const sig = sigText(src, start, body ? startOf(body) : end);
        let doc: string | null = null;
        if (commentBefore(src, start, false)) {
          const stmt = ops.parent(node); // comments are siblings of the expression statement
          doc = docOf(stmt && stmt.type === 'expression_statement' ? stmt : node);
        }
        symbol(node, name, kind, symScope, sig, doc, flags);
        push({ end, qualified: qualify(symScope, name, SEP), kind: isFn ? 'fn' : 'class' });
        break;
      }

      case 'interface_declaration':
      case 'type_alias_declaration':
      case 'enum_declaration':
      case 'internal_module':
      case 'module': {
        const node = list.node(i);
        const nm = ops.child(node, 'name');
        if (!nm) break;
        const name = nameText(nm);
        const amb = ambientAt.get(start);
        const ex = exportsAt.get(start) ?? amb?.exported;
        const flags: string[] = [];
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        const end = node.endIndex;
        let kind: SymbolKind;
        let bodyStart = end;
        let frameKind: FrameKind | null = null;
        let body: SyntaxNode | null = null;
        if (type === 'type_alias_declaration') {
          kind = 'type';
          const value = ops.child(node, 'value');
          if (value && value.type === 'object_type') {
            // `type Props = { ... }`: its members are properties of the type
            bodyStart = startOf(value);
            frameKind = 'type';
          }
        } else {
          body = ops.child(node, 'body');
          if (body) bodyStart = startOf(body);
          if (type === 'interface_declaration') {
            kind = 'interface';
            frameKind = 'iface';
          } else if (type === 'enum_declaration') {
            kind = 'enum';
            frameKind = 'member';
            if (src.startsWith('const', start)) flags.push('const');
          } else {
            kind = 'namespace';
            frameKind = 'ns';
          }
        }
        const sig = sigText(src, start, bodyStart);
        let anchor = ex?.node ?? amb?.node ?? node;
        let doc: string | null = null;
        if (commentBefore(src, startOf(anchor), false)) {
          if (anchor === node && type === 'internal_module') {
            const stmt = ops.parent(node); // `namespace X {}` sits in an expression statement
            if (stmt && stmt.type === 'expression_statement') anchor = stmt;
          }
          doc = docOf(anchor);
        }
        symbol(node, name, kind, scope, sig, doc, flags);
        const qualified = qualify(scope, name, SEP);
        if (type === 'enum_declaration' && body) enumMembers(body, qualified);
        if (frameKind === 'ns' && body) for (const s of ops.childStarts(body)) moduleStatements.add(s);
        if (frameKind) push({ end, qualified, kind: frameKind });
        break;
      }
    }
  }

  return { symbols, refs };
}
