/**
 * Python: definitions (functions, methods, classes, properties, module variables, class fields, type aliases)
 * and references (calls, imports) from a tree-sitter-python tree.
 *
 * Performance notes (this runs once per indexed file):
 * - Every node of interest comes from ONE `descendantsOfType` call, in pre-order, as integer handles over the
 *   binding's transfer buffer (`../access.ts`): no wrapper object per node.
 * - Each further read on a node (`endIndex`, a field) is a call into the native binding. So per node we read only its
 *   start (from the listing) and its end only for definitions; everything else (names, headers, callees,
 *   docstrings, decorators, line/column) is read from `src` with small string scanners. Line/column come from a
 *   line table built once per file.
 * - The shared helpers (`makeSymbol`, `makeRef`, `signatureOf`, `ScopeStack`) only read positional properties of
 *   the node they are given, so they are fed plain `Span` objects instead of native nodes.
 * - No recursion anywhere: the scanners are loops with a depth counter, and every scan is capped, falling back to
 *   the tree when the text does not look as expected (broken code, pathological nesting).
 */
import {
  CONTEXT_MAX,
  ScopeStack,
  cleanComment,
  collapse,
  makeRef,
  makeSymbol,
  signatureOf,
  type Extraction,
  type SyntaxNode,
} from '../common.js';
import { accessFor } from '../access.js';
import type { RefRecord, SymbolKind, SymbolRecord } from '../../protocol/types.js';

const SEP = '.';

const TYPES = [
  'class_definition',
  'function_definition',
  'decorated_definition',
  'call',
  'assignment',
  'type_alias_statement',
  'import_statement',
  'import_from_statement',
  'future_import_statement',
];

/** How far a text scan may run before we give up and ask the tree (keeps every scan O(1)-bounded per node). */
const SCAN_CAP = 4096;
/** Callees are short; a longer one (a big parenthesized lambda, a long string) is read from the tree. */
const CALLEE_CAP = 1024;

interface Point {
  row: number;
  column: number;
}

/** The positional subset of a SyntaxNode that the shared helpers read. */
interface Span {
  startIndex: number;
  endIndex: number;
  startPosition: Point;
  endPosition: Point;
}

/** The shared helpers are typed on SyntaxNode but only read the positional properties a Span carries. */
const asNode = (span: Partial<Span>): SyntaxNode => span as unknown as SyntaxNode;

// ---------------------------------------------------------------------------------------------------------------
// Line table: rows and columns from string indexes, without asking the native tree.
// tree-sitter counts rows at '\n' and columns in UTF-16 code units for string input (the binding halves byte
// offsets), which is exactly what indexes into the JS string give us.

class Lines {
  private readonly starts: number[] = [0];
  private last = 0;

  constructor(src: string) {
    for (let i = src.indexOf('\n'); i !== -1; i = src.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  row(index: number): number {
    const s = this.starts;
    const k = this.last;
    // Most lookups move forward a little from the previous one.
    if (s[k] <= index && (k + 1 === s.length || index < s[k + 1])) return k;
    if (k + 2 < s.length && s[k + 1] <= index && index < s[k + 2]) return (this.last = k + 1);
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return (this.last = lo);
  }

  point(index: number): Point {
    const row = this.row(index);
    return { row, column: index - this.starts[row] };
  }

  lineStart(row: number): number {
    return this.starts[row];
  }

  /** End of `row` (index of its '\n', or the end of the source). */
  lineEnd(row: number, srcLength: number): number {
    return row + 1 < this.starts.length ? this.starts[row + 1] - 1 : srcLength;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Character scanners. All take a `limit` and return -1 when the text is not what they expect.

// Character codes.
const TAB = 9;
const LF = 10;
const FF = 12;
const CR = 13;
const SPACE = 32;
const DQUOTE = 34;
const HASH = 35;
const SQUOTE = 39;
const LPAREN = 40;
const RPAREN = 41;
const STAR = 42;
const COMMA = 44;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const SEMI = 59;
const EQ = 61;
const AT = 64;
const LBRACK = 91;
const BACKSLASH = 92;
const RBRACK = 93;
const UNDERSCORE = 95;
const LBRACE = 123;
const RBRACE = 125;

function isIdentChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= ZERO && c <= NINE) ||
    c === UNDERSCORE ||
    c >= 0x80 // non-ASCII identifiers (PEP 3131); good enough to delimit names
  );
}

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === FF;
}

