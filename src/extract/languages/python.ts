/**
 * Python: definitions (functions, methods, classes, properties, module variables, class fields, `self.x` attributes,
 * type aliases) and references (calls, imports) from a tree-sitter-python tree.
 *
 * Every node of interest comes from ONE pre-order listing (`file.nodes`), as integer handles over the binding's
 * transfer buffer. Each further read of a node is a call into native code, so per node we read its start (and its end
 * for definitions); names, headers, callees, docstrings and decorators are read from the text with small bounded
 * scanners, falling back to the tree when the text does not look as expected. Nothing recurses.
 *
 * Conventions (pinned by test/extract/python.test.ts):
 * - a definition's name position is its identifier; its range starts at its first decorator;
 * - a call ref sits at the called name (`join` in `os.path.join(`), context = the callee text;
 * - an import ref is named by what is imported (`os.path`, `join`, `*`), module = the module (`os.path`, `.m`),
 *   context = the import as written (`os.path as p`, `join`);
 * - `self.x = ...` in a method makes a field `Class.x` (the first assignment of each name).
 */
import type { SymbolKind } from '../../protocol/types.js';
import { collapse, CONTEXT_MAX, lineDoc, ScopeStack, signature, type Access, type Frame, type LanguagePlugin, type LineIndex, type Sink, type SourceFile } from '../toolkit/index.js';

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
function identifierAt(src: string, i: number, limit: number): { name: string; at: number; end: number } | null {
  i = skipTrivia(src, i, limit);
  let j = i;
  while (j < limit && isIdentChar(src.charCodeAt(j))) j++;
  if (j === i) return null;
  const first = src.charCodeAt(i);
  if (first >= ZERO && first <= NINE) return null;
  return { name: src.slice(i, j), at: i, end: j };
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

/** A name an assignment binds, or an attribute `self.x` it sets. */
interface Target {
  name: string;
  at: number;
  /** `self.<name>`: an attribute of the instance. */
  attribute: boolean;
}

/**
 * Targets of the assignment starting at `i` (`a`, `a, *b`, `(a, [b, c])`, `self.x`), stopping at the first '=' or
 * ':' outside brackets. Other attribute and subscript targets (`obj.x`, `d[k]`, `f()[0].y`, `self.a.b`) bind no
 * name and are skipped.
 */
function assignmentTargets(src: string, i: number, limit: number): Target[] {
  const out: Target[] = [];
  let depth = 0;
  let afterDot = false; // the next identifier is an attribute name
  let afterSelf = false; // ...of a bare `self`
  let postfix = false; // the last token ended a primary: a following '(' or '[' is a call or a subscript
  while (i < limit) {
    const c = src.charCodeAt(i);
    if (isIdentChar(c)) {
      let j = i + 1;
      while (j < limit && isIdentChar(src.charCodeAt(j))) j++;
      const n = src.charCodeAt(skipTrivia(src, j, limit));
      const ends = n !== DOT && n !== LBRACK && n !== LPAREN;
      if (!afterDot && ends && !(c >= ZERO && c <= NINE)) out.push({ name: src.slice(i, j), at: i, attribute: false });
      else if (afterSelf && ends) out.push({ name: src.slice(i, j), at: i, attribute: true });
      afterSelf = !afterDot && n === DOT && j - i === 4 && src.startsWith('self', i);
      afterDot = false;
      postfix = true;
      i = j;
    } else if (c === DOT) {
      afterDot = true;
      postfix = false;
      i++;
    } else if ((c === LPAREN || c === LBRACK) && postfix) {
      afterSelf = false;
      i = skipBalanced(src, i, limit);
      if (i < 0) return out;
    } else if (c === LPAREN || c === LBRACK) {
      depth++;
      i++;
    } else if (c === RPAREN || c === RBRACK) {
      depth--;
      postfix = false;
      i++;
    } else if (c === EQ || c === COLON) {
      if (depth <= 0) return out;
      i++;
    } else if (c === COMMA || c === STAR) {
      postfix = false;
      afterSelf = false;
      i++;
    } else if (isSpace(c) || c === LF || c === CR) i++;
    else if (c === BACKSLASH) i += 2;
    else if (c === HASH) i = skipComment(src, i, limit);
    else return out;
  }
  return out;
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


/** A `#` comment block directly above the line of `start` (no blank line between): its text and where it starts. */
function commentAbove(src: string, lines: LineIndex, start: number): { doc: string; start: number } | null {
  const row = lines.row(start);
  const lineStart = lines.lineStart(row);
  for (let k = lineStart; k < start; k++) if (!isSpace(src.charCodeAt(k))) return null;
  const block: string[] = [];
  let first = -1;
  for (let r = row - 1; r >= 0; r--) {
    const ls = lines.lineStart(r);
    const raw = src.slice(ls, lines.lineEnd(r, src.length));
    const text = raw.trim();
    if (!text.startsWith('#') || text.startsWith('#!') || /^#.*coding[:=]/.test(text)) break;
    block.unshift(text.startsWith('#:') ? '#' + text.slice(2) : text);
    first = ls + raw.indexOf('#');
  }
  const doc = block.length ? lineDoc(block, 1) : null;
  return doc === null ? null : { doc, start: first };
}

/** Module paths with the whitespace and line continuations Python allows inside them removed. */
function modulePath(text: string): string {
  return text.replace(/[\s\\]+/g, '');
}

/** `name = lambda ...`: a function bound to a name. */
const LAMBDA = /([\p{L}_][\p{L}\p{N}_]*)[ \t]*=[ \t]*lambda\b/uy;

/** `X: TypeAlias = ...` (PEP 613), with or without the `typing.` prefix. */
const TYPE_ALIAS_ANNOTATION = /\s*:\s*(?:[\p{L}_][\p{L}\p{N}_]*\s*\.\s*)?TypeAlias\s*=/uy;

// ---------------------------------------------------------------------------------------------------------------

type Kind = 'class' | 'function' | 'method';

interface Scope extends Frame<Kind> {
  /** Methods: the class they belong to. */
  owner: string | null;
}

/** One file: a visitor over the listed nodes, one method per construct. */
class PythonFile {
  private readonly src: string;
  private readonly sink: Sink;
  private readonly lines: LineIndex;
  private readonly a: Access;
  private readonly scopes = new ScopeStack<Kind, Scope>({ start: -1, end: Infinity, qualified: null, kind: 'function', owner: null });
  /** Calls inside a def/class header (defaults, annotations, base classes) run in the enclosing scope. */
  private headerEnd = -1;
  private headerScope: string | null = null;
  /** A decorated_definition seen and waiting for its definition. */
  private decoStart = -1;
  private decoEnd = -1;
  /** The statement of the last assignment kept: the inner part of a chain `a = b = 1` shares it. */
  private statement = { start: -1, end: -1, signature: '', doc: null as string | null };
  /** `Class.attr` names already defined (class fields, then `self.attr` in methods: the first one wins). */
  private readonly fields = new Set<string>();

  constructor(file: SourceFile) {
    this.src = file.src;
    this.sink = file.sink;
    this.lines = file.lines;
    this.a = file.nodes(TYPES);
  }

  run(): void {
    const a = this.a;
    for (let i = 0; i < a.count; i++) {
      switch (a.type(i)) {
        case 'call':
          this.call(i);
          break;
        case 'function_definition':
        case 'class_definition':
          this.definition(i);
          break;
        case 'decorated_definition':
          this.decoStart = a.start(i);
          this.decoEnd = a.end(i);
          break;
        case 'assignment':
          this.assignment(i);
          break;
        case 'type_alias_statement':
          this.typeAlias(i);
          break;
        case 'import_statement':
          this.importStatement(i);
          break;
        case 'import_from_statement':
        case 'future_import_statement':
          this.importFrom(i);
          break;
      }
    }
  }

  /** A call: named by its callee's last identifier, placed at it. */
  private call(i: number): void {
    const { a, src } = this;
    const start = a.start(i);
    const scope = start < this.headerEnd ? this.headerScope : this.scopes.at(start).qualified;
    // A chained call `a.b(c).d(e)`: the next call in pre-order starting at the same index is inside our callee.
    let from = start;
    let chained = false;
    if (i + 1 < a.count && a.type(i + 1) === 'call' && a.start(i + 1) === start) {
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
    if (open <= at0) return;
    // the callee ends at its last token before the arguments (blanks, comments and continuations in between)
    let end = open;
    for (;;) {
      const c = src.charCodeAt(end - 1);
      if (end > at0 && (isSpace(c) || c === LF || c === CR || c === BACKSLASH)) end--;
      else break;
    }
    let callee = src.slice(at0, end);
    let name = trailingIdentifier(callee);
    let nameAt = end - (name?.length ?? 0);
    if (!name && callee.charCodeAt(0) === LPAREN && callee.endsWith(')')) {
      // A parenthesized name or attribute: `(int)(x)`, `(obj\n  .method)()`.
      const inner = callee.slice(1, -1).trimEnd();
      if (DOTTED_NAME.test(inner)) {
        name = trailingIdentifier(inner);
        nameAt = at0 + 1 + inner.length - (name?.length ?? 0);
      }
    }
    if (!name) return;
    if (callee.includes('\\')) callee = callee.replace(/\\\r?\n/g, ' '); // line continuations
    this.sink.ref('call', name, nameAt, scope, callee);
  }

  /** `def` / `async def` / `class`, decorated or not. */
  private definition(i: number): void {
    const { a, src } = this;
    const start = a.start(i);
    const frame = this.scopes.at(start);
    const scope = frame.qualified;
    const end = a.end(i);
    let decorators: string[] = [];
    let rangeStart = start;
    if (this.decoStart >= 0 && start < this.decoEnd) {
      decorators = decoratorsIn(src, this.decoStart, start);
      rangeStart = this.decoStart;
    }
    this.decoStart = -1;

    const isClass = a.type(i) === 'class_definition';
    const isAsync = !isClass && src.startsWith('async', start);
    // The name: after `class` / `def` / `async def`.
    let afterKeyword = start + (isClass ? 5 : 3);
    if (isAsync) {
      const def = skipTrivia(src, start + 5, end);
      afterKeyword = src.startsWith('def', def) ? def + 3 : afterKeyword;
    }
    const limit = Math.min(end, start + SCAN_CAP);
    let ident = identifierAt(src, afterKeyword, limit);
    if (!ident) {
      const nameNode = a.child(i, 'name');
      if (nameNode < 0) return;
      ident = { name: src.slice(a.start(nameNode), a.end(nameNode)), at: a.start(nameNode), end: a.end(nameNode) };
    }
    // The header: up to the ':' before the body.
    let headerEnd = headerColon(src, ident.end, limit);
    let bodyStart = headerEnd + 1;
    if (headerEnd < 0) {
      const body = a.child(i, 'body');
      headerEnd = bodyStart = body >= 0 ? a.start(body) : end;
    }

    let kind: SymbolKind;
    if (isClass) kind = 'class';
    else if (frame.kind === 'class') kind = methodKind(decorators);
    else kind = 'function';
    const qualified = this.sink.def({
      name: ident.name,
      kind,
      scope,
      nameAt: ident.at,
      start: rangeStart,
      end,
      signature: signature(src, start, headerEnd),
      doc: docstringAt(src, bodyStart, end),
      flags: isAsync ? [...decorators, 'async'] : decorators,
    });
    const owner = !isClass && frame.kind === 'class' ? scope : null;
    this.scopes.push({ start, end, qualified, kind: isClass ? 'class' : owner ? 'method' : 'function', owner });
    this.headerEnd = headerEnd;
    this.headerScope = scope;
  }

  /** The statement an assignment belongs to (a chain `a = b = 1` is one), with its signature and doc. */
  private statementOf(start: number, end: number): { start: number; end: number; signature: string; doc: string | null } {
    const st = this.statement;
    if (start >= st.end) {
      const above = commentAbove(this.src, this.lines, start);
      st.start = above ? above.start : start;
      st.end = end;
      st.signature = signature(this.src, start, end);
      st.doc = above ? above.doc : null;
    }
    return st;
  }

  /** Module variables and constants, class fields, and `self.x` attributes set in methods. */
  private assignment(i: number): void {
    const { a, src } = this;
    const start = a.start(i);
    const frame = this.scopes.at(start);
    const scope = frame.qualified;
    if (scope !== null && frame.kind !== 'class') {
      // locals are not indexed, except functions bound to them (`key = lambda x: x[0]`) and `self.x` in methods
      LAMBDA.lastIndex = start;
      const m = LAMBDA.exec(src);
      if (m) {
        const st = this.statementOf(start, a.end(i));
        this.sink.def({ name: m[1], kind: 'function', scope, nameAt: start, start: st.start, end: st.end, signature: st.signature, doc: st.doc });
        return;
      }
    }
    const inMethod = frame.kind === 'method' && frame.owner !== null;
    if (scope !== null && frame.kind !== 'class' && !inMethod) return;
    // In a method only `self.x = ...` matters: rule everything else out before reading the end.
    if (inMethod && !(src.startsWith('self', start) && !isIdentChar(src.charCodeAt(start + 4)))) return;
    const end = a.end(i);
    const limit = Math.min(end, start + SCAN_CAP);
    const targets = assignmentTargets(src, start, limit);
    if (!targets.length) return;
    const st = this.statementOf(start, end);
    if (inMethod) {
      for (const t of targets) {
        if (!t.attribute || this.fields.has(frame.owner + '.' + t.name)) continue;
        this.fields.add(this.sink.def({ name: t.name, kind: 'field', scope: frame.owner, nameAt: t.at, start: st.start, end: st.end, signature: st.signature, doc: st.doc, flags: ['instance'] }));
      }
      return;
    }
    TYPE_ALIAS_ANNOTATION.lastIndex = targets[0].at + targets[0].name.length;
    const alias = targets.length === 1 && TYPE_ALIAS_ANNOTATION.test(src);
    LAMBDA.lastIndex = start;
    const lambda = targets.length === 1 && LAMBDA.test(src);
    for (const t of targets) {
      if (t.attribute) continue;
      let kind: SymbolKind;
      if (alias) kind = 'type';
      else if (lambda) kind = frame.kind === 'class' ? 'method' : 'function';
      else if (frame.kind === 'class') kind = 'field';
      else kind = isConstantName(t.name) ? 'constant' : 'variable';
      const q = this.sink.def({ name: t.name, kind, scope, nameAt: t.at, start: st.start, end: st.end, signature: st.signature, doc: st.doc });
      if (frame.kind === 'class') this.fields.add(q);
    }
  }

  /** `type X = ...` (PEP 695). */
  private typeAlias(i: number): void {
    const { a, src } = this;
    const start = a.start(i);
    const frame = this.scopes.at(start);
    if (src.charCodeAt(skipTrivia(src, start + 4, src.length)) === LPAREN) {
      // tree-sitter-python reads `type(x).attr = v` as a type alias; it is an assignment through a call of `type`.
      this.sink.ref('call', 'type', start, frame.qualified, 'type');
      return;
    }
    if (frame.qualified !== null && frame.kind !== 'class') return;
    const end = a.end(i);
    const ident = identifierAt(src, start + 4, Math.min(end, start + SCAN_CAP));
    if (!ident) return;
    const st = this.statementOf(start, end);
    this.sink.def({ name: ident.name, kind: 'type', scope: frame.qualified, nameAt: ident.at, start: st.start, end: st.end, signature: st.signature, doc: st.doc });
  }

  private text(h: number): string {
    return this.src.slice(this.a.start(h), this.a.end(h));
  }

  /** `import a.b`, `import a.b as c`: named by the module. */
  private importStatement(i: number): void {
    const a = this.a;
    const scope = this.scopes.at(a.start(i)).qualified;
    for (const child of a.namedChildren(i)) {
      const target = a.type(child) === 'aliased_import' ? a.child(child, 'name') : child;
      if (target < 0 || a.type(target) !== 'dotted_name') continue;
      const module = modulePath(this.text(target));
      this.sink.ref('import', module, a.start(target), scope, this.text(child), module);
    }
  }

  /** `from m import a, b as c, *` and `from __future__ import x`: named by what is imported. */
  private importFrom(i: number): void {
    const a = this.a;
    const scope = this.scopes.at(a.start(i)).qualified;
    let module: string | null = a.type(i) === 'future_import_statement' ? '__future__' : null;
    for (const child of a.namedChildren(i)) {
      const t = a.type(child);
      if (t === 'comment') continue;
      if (module === null) {
        module = modulePath(this.text(child));
        continue;
      }
      const target = t === 'aliased_import' ? a.child(child, 'name') : child;
      if (target < 0) continue;
      const name = t === 'wildcard_import' ? '*' : modulePath(this.text(target));
      this.sink.ref('import', name, a.start(target), scope, this.text(child), module);
    }
  }
}

export const python: LanguagePlugin = {
  sep: '.',
  extract: (file) => new PythonFile(file).run(),
};
