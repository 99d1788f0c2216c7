/**
 * One extractor for JavaScript, TypeScript and TSX (the TypeScript grammars extend the JavaScript one, so the
 * node types overlap; types a grammar lacks simply never occur).
 *
 * Performance shape (this is the indexer's hot loop, and every property read on a node is a call into the
 * native tree):
 * - one `descendantsOfType(TYPES)` call yields every node of interest in pre-order; nothing recurses, so a
 *   file nested 10,000 levels deep costs no JS stack;
 * - scope comes from a stack of container end offsets (ranges only, no parent walks);
 * - start offsets and start positions are read from the node wrapper's transfer fields when they check out
 *   against the public getters for this tree (see `layoutOk`), otherwise from the getters;
 * - the hot cases (calls, local variables, assignments) are decided from the source text at the node's start,
 *   and only fall back to field lookups when the text is not the plain shape;
 * - field lookups, end offsets and comments are fetched only for nodes that become symbols.
 */
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

/** Everything the walk looks at. Names missing from a grammar (e.g. TS-only types in JS) are ignored by tree-sitter. */
const TYPES = [
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
  'variable_declarator',
  'assignment_expression',
  // anonymous functions: scopes without a name of their own
  'arrow_function',
  'function_expression',
  'generator_function',
  // references and export/import structure
  'export_statement',
  'import_statement',
  'call_expression',
  'new_expression',
];

const FUNCTION_VALUES = new Set(['arrow_function', 'function_expression', 'generator_function', 'function']);

/**
 * What a container is, which decides what nodes inside it mean:
 * - `top`/`ns`: module level (declarations become symbols)
 * - `class`/`iface`/`type`/`object`: members become symbols
 * - `fn`: a named function (only nested named functions/classes become symbols, not locals)
 * - `anon`: an anonymous function or class (same, but the scope is the enclosing name)
 * - `member`: a field/property/enum (its initializer belongs to it; nothing inside is a member of anything)
 */
type FrameKind = 'ns' | 'class' | 'iface' | 'type' | 'object' | 'fn' | 'anon' | 'member';

interface Frame {
  end: number;
  qualified: string | null;
  kind: FrameKind;
  /** `ns`: where the body block starts (declarations directly in it are module level). */
  bodyStart?: number;
  /** `object`: the object literal and, once needed, its direct members (value start -> property name). */
  object?: SyntaxNode;
  members?: Map<number, Member>;
  /** `object` bound to `module.exports`: members are exported functions at top level. */
  exportsObject?: boolean;
}

/** A direct member of a named object literal, keyed by where its value (or method) starts. */
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
// Text scanners (all sticky or anchored, so they never look further than the construct at hand)

const ID_START = String.raw`[\p{ID_Start}$_\\]`;
const ID_CONT = String.raw`[\p{ID_Continue}$\u200c\u200d\\]`;
const IDENT = new RegExp(`#?${ID_START}${ID_CONT}*`, 'uy');
/** A callee made of identifiers, dots, `?.`, `!` and whitespace: `this.repo.find`, `a?.b!.c`. */
const CHAIN = new RegExp(String.raw`(?:#?${ID_START}${ID_CONT}*|\?\.|\.|!|\s+)*`, 'uy');
const LAST_NAME = new RegExp(`#?${ID_START}${ID_CONT}*$`, 'u');
const WORD_GAP = new RegExp(String.raw`${ID_CONT}\s+#?${ID_START}`, 'u');
const NEW_KW = /new\s+/y;
const EQ = /\s*=(?![=>])\s*/y;
const STRING_ARG = /\(\s*(?:'([^'\\\n]*)'|"([^"\\\n]*)"|`([^`\\$]*)`)\s*[,)]/y;
const CJS = new RegExp(String.raw`(module\s*\.\s*exports|exports)(?:\s*\.\s*(${ID_START}${ID_CONT}*))?\s*=(?![=>])\s*`, 'uy');
const PROTO = new RegExp(String.raw`(${ID_START}${ID_CONT}*)\s*\.\s*prototype(?:\s*\.\s*(${ID_START}${ID_CONT}*))?\s*=(?![=>])\s*`, 'uy');
const FUNCTION_HEAD = new RegExp(String.raw`(async\s+)?function\s*(\*)?\s*(${ID_START}${ID_CONT}*)`, 'uy');
const DECLARE = /declare\s+/y;
const GLOBAL_BLOCK = /global\s*\{/y;
const EXPORT_DEFAULT = /\bexport\s+default\b/;
const KEYWORD = /(const|let|var|using|await\s+using)\b/y;

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
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 36 || c === 95 || c > 127
  );
}