/** `i` at an opening quote. Returns the index just past the closing quote(s), or -1. */
function skipString(src: string, i: number, limit: number): number {
  const q = src.charCodeAt(i);
  if (src.charCodeAt(i + 1) === q && src.charCodeAt(i + 2) === q) {
    const triple = q === DQUOTE ? '"""' : "'''";
    let from = i + 3;
    for (;;) {
      const k = src.indexOf(triple, from);
      if (k === -1 || k + 3 > limit) return -1;
      let backslashes = 0;
      while (src.charCodeAt(k - 1 - backslashes) === BACKSLASH) backslashes++;
      if ((backslashes & 1) === 0) return k + 3;
      from = k + 1;
    }
  }
  for (let j = i + 1; j < limit; j++) {
    const c = src.charCodeAt(j);
    if (c === BACKSLASH) j++;
    else if (c === q) return j + 1;
    else if (c === LF || c === CR) return -1;
  }
  return -1;
}

/** `i` at '#'. Returns the index of the end of the line. */
function skipComment(src: string, i: number, limit: number): number {
  const k = src.indexOf('\n', i);
  return k === -1 || k > limit ? limit : k;
}

/** `i` at an opening bracket. Returns the index just past its matching bracket, or -1. */
function skipBalanced(src: string, i: number, limit: number): number {
  let depth = 0;
  for (let j = i; j < limit; j++) {
    const c = src.charCodeAt(j);
    if (c === LPAREN || c === LBRACK || c === LBRACE) depth++;
    else if (c === RPAREN || c === RBRACK || c === RBRACE) {
      if (--depth === 0) return j + 1;
    } else if (c === DQUOTE || c === SQUOTE) {
      const k = skipString(src, j, limit);
      if (k < 0) return -1;
      j = k - 1;
    } else if (c === HASH) j = skipComment(src, j, limit) - 1;
    else if (c === BACKSLASH) j++;
  }
  return -1;
}

/** Skips whitespace, newlines, comments and line continuations. */
function skipTrivia(src: string, i: number, limit: number): number {
  while (i < limit) {
    const c = src.charCodeAt(i);
    if (isSpace(c) || c === LF || c === CR) i++;
    else if (c === HASH) i = skipComment(src, i, limit);
    else if (c === BACKSLASH && (src.charCodeAt(i + 1) === LF || src.charCodeAt(i + 1) === CR)) i += 2;
    else break;
  }
  return i;
}

/** The identifier starting at `i` (after trivia), or null. */
function identifierAt(src: string, i: number, limit: number): { name: string; end: number } | null {
  i = skipTrivia(src, i, limit);
  let j = i;
  while (j < limit && isIdentChar(src.charCodeAt(j))) j++;
  if (j === i) return null;
  const first = src.charCodeAt(i);
  if (first >= ZERO && first <= NINE) return null;
  return { name: src.slice(i, j), end: j };
}

/** The trailing identifier of `text` (`os.path.join` -> `join`), or null when it ends otherwise (`f()()`, `a[0]`). */
function trailingIdentifier(text: string): string | null {
  let b = text.length;
  while (b > 0 && isIdentChar(text.charCodeAt(b - 1))) b--;
  if (b === text.length) return null;
  const first = text.charCodeAt(b);
  return first >= ZERO && first <= NINE ? null : text.slice(b);
}

/**
 * The ':' that ends a `def`/`class` header, scanning from just after the name: the first ':' outside brackets,
 * strings and comments. -1 if the header does not end before `limit`.
 */
function headerColon(src: string, i: number, limit: number): number {
  let depth = 0;
  for (; i < limit; i++) {
    const c = src.charCodeAt(i);
    if (c === COLON) {
      if (depth === 0) return i;
    } else if (c === LPAREN || c === LBRACK || c === LBRACE) depth++;
    else if (c === RPAREN || c === RBRACK || c === RBRACE) {
      if (--depth < 0) return -1;
    } else if (c === DQUOTE || c === SQUOTE) {
      const k = skipString(src, i, limit);
      if (k < 0) return -1;
      i = k - 1;
    } else if (c === HASH) i = skipComment(src, i, limit) - 1;
    else if (c === BACKSLASH) i++;
    else if (c === LF && depth === 0) return -1;
  }
  return -1;
}

/**
 * Where the arguments of a call start, scanning its callee from `i`: the first '(' at depth 0 that follows an atom.
 * `seenAtom` is true when the text from `i` continues an already-consumed callee (a chained call `f(a)(b)`).
 * Returns -1 when the text is not a plain callee (the caller then asks the tree).
 */
function argumentsStart(src: string, i: number, limit: number, seenAtom: boolean): number {
  while (i < limit) {
    const c = src.charCodeAt(i);
    if (isIdentChar(c) || c === DOT) {
      seenAtom = true;
      i++;
    } else if (c === LPAREN) {
      if (seenAtom) return i;
      i = skipBalanced(src, i, limit); // a parenthesized callee: `(lambda: f)()`
      if (i < 0) return -1;
      seenAtom = true;
    } else if (c === LBRACK || c === LBRACE) {
      i = skipBalanced(src, i, limit);
      if (i < 0) return -1;
      seenAtom = true;
    } else if (c === DQUOTE || c === SQUOTE) {
      i = skipString(src, i, limit);
      if (i < 0) return -1;
      seenAtom = true;
    } else if (isSpace(c) || c === LF || c === CR) i++;
    else if (c === HASH) i = skipComment(src, i, limit);
    else if (c === BACKSLASH) i += 2;
    else return -1;
  }
  return -1;
}

/** The end of a decorator's expression starting at '@' (end of its logical line), or -1. */
function decoratorEnd(src: string, i: number, limit: number): number {
  let depth = 0;
  for (; i < limit; i++) {
    const c = src.charCodeAt(i);
    if (c === LPAREN || c === LBRACK || c === LBRACE) depth++;
    else if (c === RPAREN || c === RBRACK || c === RBRACE) depth--;
    else if (c === DQUOTE || c === SQUOTE) {
      const k = skipString(src, i, limit);
      if (k < 0) return -1;
      i = k - 1;
    } else if (c === HASH) {
      if (depth <= 0) return i;
      i = skipComment(src, i, limit) - 1;
    } else if (c === BACKSLASH) i++;
    else if ((c === LF || c === CR) && depth <= 0) return i;
  }
  return limit;
}

/** The decorators between a decorated_definition's start and its definition, as collapsed text. */
function decoratorsIn(src: string, i: number, limit: number): string[] {
  const out: string[] = [];
  for (;;) {
    i = skipTrivia(src, i, limit);
    if (i >= limit || src.charCodeAt(i) !== AT) return out;
    const end = decoratorEnd(src, i + 1, limit);
    if (end < 0) return out;
    out.push(collapse(src.slice(i, end), CONTEXT_MAX));
    i = end;
  }
}

/** Kind implied by decorators on a function defined in a class body. */
function methodKind(decorators: string[]): SymbolKind {
  let kind: SymbolKind = 'method';
  for (const d of decorators) {
    const name = d.replace(/\s+/g, '');
    if (/^@(?:(?:functools\.)?cached_property|(?:abc\.)?abstractproperty|property)$/.test(name)) return 'property';
    if (/\.setter$/.test(name)) kind = 'setter';
    else if (/\.getter$/.test(name)) kind = 'getter';
  }
  return kind;
}

/**
 * Names bound by the target list of an assignment starting at `i` (`a`, `a, *b`, `(a, [b, c])`). Attribute and
 * subscript targets (`self.x`, `d[k]`, `f()[0].y`) bind no new name and are skipped. Stops at the first '=' or ':'
 * outside brackets.
 */
function assignedNames(src: string, i: number, limit: number): string[] {
  const names: string[] = [];
  let depth = 0;
  let afterDot = false; // the next identifier is an attribute name
  let postfix = false; // the last token ended a primary: a following '(' or '[' is a call or a subscript
  while (i < limit) {
    const c = src.charCodeAt(i);
    if (isIdentChar(c)) {
      let j = i + 1;
      while (j < limit && isIdentChar(src.charCodeAt(j))) j++;
      const n = src.charCodeAt(skipTrivia(src, j, limit));
      const bound = !afterDot && n !== DOT && n !== LBRACK && n !== LPAREN && !(c >= ZERO && c <= NINE);
      if (bound) names.push(src.slice(i, j));
      afterDot = false;
      postfix = true;
      i = j;
    } else if (c === DOT) {
      afterDot = true;
      postfix = false;
      i++;
    } else if ((c === LPAREN || c === LBRACK) && postfix) {
      i = skipBalanced(src, i, limit);
      if (i < 0) return names;
    } else if (c === LPAREN || c === LBRACK) {
      depth++;
      i++;
    } else if (c === RPAREN || c === RBRACK) {
      depth--;
      postfix = false;
      i++;
    } else if (c === EQ || c === COLON) {
      if (depth <= 0) return names;
      i++;
    } else if (c === COMMA || c === STAR) {
      postfix = false;
      i++;
    } else if (isSpace(c) || c === LF || c === CR) i++;
    else if (c === BACKSLASH) i += 2;
    else if (c === HASH) i = skipComment(src, i, limit);
    else return names;
  }
  return names;
}