function unquote(text: string): string {
  const c = text.charCodeAt(0);
  return (c === 34 || c === 39 || c === 96) && text.length >= 2 ? text.slice(1, -1) : text;
}

/** Header text from `start` to `end` (exclusive), whitespace collapsed, trailing `{ = : ;` dropped. */
function sigText(src: string, start: number, end: number): string {
  const limit = start + SIGNATURE_MAX * 8;
  const cut = end > limit;
  const raw = src.slice(start, cut ? limit : end).replace(/[\s:{=;,]+$/, '');
  const s = collapse(raw, SIGNATURE_MAX);
  return cut && !s.endsWith('…') ? s.slice(0, SIGNATURE_MAX - 1) + '…' : s;
}

/** The first line of a header (for values that would drag a whole object literal into the signature). */
function firstLine(src: string, start: number, end: number): number {
  const nl = src.indexOf('\n', start);
  return nl >= 0 && nl < end ? nl : end;
}

/**
 * Modifier words directly before `nameStart` (`static async *`, `private readonly`, `export default class`),
 * scanning backwards over the source. Returns where the run starts, so decorators in front are left out.
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

/** True when the source before `start` (skipping blanks) ends with a block comment: maybe a JSDoc. */
function blockCommentBefore(src: string, start: number): boolean {
  let i = start;
  while (i > 0 && isSpace(src.charCodeAt(i - 1))) i--;
  return i >= 2 && src.charCodeAt(i - 1) === 47 && src.charCodeAt(i - 2) === 42;
}

/** Text before `start` (skipping blanks and declaration keywords) ends with a block comment. */
function blockCommentBeforeDeclaration(src: string, start: number): boolean {
  let i = start;
  for (;;) {
    while (i > 0 && isSpace(src.charCodeAt(i - 1))) i--;
    let k = i;
    while (k > 0 && isIdentChar(src.charCodeAt(k - 1))) k--;
    if (k === i) break;
    const word = src.slice(k, i);
    if (word !== 'const' && word !== 'let' && word !== 'var' && word !== 'export' && word !== 'declare') break;
    i = k;
  }
  return i >= 2 && src.charCodeAt(i - 1) === 47 && src.charCodeAt(i - 2) === 42;
}

function isJsDoc(text: string): boolean {
  return text.startsWith('/**');
}

function docOf(anchor: SyntaxNode): string | null {
  const doc = cleanComment(leadingComments(anchor, isJsDoc));
  return doc && doc.length > DOC_MAX ? doc.slice(0, DOC_MAX - 1) + '…' : doc;
}

// ---------------------------------------------------------------------------------------------------------------

/** Raw transfer fields of a node wrapper: [id, id, startByte, startRow, startColumnBytes, alias] (UTF-16 input). */
type Raw = { [i: number]: unknown };

/** Whether this tree's node wrappers carry start offsets in fields 2..4 the way tree-sitter 0.25 does. */
function layoutOk(nodes: SyntaxNode[]): boolean {
  for (const n of [nodes[0], nodes[nodes.length - 1]]) {
    const r = n as unknown as Raw;
    if (typeof r[2] !== 'number' || typeof r[3] !== 'number' || typeof r[4] !== 'number') return false;
    const p = n.startPosition;
    if (r[2] / 2 !== n.startIndex || r[3] !== p.row || r[4] / 2 !== p.column) return false;
  }
  return true;
}

export function extract(root: SyntaxNode, src: string): Extraction {
  const symbols: SymbolRecord[] = [];
  const refs: RefRecord[] = [];
  const nodes = root.descendantsOfType(TYPES);
  const count = nodes.length;
  if (count === 0) return { symbols, refs };

  const fast = layoutOk(nodes);
  const startOf = fast
    ? (n: SyntaxNode): number => ((n as unknown as Raw)[2] as number) >>> 1
    : (n: SyntaxNode): number => n.startIndex;
  const rowOf = fast ? (n: SyntaxNode): number => (n as unknown as Raw)[3] as number : (n: SyntaxNode) => n.startPosition.row;
  const colOf = fast
    ? (n: SyntaxNode): number => ((n as unknown as Raw)[4] as number) >>> 1
    : (n: SyntaxNode) => n.startPosition.column;

  // ---- scope stack (document order only) ----
  const frames: Frame[] = [];
  const TOP: Frame = { end: Infinity, qualified: null, kind: 'ns', bodyStart: -1 };
  /** The innermost container open at `start` (containers that ended before it are closed). */
  const enter = (start: number): Frame => {
    while (frames.length && frames[frames.length - 1].end <= start) frames.pop();
    return frames.length ? frames[frames.length - 1] : TOP;
  };
  const push = (f: Frame): void => {
    frames.push(f);
  };

  const exportsAt = new Map<number, ExportInfo>(); // declaration start -> its export statement
  const ambientAt = new Map<number, AmbientInfo>(); // declaration start -> its `declare` wrapper
  const claimed = new Set<number>(); // starts of function/class values already named by a binding

  const addRef = (n: SyntaxNode, kind: RefRecord['kind'], name: string, scope: string | null, context: string): void => {
    refs.push({
      kind,
      name,
      line: rowOf(n) + 1,
      col: colOf(n),
      scope,
      context: collapse(context, CONTEXT_MAX),
    });
  };

  const addSymbol = (
    n: SyntaxNode,
    name: string,
    kind: SymbolKind,
    scope: string | null,
    signature: string,
    doc: string | null,
    flags: string[] | null,
  ): SymbolRecord => {
    const endPos = n.endPosition;
    const sym: SymbolRecord = {
      name,
      kind,
      scope,
      qualified: qualify(scope, name, SEP),
      startLine: rowOf(n) + 1,
      startCol: colOf(n),
      endLine: endPos.row + 1,
      endCol: endPos.column,
      signature,
      doc,
    };
    if (flags && flags.length) sym.flags = flags;
    symbols.push(sym);
    return sym;
  };

  /** Name text of a name node: identifiers by scanning, anything else (strings, computed keys) by its range. */
  const nameText = (n: SyntaxNode): string => {
    const s = startOf(n);
    IDENT.lastIndex = s;
    const m = IDENT.exec(src);
    const type = n.type;
    if (m && (type === 'identifier' || type === 'type_identifier' || type === 'property_identifier' || type === 'private_property_identifier')) {
      return m[0];
    }
    const text = src.slice(s, n.endIndex);
    return type === 'string' ? unquote(text) : collapse(text, SIGNATURE_MAX);
  };

  const exportFlags = (ex: ExportInfo | undefined, flags: string[]): void => {
    if (!ex) return;
    flags.push('export');
    if (ex.isDefault) flags.push('default');
  };

  /** Flags of a function value from its own text: `async`, `*`. */
  const functionFlags = (fnStart: number, type: string, flags: string[]): void => {
    if (src.startsWith('async', fnStart) && !isIdentChar(src.charCodeAt(fnStart + 5))) flags.push('async');
    if (type === 'generator_function' || type === 'generator_function_declaration') flags.push('generator');
  };

  /** Direct members of an object-literal frame, computed the first time something inside asks. */
  const membersOf = (f: Frame): Map<number, Member> => {
    if (f.members) return f.members;
    const members = new Map<number, Member>();
    f.members = members;
    const obj = f.object;
    if (!obj) return members;
    for (const child of obj.namedChildren) {
      const t = child.type;
      if (t === 'pair') {
        const key = child.childForFieldName('key');
        const value = child.childForFieldName('value');
        if (key && value) members.set(startOf(value), { name: nameText(key), keyStart: startOf(key), node: child });
      } else if (t === 'method_definition') {
        members.set(startOf(child), { name: '', keyStart: -1, node: child });
      }
    }
    return members;
  };

  /** Signature start for a definition whose text may begin with decorators. */
  const headStart = (nodeStart: number, nameStart: number, mods: Set<string>): number => {
    const runStart = modifiersBefore(src, nodeStart, nameStart, mods);
    return runStart;
  };

  for (let i = 0; i < count; i++) {
    const node = nodes[i];
    const type = node.type;
    const start = startOf(node);
    const frame = enter(start);
    const scope = frame.qualified;

    switch (type) {
      // ------------------------------------------------------------------------------------------ references
      case 'call_expression': {
        CHAIN.lastIndex = start;
        CHAIN.exec(src);
        const end = CHAIN.lastIndex;
        const c = src.charCodeAt(end);
        let callee: string | null = null;
        let name: string | null = null;
        let calleeType: string | null = null;
        if (
          end > start &&
          (c === 40 /* ( */ || c === 96 /* ` */ || c === 60 /* < */) &&
          !(i + 1 < count && startOf(nodes[i + 1]) === start)
        ) {
          let text = src.slice(start, end).trimEnd();
          if (text.endsWith('?.')) text = text.slice(0, -2).trimEnd();
          while (text.endsWith('!')) text = text.slice(0, -1);
          if (text.length && !text.endsWith('.') && !WORD_GAP.test(text)) {
            const m = LAST_NAME.exec(text);
            if (m) {
              callee = text;
              name = m[0];
              calleeType = text === name ? (name === 'import' ? 'import' : 'identifier') : 'member';
            }
          }
        }
        if (callee === null) {
          const fn = node.childForFieldName('function');
          if (!fn) break;
          const fs = startOf(fn);
          callee = src.slice(fs, fn.endIndex);
          calleeType = fn.type;
          name = calleeName(fn, src, startOf);
          if (name === null) break;
        }
        if ((calleeType === 'identifier' && name === 'require') || calleeType === 'import') {
          STRING_ARG.lastIndex = start + callee.length;
          // the arguments follow the callee, possibly after blanks
          let a = start + callee.length;
          while (isSpace(src.charCodeAt(a))) a++;
          STRING_ARG.lastIndex = a;
          const m = STRING_ARG.exec(src);
          if (m) {
            const mod = m[1] ?? m[2] ?? m[3] ?? '';
            addRef(node, 'import', mod, scope, mod);
            break;
          }
        }
        addRef(node, 'call', name!, scope, callee);
        break;
      }

      case 'new_expression': {
        NEW_KW.lastIndex = start;
        let done = false;
        if (NEW_KW.exec(src)) {
          const cs = NEW_KW.lastIndex;
          CHAIN.lastIndex = cs;
          CHAIN.exec(src);
          const end = CHAIN.lastIndex;
          const c = src.charCodeAt(end);
          if (end > cs && (c === 40 || c === 60) && !(i + 1 < count && startOf(nodes[i + 1]) === cs)) {
            const text = src.slice(cs, end).trimEnd();
            if (text.length && !text.endsWith('.') && !text.includes('?') && !WORD_GAP.test(text)) {
              const m = LAST_NAME.exec(text);
              if (m) {
                addRef(node, 'call', m[0], scope, text);
                done = true;
              }
            }
          }
        }
        if (!done) {
          const ctor = node.childForFieldName('constructor');
          if (!ctor) break;
          const name = calleeName(ctor, src, startOf);
          if (name !== null) addRef(node, 'call', name, scope, src.slice(startOf(ctor), ctor.endIndex));
        }
        break;
      }

      case 'import_statement': {
        const source = node.childForFieldName('source');
        const mod = source ? unquote(src.slice(startOf(source), source.endIndex)) : '';
        let any = false;
        for (const child of node.namedChildren) {
          const t = child.type;
          if (t === 'import_clause') {
            for (const part of child.namedChildren) {
              const pt = part.type;
              if (pt === 'identifier') {
                addRef(part, 'import', nameText(part), scope, mod);
                any = true;
              } else if (pt === 'namespace_import') {
                addRef(part, 'import', '*', scope, mod);
                any = true;
              } else if (pt === 'named_imports') {
                for (const spec of part.namedChildren) {
                  if (spec.type !== 'import_specifier') continue;
                  const nm = spec.childForFieldName('name');
                  if (nm) {
                    addRef(spec, 'import', nameText(nm), scope, mod);
                    any = true;
                  }
                }
              }
            }
          } else if (t === 'import_require_clause') {
            // `import fs = require('fs')`
            const req = child.childForFieldName('source');
            const m = req ? unquote(src.slice(startOf(req), req.endIndex)) : mod;
            addRef(child, 'import', m, scope, m);
            any = true;
          }
        }
        if (!any && source) addRef(node, 'import', mod, scope, mod); // side effect: `import './x'`
        break;
      }

      case 'export_statement': {
        const source = node.childForFieldName('source');
        if (source) {
          // re-exports are imports of the other module
          const mod = unquote(src.slice(startOf(source), source.endIndex));
          let any = false;
          for (const child of node.namedChildren) {
            const t = child.type;
            if (t === 'export_clause') {
              for (const spec of child.namedChildren) {
                if (spec.type !== 'export_specifier') continue;
                const nm = spec.childForFieldName('name');
                if (nm) {
                  addRef(spec, 'import', nameText(nm), scope, mod);
                  any = true;
                }
              }
            } else if (t === 'namespace_export') {
              addRef(child, 'import', '*', scope, mod);
              any = true;
            }
          }
          if (!any) addRef(node, 'import', '*', scope, mod); // `export * from './m'`
          break;
        }
        const decl = node.childForFieldName('declaration') ?? node.childForFieldName('value');
        if (!decl) break;
        const ds = startOf(decl);
        const isDefault = EXPORT_DEFAULT.test(src.slice(start, ds));
        const info: ExportInfo = { node, isDefault };
        exportsAt.set(ds, info);
        if (decl.type === 'object' && isDefault) {
          // `export default { ... }` (e.g. a Vue component): members scoped to `default`
          push({ end: decl.endIndex, qualified: qualify(scope, 'default', SEP), kind: 'object', object: decl });
        }
        break;
      }

      case 'ambient_declaration': {
        DECLARE.lastIndex = start;
        if (!DECLARE.exec(src)) break;
        const ds = DECLARE.lastIndex;
        const exported = exportsAt.get(start);
        GLOBAL_BLOCK.lastIndex = ds;
        if (GLOBAL_BLOCK.exec(src)) {
          const flags = ['declare'];
          const doc = blockCommentBefore(src, start) ? docOf(exported?.node ?? node) : null;
          addSymbol(node, 'global', 'namespace', scope, 'declare global', doc, flags);
          push({ end: node.endIndex, qualified: qualify(scope, 'global', SEP), kind: 'ns', bodyStart: GLOBAL_BLOCK.lastIndex - 1 });
          break;
        }
        ambientAt.set(ds, { node, exported });
        break;
      }

      // ----------------------------------------------------------------------------------------- definitions
      case 'function_declaration':
      case 'generator_function_declaration':
      case 'function_signature': {
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
          const nm = node.childForFieldName('name');
          if (!nm) break;
          name = nameText(nm);
          functionFlags(start, type, flags);
          if (type === 'generator_function_declaration' && !flags.includes('generator')) flags.push('generator');
        }
        const body = type === 'function_signature' ? null : node.childForFieldName('body');
        const end = node.endIndex;
        const sig = sigText(src, start, body ? startOf(body) : end);
        const anchor = ex?.node ?? amb?.node ?? node;
        const doc = blockCommentBefore(src, startOf(anchor)) ? docOf(anchor) : null;
        addSymbol(node, name, 'function', scope, sig, doc, flags);
        if (body) push({ end, qualified: qualify(scope, name, SEP), kind: 'fn' });
        break;
      }

      case 'class':
      case 'class_declaration':
      case 'abstract_class_declaration': {
        if (type === 'class') {
          if (!node.isNamed) break; // the `class` keyword token shares the name
          if (claimed.delete(start)) break;
          const ex = exportsAt.get(start);
          if (!ex) {
            push({ end: node.endIndex, qualified: scope, kind: 'anon' });
            break;
          }
        }
        const nm = node.childForFieldName('name');
        const amb = ambientAt.get(start);
        const ex = exportsAt.get(start) ?? amb?.exported;
        const body = node.childForFieldName('body');
        const name = nm ? nameText(nm) : ex?.isDefault ? 'default' : null;
        if (name === null) {
          push({ end: node.endIndex, qualified: scope, kind: 'anon' });
          break;
        }
        const flags: string[] = [];
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        const mods = new Set<string>();
        const sigStart = nm ? headStart(start, startOf(nm), mods) : start;
        if (mods.has('abstract') || type === 'abstract_class_declaration') flags.push('abstract');
        if (sigStart > start && src.charCodeAt(start) === 64 /* @ */) flags.push('decorated');
        const end = node.endIndex;
        const sig = sigText(src, sigStart, body ? startOf(body) : end);
        const anchor = ex?.node ?? amb?.node ?? node;
        const doc = blockCommentBefore(src, startOf(anchor)) ? docOf(anchor) : null;
        addSymbol(node, name, 'class', scope, sig, doc, flags);
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
          const end = node.endIndex;
          const body = node.childForFieldName('body');
          const nm = type === 'arrow_function' ? null : node.childForFieldName('name');
          const name = nm ? nameText(nm) : 'default';
          const flags: string[] = [];
          exportFlags(ex, flags);
          functionFlags(start, type, flags);
          const sig = sigText(src, start, body ? startOf(body) : end);
          const doc = blockCommentBefore(src, startOf(ex.node)) ? docOf(ex.node) : null;
          addSymbol(node, name, 'function', scope, sig, doc, flags);
          push({ end, qualified: qualify(scope, name, SEP), kind: 'fn' });
          break;
        }
        if (frame.kind === 'object') {
          const member = membersOf(frame).get(start);
          if (member && member.keyStart >= 0) {
            // `{ b: () => {} }`: the key names it; the signature runs from the key
            const key = member.name;
            const end = node.endIndex;
            const body = node.childForFieldName('body');
            const sigStart = member.keyStart;
            const flags: string[] = [];
            if (frame.exportsObject) flags.push('export');
            functionFlags(start, type, flags);
            const sig = sigText(src, sigStart, body ? startOf(body) : end);
            const doc = blockCommentBefore(src, sigStart) ? docOf(member.node) : null;
            const kind: SymbolKind = frame.exportsObject ? 'function' : 'method';
            addSymbol(node, key, kind, scope, sig, doc, flags);
            push({ end, qualified: qualify(scope, key, SEP), kind: 'fn' });
            break;
          }
        }
        push({ end: node.endIndex, qualified: scope, kind: 'anon' });
        break;
      }

      case 'method_definition': {
        const k = frame.kind;
        const inObject = k === 'object' && membersOf(frame).has(start);
        if (k !== 'class' && !inObject) {
          push({ end: node.endIndex, qualified: scope, kind: 'anon' });
          break;
        }
        const nm = node.childForFieldName('name');
        if (!nm) {
          push({ end: node.endIndex, qualified: scope, kind: 'anon' });
          break;
        }
        const name = nameText(nm);
        const mods = new Set<string>();
        const sigStart = headStart(start, startOf(nm), mods);
        let kind: SymbolKind = 'method';
        if (mods.has('get')) kind = 'getter';
        else if (mods.has('set')) kind = 'setter';
        else if (name === 'constructor' && k === 'class' && !mods.has('static')) kind = 'constructor';
        if (inObject && frame.exportsObject && kind === 'method') kind = 'function';
        const flags = memberFlags(mods, sigStart > start);
        if (inObject && frame.exportsObject) flags.unshift('export');
        const body = node.childForFieldName('body');
        const end = node.endIndex;
        const sig = sigText(src, sigStart, body ? startOf(body) : end);
        const doc = blockCommentBefore(src, start) ? docOf(node) : null;
        addSymbol(node, name, kind, scope, sig, doc, flags);
        push({ end, qualified: qualify(scope, name, SEP), kind: 'fn' });
        break;
      }

      case 'method_signature':
      case 'abstract_method_signature':
      case 'property_signature':
      case 'field_definition':
      case 'public_field_definition': {
        const k = frame.kind;
        const isField = type === 'field_definition' || type === 'public_field_definition';
        const ok = isField || type === 'abstract_method_signature' ? k === 'class' : k === 'class' || k === 'iface' || k === 'type';
        const end = node.endIndex;
        if (!ok || (type === 'property_signature' && k === 'class')) {
          push({ end, qualified: scope, kind: 'member' });
          break;
        }
        const nm = node.childForFieldName(type === 'field_definition' ? 'property' : 'name');
        if (!nm) {
          push({ end, qualified: scope, kind: 'member' });
          break;
        }
        const name = nameText(nm);
        const mods = new Set<string>();
        const sigStart = headStart(start, startOf(nm), mods);
        let kind: SymbolKind;
        if (isField) kind = 'field';
        else if (type === 'property_signature') kind = k === 'class' ? 'field' : 'property';
        else kind = mods.has('get') ? 'getter' : mods.has('set') ? 'setter' : 'method';
        if (type === 'abstract_method_signature') mods.add('abstract');
        const flags = memberFlags(mods, sigStart > start);
        // fields: the declaration up to the initializer's first line break
        const sig = sigText(src, sigStart, isField ? firstLine(src, sigStart, end) : end);
        const doc = blockCommentBefore(src, start) ? docOf(node) : null;
        addSymbol(node, name, kind, scope, sig, doc, flags);
        push({ end, qualified: qualify(scope, name, SEP), kind: 'member' });
        break;
      }

      case 'variable_declarator': {
        IDENT.lastIndex = start;
        const idm = IDENT.exec(src);
        if (!idm) break; // destructuring: nothing is named here
        const name = idm[0];
        const k = frame.kind;
        const moduleLevel = k === 'ns';
        EQ.lastIndex = start + name.length;
        let valueStart = -1;
        let valueType: string | null = null;
        let valueNode: SyntaxNode | null = null;
        if (EQ.exec(src)) valueStart = EQ.lastIndex;
        else {
          const c = src.charCodeAt(start + name.length);
          // TS: `x: T = ...` / `x!: T`; otherwise there is no initializer at all
          if (c === 58 /* : */ || c === 33 /* ! */) {
            valueNode = node.childForFieldName('value');
            if (valueNode) {
              valueStart = startOf(valueNode);
              valueType = valueNode.type;
            }
          }
        }
        let fnNode: SyntaxNode | null = null;
        let end = -1;
        if (valueStart >= 0 && i + 1 < count) {
          const next = nodes[i + 1];
          const nt = next.type;
          if (startOf(next) === valueStart && (FUNCTION_VALUES.has(nt) || nt === 'class')) {
            end = node.endIndex;
            if (next.endIndex === end) fnNode = next;
          }
        }
        if (!fnNode && !moduleLevel) break; // a local
        const decl = node.parent;
        if (!decl) break;
        const declStart = startOf(decl);
        let topLevel = false;
        let amb: AmbientInfo | undefined;
        let ex: ExportInfo | undefined;
        if (moduleLevel) {
          const holder = decl.parent;
          const ht = holder?.type;
          if (ht === 'program' || ht === 'export_statement' || ht === 'ambient_declaration') topLevel = true;
          else if (ht === 'statement_block' && startOf(holder!) === frame.bodyStart) topLevel = true;
          amb = ambientAt.get(declStart);
          ex = exportsAt.get(declStart) ?? amb?.exported;
        }
        if (!fnNode && !topLevel) break;
        KEYWORD.lastIndex = declStart;
        const kw = KEYWORD.exec(src)?.[1] ?? 'var';
        const flags: string[] = [];
        exportFlags(ex, flags);
        if (amb) flags.push('declare');
        if (end < 0) end = node.endIndex;
        const anchor = ex?.node ?? amb?.node ?? decl;
        const doc = blockCommentBeforeDeclaration(src, start) || blockCommentBefore(src, startOf(anchor)) ? docOf(anchor) : null;
        if (fnNode) {
          const ft = fnNode.type;
          const fs = startOf(fnNode);
          claimed.add(fs);
          const body = fnNode.childForFieldName('body');
          const sig = sigText(src, start, body ? startOf(body) : end);
          const isClass = ft === 'class';
          if (!isClass) functionFlags(fs, ft, flags);
          addSymbol(node, name, isClass ? 'class' : 'function', scope, `${kw} ${sig}`, doc, flags);
          push({ end, qualified: qualify(scope, name, SEP), kind: isClass ? 'class' : 'fn' });
          break;
        }
        const kind: SymbolKind = kw === 'let' || kw === 'var' ? 'variable' : 'constant';
        const sig = sigText(src, start, firstLine(src, start, end));
        addSymbol(node, name, kind, scope, `${kw} ${sig}`, doc, flags);
        if (valueStart >= 0 && src.charCodeAt(valueStart) === 123 /* { */ && (valueType === null || valueType === 'object')) {
          valueNode ??= node.childForFieldName('value');
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
        const rhs = node.childForFieldName('right');
        if (!rhs) break;
        const rt = rhs.type;
        const rs = startOf(rhs);
        const end = node.endIndex;
        if (rt === 'object') {
          if (target === 'exports' && !m[2]) {
            push({ end, qualified: null, kind: 'object', object: rhs, exportsObject: true });
          } else if (target === 'proto' && !m[2]) {
            push({ end, qualified: m[1], kind: 'object', object: rhs });
          }
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
            const nm = rhs.childForFieldName('name');
            name = nm ? nameText(nm) : 'default';
          }
          flags.push('export');
          if (!m[2] && name === 'default') flags.push('default');
          kind = isFn ? 'function' : 'class';
        } else {
          if (!m[2]) break; // `Foo.prototype = function` is not a method
          name = m[2];
          symScope = m[1];
          kind = isFn ? 'method' : 'class';
        }
        if (isFn) functionFlags(rs, rt, flags);
        claimed.add(rs);
        const body = rhs.childForFieldName('body');
        const sig = sigText(src, start, body ? startOf(body) : end);
        let doc: string | null = null;
        if (blockCommentBefore(src, start)) {
          const stmt = node.parent;
          doc = docOf(stmt && stmt.type === 'expression_statement' ? stmt : node);
        }
        addSymbol(node, name, kind, symScope, sig, doc, flags);
        push({ end, qualified: qualify(symScope, name, SEP), kind: isFn ? 'fn' : 'class' });
        break;
      }

      case 'interface_declaration':
      case 'type_alias_declaration':
      case 'enum_declaration':
      case 'internal_module':
      case 'module': {
        if (type === 'module' && !node.isNamed) break; // the `module` keyword token
        const nm = node.childForFieldName('name');
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
          const value = node.childForFieldName('value');
          if (value && value.type === 'object_type') {
            bodyStart = startOf(value);
            frameKind = 'type';
          }
        } else {
          body = node.childForFieldName('body');
          if (body) bodyStart = startOf(body);
          kind = type === 'interface_declaration' ? 'interface' : type === 'enum_declaration' ? 'enum' : 'namespace';
          frameKind = type === 'interface_declaration' ? 'iface' : type === 'enum_declaration' ? 'member' : 'ns';
          if (src.startsWith('const', start)) flags.push('const'); // `const enum`
        }
        const sig = sigText(src, start, bodyStart);
        let anchor = ex?.node ?? amb?.node ?? node;
        let doc: string | null = null;
        if (blockCommentBefore(src, startOf(anchor))) {
          if (anchor === node && type === 'internal_module') {
            const stmt = node.parent; // `namespace X {}` is wrapped in an expression statement
            if (stmt && stmt.type === 'expression_statement') anchor = stmt;
          }
          doc = docOf(anchor);
        }
        addSymbol(node, name, kind, scope, sig, doc, flags);
        const qualified = qualify(scope, name, SEP);
        if (type === 'enum_declaration' && body) enumMembers(body, qualified);
        if (frameKind) push({ end, qualified, kind: frameKind, bodyStart });
        break;
      }
    }
  }

  function enumMembers(body: SyntaxNode, qualified: string): void {
    for (const child of body.namedChildren) {
      const t = child.type;
      let nameNode: SyntaxNode | null = child;
      if (t === 'enum_assignment') nameNode = child.childForFieldName('name');
      else if (t !== 'property_identifier' && t !== 'string' && t !== 'identifier') continue;
      if (!nameNode) continue;
      const s = startOf(child);
      const e = child.endIndex;
      const doc = blockCommentBefore(src, s) ? docOf(child) : null;
      addSymbol(child, nameText(nameNode), 'enum_member', qualified, sigText(src, s, firstLine(src, s, e)), doc, null);
    }
  }

  return { symbols, refs };
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

/**
 * Last identifier of a callee that is not a plain dotted chain (the slow path): unwraps parentheses, sequences,
 * non-null assertions and instantiations a bounded number of times, never recursing.
 */
function calleeName(fn: SyntaxNode, src: string, startOf: (n: SyntaxNode) => number): string | null {
  let n: SyntaxNode | null = fn;
  for (let guard = 0; n && guard < 16; guard++) {
    switch (n.type) {
      case 'identifier':
      case 'property_identifier':
      case 'private_property_identifier':
      case 'super':
      case 'import':
      case 'this': {
        IDENT.lastIndex = startOf(n);
        const m = IDENT.exec(src);
        return m ? m[0] : src.slice(startOf(n), n.endIndex);
      }
      case 'member_expression':
        n = n.childForFieldName('property');
        break;
      case 'subscript_expression': {
        const index = n.childForFieldName('index');
        if (!index || index.type !== 'string') return null;
        return unquote(src.slice(startOf(index), index.endIndex));
      }
      case 'parenthesized_expression':
      case 'sequence_expression':
      case 'non_null_expression':
        n = n.lastNamedChild;
        break;
      case 'instantiation_expression':
        n = n.firstNamedChild;
        break;
      default:
        return null;
    }
  }
  return null;
}