/** A name or attribute chain, with the whitespace Python allows around the dots. */
const DOTTED_NAME = /^\s*[\p{L}\p{N}_]+(?:\s*\.\s*[\p{L}\p{N}_]+)*\s*$/u;

/** `MAX_SIZE`, `_PRIVATE`, `ÄRGER`: some letter and no lowercase letter. */
function isConstantName(name: string): boolean {
  return name === name.toUpperCase() && name !== name.toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------------
// Docstrings

function expandTabs(line: string): string {
  if (!line.includes('\t')) return line;
  let out = '';
  for (const ch of line) {
    if (ch === '\t') out += ' '.repeat(8 - (out.length % 8));
    else out += ch;
  }
  return out;
}

/** Like inspect.cleandoc: first line stripped, common indentation of the others removed, blank ends dropped. */
function cleandoc(raw: string): string | null {
  const lines = raw.replace(/\r\n?/g, '\n').split('\n').map(expandTabs);
  let margin = Infinity;
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k];
    const content = line.trimStart().length;
    if (content) margin = Math.min(margin, line.length - content);
  }
  lines[0] = lines[0].trimStart();
  for (let k = 0; k < lines.length; k++) {
    if (k > 0 && margin !== Infinity) lines[k] = lines[k].slice(margin);
    lines[k] = lines[k].trimEnd();
  }
  while (lines.length && !lines[lines.length - 1]) lines.pop();
  while (lines.length && !lines[0]) lines.shift();
  return lines.length ? lines.join('\n') : null;
}

/** The content of the plain (optionally r/u-prefixed) string literal at `i`, or null for anything else. */
function plainStringAt(src: string, i: number, limit: number): { text: string; end: number } | null {
  let q = i;
  while (q < limit && q - i < 2 && isIdentChar(src.charCodeAt(q))) q++;
  const quote = src.charCodeAt(q);
  if (quote !== DQUOTE && quote !== SQUOTE) return null;
  if (q > i && !/^[rRuU]$/.test(src.slice(i, q))) return null; // b'', f'' and friends are not docstrings
  const end = skipString(src, q, limit);
  if (end < 0) return null;
  const width = src.charCodeAt(q + 1) === quote && src.charCodeAt(q + 2) === quote && end - q >= 6 ? 3 : 1;
  return { text: src.slice(q + width, end - width), end };
}

/**
 * The docstring of a body starting at `i` (just past the header's ':'), or null: the first statement must be plain
 * string literals standing alone (implicitly concatenated ones included). Escapes are left as written.
 */
function docstringAt(src: string, i: number, limit: number): string | null {
  let lit = plainStringAt(src, skipTrivia(src, i, limit), limit);
  if (!lit) return null;
  let text = lit.text;
  for (;;) {
    let k = lit.end;
    while (k < limit) {
      const c = src.charCodeAt(k);
      if (isSpace(c)) k++;
      else if (c === BACKSLASH && (src.charCodeAt(k + 1) === LF || src.charCodeAt(k + 1) === CR)) k += 2;
      else break;
    }
    if (k >= limit) break;
    const c = src.charCodeAt(k);
    // The statement must end here: `"""doc""".strip()` or `"a" + b` is not a docstring.
    if (c === LF || c === CR || c === SEMI || c === HASH) break;
    lit = plainStringAt(src, k, limit);
    if (!lit) return null;
    text += lit.text;
  }
  return cleandoc(text);
}

/** A `#` comment block directly above the line of `start` (no blank line between), for variables and fields. */
function commentAbove(src: string, lines: Lines, start: number): string | null {
  const row = lines.row(start);
  const lineStart = lines.lineStart(row);
  for (let k = lineStart; k < start; k++) if (!isSpace(src.charCodeAt(k))) return null;
  const block: string[] = [];
  for (let r = row - 1; r >= 0; r--) {
    const text = src.slice(lines.lineStart(r), lines.lineEnd(r, src.length)).trim();
    if (!text.startsWith('#') || text.startsWith('#!') || /^#.*coding[:=]/.test(text)) break;
    block.unshift(text.startsWith('#:') ? '#' + text.slice(2) : text);
  }
  return block.length ? cleanComment(block) : null;
}

/** Module paths with the whitespace and line continuations Python allows inside them removed. */
function modulePath(text: string): string {
  return text.replace(/[\s\\]+/g, '');
}

// ---------------------------------------------------------------------------------------------------------------

export function extract(root: SyntaxNode, src: string): Extraction {
  const symbols: SymbolRecord[] = [];
  const refs: RefRecord[] = [];
  const a = accessFor(root, TYPES);
  const count = a.count;
  if (count === 0) return { symbols, refs };

  const lines = new Lines(src);
  const scopes = new ScopeStack();
  const probe = { startIndex: 0, endIndex: 0 };
  const scopeAt = (index: number): string | null => {
    probe.startIndex = index;
    return scopes.at(asNode(probe));
  };
  const span = (start: number, end: number): Span => ({
    startIndex: start,
    endIndex: end,
    startPosition: lines.point(start),
    endPosition: lines.point(end),
  });
  const at = (index: number) => asNode({ startPosition: lines.point(index) });

  // Calls inside a def/class header (defaults, annotations, base classes) run in the enclosing scope.
  let headerEnd = -1;
  let headerScope: string | null = null;
  // A decorated_definition seen and waiting for its definition.
  let decoStart = -1;
  let decoEnd = -1;
  // The last assignment statement kept (see chains below).
  let assignEnd = -1;
  let assignRange = asNode({});
  let assignSignature = '';
  let assignDoc: string | null = null;

  for (let i = 0; i < count; i++) {
    const start = a.start(i);
    const type = a.type(i);

    if (type === 'call') {
      const scope = start < headerEnd ? headerScope : scopeAt(start);
      // A chained call `a.b(c).d(e)`: the next call in pre-order starting at the same index is inside our callee.
      let from = start;
      let chained = false;
      if (i + 1 < count && a.type(i + 1) === 'call' && a.start(i + 1) === start) {
        from = a.end(i + 1);
        chained = true;
      }
      // tree-sitter-python parses `[*f(x)]` as a call whose callee is `*f`: the call itself starts after the star.
      let at0 = start;
      if (src.charCodeAt(start) === STAR) {
        while (src.charCodeAt(at0) === STAR || isSpace(src.charCodeAt(at0))) at0++;
        if (!chained) from = at0;
      }
      let open = argumentsStart(src, from, Math.min(src.length, from + CALLEE_CAP), chained);
      if (open < 0) {
        const fn = a.child(i, 'function');
        open = fn >= 0 ? a.end(fn) : -1;
      }
      if (open <= at0) continue;
      let callee = src.slice(at0, open);
      if (callee.includes('\\')) callee = callee.replace(/\\\r?\n/g, ' '); // line continuations
      callee = callee.trimEnd();
      let name = trailingIdentifier(callee);
      if (!name && callee.charCodeAt(0) === LPAREN && callee.endsWith(')')) {
        // A parenthesized name or attribute: `(int)(x)`, `(obj\n  .method)()`.
        const inner = callee.slice(1, -1);
        if (DOTTED_NAME.test(inner)) name = trailingIdentifier(inner.trimEnd());
      }
      if (name) refs.push(makeRef(at(at0), 'call', name, scope, callee));
      continue;
    }

    if (type === 'function_definition' || type === 'class_definition') {
      const scope = scopeAt(start);
      const container = scopes.kind();
      const end = a.end(i);
      let decorators: string[] = [];
      let rangeStart = start;
      if (decoStart >= 0 && start < decoEnd) {
        decorators = decoratorsIn(src, decoStart, start);
        rangeStart = decoStart;
      }
      decoStart = -1;

      const isClass = type === 'class_definition';
      const isAsync = !isClass && src.startsWith('async', start);
      // Name: after `class` / `def` / `async def`.
      let afterKeyword = start + (isClass ? 5 : 3);
      if (isAsync) {
        const def = skipTrivia(src, start + 5, end);
        afterKeyword = src.startsWith('def', def) ? def + 3 : afterKeyword;
      }
      const limit = Math.min(end, start + SCAN_CAP);
      let ident = identifierAt(src, afterKeyword, limit);
      let name: string;
      if (ident) name = ident.name;
      else {
        const nameNode = a.child(i, 'name');
        if (nameNode < 0) continue;
        ident = { name: src.slice(a.start(nameNode), a.end(nameNode)), end: a.end(nameNode) };
        name = ident.name;
      }
      // Header: up to the ':' before the body.
      let headerEndAt = headerColon(src, ident.end, limit);
      let bodyStart = headerEndAt + 1;
      if (headerEndAt < 0) {
        const body = a.child(i, 'body');
        headerEndAt = bodyStart = body >= 0 ? a.start(body) : end;
      }

      let kind: SymbolKind;
      if (isClass) kind = 'class';
      else if (container === 'class') kind = methodKind(decorators);
      else kind = 'function';
      const flags = isAsync ? [...decorators, 'async'] : decorators;

      const sym = makeSymbol(asNode(span(rangeStart, end)), {
        name,
        kind,
        scope,
        sep: SEP,
        signature: signatureOf(src, asNode({ startIndex: start, endIndex: end }), asNode({ startIndex: headerEndAt })),
        doc: docstringAt(src, bodyStart, end),
        flags,
      });
      symbols.push(sym);
      scopes.push(asNode({ endIndex: end }), sym.qualified, kind);
      headerEnd = headerEndAt;
      headerScope = scope;
      continue;
    }

    if (type === 'decorated_definition') {
      decoStart = start;
      decoEnd = a.end(i);
      continue;
    }

    if (type === 'assignment' || type === 'type_alias_statement') {
      const scope = scopeAt(start);
      if (type === 'type_alias_statement' && src.charCodeAt(skipTrivia(src, start + 4, src.length)) === LPAREN) {
        // tree-sitter-python reads `type(x).attr = v` as a type alias; it is an assignment through a call of `type`.
        refs.push(makeRef(at(start), 'call', 'type', scope, 'type'));
        continue;
      }
      const container = scopes.kind();
      if (scope !== null && container !== 'class') continue; // locals are not indexed
      const end = a.end(i);
      // The inner part of a chain `a = b = 1` shares the whole statement's range and signature.
      if (start >= assignEnd) {
        assignEnd = end;
        assignRange = asNode(span(start, end));
        assignSignature = signatureOf(src, asNode({ startIndex: start, endIndex: end }), null);
        assignDoc = commentAbove(src, lines, start);
      }
      const range = assignRange;
      const signature = assignSignature;
      const doc = assignDoc;
      if (type === 'type_alias_statement') {
        const ident = identifierAt(src, start + 4, Math.min(end, start + SCAN_CAP));
        if (ident) symbols.push(makeSymbol(range, { name: ident.name, kind: 'type', scope, sep: SEP, signature, doc }));
        continue;
      }
      for (const name of assignedNames(src, start, Math.min(end, start + SCAN_CAP))) {
        const kind: SymbolKind = container === 'class' ? 'field' : isConstantName(name) ? 'constant' : 'variable';
        symbols.push(makeSymbol(range, { name, kind, scope, sep: SEP, signature, doc }));
      }
      continue;
    }

    // Imports: rare enough to read from the tree directly.
    const scope = scopeAt(start);
    const text = (h: number) => src.slice(a.start(h), a.end(h));
    const importRef = (h: number, name: string, module: string) => refs.push(makeRef(at(a.start(h)), 'import', name, scope, module));
    if (type === 'import_statement') {
      for (const child of a.namedChildren(i)) {
        const target = a.type(child) === 'aliased_import' ? a.child(child, 'name') : child;
        if (target < 0 || a.type(target) !== 'dotted_name') continue;
        const module = modulePath(text(target));
        importRef(target, module, module);
      }
    } else if (type === 'import_from_statement' || type === 'future_import_statement') {
      let module: string | null = type === 'future_import_statement' ? '__future__' : null;
      for (const child of a.namedChildren(i)) {
        const t = a.type(child);
        if (t === 'comment') continue;
        if (module === null) {
          module = modulePath(text(child));
          continue;
        }
        if (t === 'wildcard_import') importRef(child, '*', module);
        else if (t === 'dotted_name') importRef(child, modulePath(text(child)), module);
        else if (t === 'aliased_import') {
          const target = a.child(child, 'name');
          if (target >= 0) importRef(target, modulePath(text(target)), module);
        }
      }
    }
  }
  return { symbols, refs };
}
