/**
 * Rust extractor (tree-sitter-rust 0.24).
 *
 * Cost model: every node object handed to JS costs an allocation plus a weak-ref registration in the binding, and
 * every property read (`startIndex`, `childForFieldName`, ...) is a native call. So the tree is touched exactly
 * once: `descendantsOfType(TYPES)` lists every node of interest in pre-order, as integer handles read from the
 * binding's transfer buffer (../access.ts), and we read only the start of each (plus the end for definitions and
 * for calls that prefix a method chain). Everything else (names,
 * modifiers, signatures, docs, callee text, `use` trees, line/column) comes from scanning `src` around those
 * indexes, which in node-tree-sitter are JS string (UTF-16) indexes. Rows/columns come from a line table
 * (tree-sitter counts rows on '\n' and, with UTF-16 input, columns in UTF-16 code units, which is what
 * `index - lineStart` gives).
 *
 * Nothing here recurses: scopes are a range-containment stack, `use` trees are expanded with an explicit stack,
 * so a file nested 10,000 levels deep costs no JS stack.
 *
 * Conventions (also pinned by test/extract/rust.test.ts):
 * - call refs are placed at the callee's last name token (`self.items.push(x)` -> at `push`), name = that
 *   token, context = the callee text (`self.items.push`); callees that do not end in a name (`f(x)(y)`,
 *   `table[i](x)`) produce no ref.
 * - macro invocations are call refs named with a trailing bang (`println!`), context = the macro path (`std::vec!`).
 * - `use` refs are placed at the imported name; `self` in a use list names the module (`use a::{self}` -> `a`).
 * - docs follow rustdoc: `///` and `/** *\/` above the item, across attributes, plain `//` comments and blank lines.
 */
import type { RefRecord, SymbolKind, SymbolRecord } from '../../protocol/types.js';
import {
  CONTEXT_MAX,
  DOC_MAX,
  SIGNATURE_MAX,
  collapse,
  type Extraction,
  type SyntaxNode,
} from '../common.js';
import { accessFor } from '../access.js';

const SEP = '::';

const TYPES = [
  'function_item',
  'function_signature_item',
  'struct_item',
  'union_item',
  'enum_item',
  'enum_variant',
  'field_declaration',
  'trait_item',
  'impl_item',
  'mod_item',
  'macro_definition',
  'const_item',
  'static_item',
  'type_item',
  'associated_type',
  'call_expression',
  'macro_invocation',
  'use_declaration',
  'extern_crate_declaration',
];

// ---------------------------------------------------------------------------------------------------------------
// Header regexes (sticky, run at the node's start index)

const ID = String.raw`(?:r#)?[\p{XID_Start}_][\p{XID_Continue}]*`;
const MODIFIER = String.raw`pub\s*(?:\([^()]*\))?|crate|default|const|async|unsafe|safe|auto|extern(?:\s*"[^"]*")?`;
const PREFIX = `((?:(?:${MODIFIER})\\s*)*?)`;
const head = (kw: string) => new RegExp(`${PREFIX}${kw}\\s+(mut\\s+)?(${ID})`, 'uy');

const RE_FN = head('fn');
const RE_STRUCT = head('struct');
const RE_UNION = head('union');
const RE_ENUM = head('enum');
const RE_TRAIT = head('trait');
const RE_MOD = head('mod');
const RE_CONST = head('const');
const RE_STATIC = head('static');
const RE_TYPE = head('type');
const RE_MACRO_RULES = new RegExp(`macro_rules\\s*!\\s*(${ID})`, 'uy');
const RE_FIELD = new RegExp(`((?:pub\\s*(?:\\([^()]*\\))?|crate)\\s*)?(${ID})\\s*:`, 'uy');
const RE_VARIANT = new RegExp(`(${ID})`, 'uy');
const RE_MACRO_CALL = new RegExp(`((?:::\\s*)?(?:\\$?${ID}\\s*::\\s*)*)(${ID})\\s*!`, 'uy');
const RE_EXTERN_CRATE = new RegExp(`(?:pub\\s*(?:\\([^()]*\\))?\\s*)?extern\\s+crate\\s+(${ID})`, 'uy');
const RE_IDENT = new RegExp(ID, 'uy');
const RE_ID_START = /[\p{XID_Start}_]/u;
const RE_PUB = /^pub\s*(\([^()]*\))?/;
const RE_MODIFIER = /\b(default|const|async|unsafe|safe|extern|auto)\b/g;
const RE_CALLEE_TAIL = /((?:r#)?[\p{XID_Start}_][\p{XID_Continue}]*)\s*\)*\s*$/u;

/** Visibility and modifier flags from the text in front of the item keyword. */
function prefixFlags(prefix: string): string[] {
  const flags: string[] = [];
  if (!prefix) return flags;
  const pub = RE_PUB.exec(prefix);
  if (pub) flags.push(pub[1] ? 'pub' + pub[1].replace(/\s+/g, ' ').replace(/\(\s+/, '(').replace(/\s+\)/, ')') : 'pub');
  RE_MODIFIER.lastIndex = 0;
  for (let m = RE_MODIFIER.exec(prefix); m; m = RE_MODIFIER.exec(prefix)) flags.push(m[1]);
  return flags;
}

// ---------------------------------------------------------------------------------------------------------------
// Character-level scanners over `src` (all iterative)

const isWs = (c: number) => c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11;
const isIdAscii = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57);

/** Index of the closing quote of the string starting at `i` (a '"'), or `limit`. */
function skipString(src: string, i: number, limit: number): number {
  for (let j = i + 1; j < limit; j++) {
    const c = src.charCodeAt(j);
    if (c === 92) j++;
    else if (c === 34) return j;
  }
  return limit;
}

/**
 * Index just past the '>' matching the '<' at `i`, or -1. '->' and '=>' do not close; inside (), [] and {}
 * (`[u8; 3]`, `{ N + 1 }`, `Fn(u8) -> u8`) angle characters are ignored. Gives up at a top-level ';' or an
 * unbalanced closer, and after 4096 characters.
 */
function skipAngle(src: string, i: number, limit: number): number {
  let angle = 0;
  let nest = 0;
  const stop = Math.min(limit, i + 4096);
  for (let j = i; j < stop; j++) {
    const c = src.charCodeAt(j);
    if (c === 34) j = skipString(src, j, stop);
    else if (c === 40 || c === 91 || c === 123) nest++;
    else if (c === 41 || c === 93 || c === 125) {
      if (--nest < 0) return -1;
    } else if (nest === 0) {
      if (c === 60) angle++;
      else if (c === 62) {
        const p = src.charCodeAt(j - 1);
        if (p === 45 || p === 61) continue;
        if (--angle === 0) return j + 1;
      } else if (c === 59) return -1;
    }
  }
  return -1;
}

/** `text` without a trailing turbofish: `x.parse::<Vec<u8>>` -> `x.parse`. */
function stripTurbofish(text: string): string {
  let t = text.trimEnd();
  if (t.charCodeAt(t.length - 1) !== 62) return t;
  let depth = 0;
  for (let j = t.length - 1; j >= 0; j--) {
    const c = t.charCodeAt(j);
    if (c === 62) {
      const p = t.charCodeAt(j - 1);
      if (p !== 45 && p !== 61) depth++;
    } else if (c === 60 && --depth === 0) {
      t = t.slice(0, j).trimEnd();
      return t.endsWith('::') ? t.slice(0, -2) : t;
    }
  }
  return t;
}

/**
 * Where a definition's header ends: the first '{' or ';' outside (), [], <> and strings, else `limit`.
 * `fn f<T: Into<u8>>(x: [u8; 4]) -> impl Fn() -> u8 where T: Copy {` stops at the final '{'.
 */
function headerEnd(src: string, from: number, limit: number): number {
  let depth = 0;
  for (let i = from; i < limit; i++) {
    const c = src.charCodeAt(i);
    switch (c) {
      case 123: // {
        if (depth === 0) return i;
        depth++;
        break;
      case 59: // ;
        if (depth === 0) return i;
        break;
      case 40: // (
      case 91: // [
      case 60: // <
        depth++;
        break;
      case 41: // )
      case 93: // ]
      case 125: // }
        if (depth > 0) depth--;
        break;
      case 62: {
        // >
        const p = src.charCodeAt(i - 1);
        if (p !== 45 && p !== 61 && depth > 0) depth--;
        break;
      }
      case 34: // "
        i = skipString(src, i, limit);
        break;
      case 47: {
        // /
        const n = src.charCodeAt(i + 1);
        if (n === 47) {
          const nl = src.indexOf('\n', i);
          i = nl < 0 || nl > limit ? limit : nl;
        } else if (n === 42) {
          const end = src.indexOf('*/', i + 2);
          i = end < 0 || end > limit ? limit : end + 1;
        }
        break;
      }
    }
  }
  return limit;
}

/** Header text `[from, to)` as a signature: trailing `{ = : ; ,` and whitespace dropped, collapsed, capped. */
function sigText(src: string, from: number, to: number): string {
  const cap = SIGNATURE_MAX * 8;
  const capped = to - from > cap;
  let s = src.slice(from, capped ? from + cap : to);
  if (!capped) s = s.replace(/[\s:{=;,]+$/, '');
  s = squash(s, SIGNATURE_MAX);
  if (capped && !s.endsWith('…')) s = s.slice(0, SIGNATURE_MAX - 1) + '…';
  return s;
}

/**
 * Doc comments above the item starting at `start`, nearest last, cleaned. Walks backwards over whitespace,
 * attributes (`#[...]`), plain `//` comments and block comments; collects `///` lines and `/** *\/` blocks;
 * stops at anything else (code, `//!`, `#![...]`).
 */
function docAt(src: string, start: number, lineStarts: number[], row: number): string | null {
  let docs: string[] | null = null;
  let p = start;
  let r = row; // walks up the line table with p
  for (;;) {
    while (p > 0 && isWs(src.charCodeAt(p - 1))) p--;
    if (p === 0) break;
    while (r > 0 && lineStarts[r] > p - 1) r--;
    const ls = lineStarts[r];
    let q = ls;
    while (q < p && (src.charCodeAt(q) === 32 || src.charCodeAt(q) === 9)) q++;
    if (src.charCodeAt(q) === 47 && src.charCodeAt(q + 1) === 47) {
      // a line comment runs to the end of the line
      const third = src.charCodeAt(q + 2);
      if (third === 33) break; // //! inner doc
      if (third === 47 && src.charCodeAt(q + 3) !== 47) (docs ??= []).push(src.slice(q, p));
      p = ls;
      continue;
    }
    // (bounded, so a file written on one huge line stays linear)
    if (p - q <= 1024 && hasLineComment(src, q, p)) {
      // a trailing comment after an attribute or code (`#[inline] // why`): plain, skip it
      const k = trailingComment(src, q, p);
      if (k >= 0) {
        p = k;
        continue;
      }
    }
    const c = src.charCodeAt(p - 1);
    if (c === 47 && src.charCodeAt(p - 2) === 42) {
      // '*/': find the matching (nesting) '/*'
      let depth = 1;
      let i = p - 3;
      const floor = Math.max(0, p - 65536);
      for (; i > floor; i--) {
        const a = src.charCodeAt(i - 1);
        const b = src.charCodeAt(i);
        if (a === 42 && b === 47) {
          depth++;
          i--;
        } else if (a === 47 && b === 42) {
          if (--depth === 0) break;
          i--;
        }
      }
      if (depth !== 0 || i <= floor) break;
      const open = i - 1;
      if (src.charCodeAt(open + 2) === 33) break; // /*! inner doc
      if (src.charCodeAt(open + 2) === 42 && src.charCodeAt(open + 3) !== 42 && p - open > 4) {
        (docs ??= []).push(src.slice(open, p));
      }
      p = open;
      continue;
    }
    if (c === 93) {
      // ']': an attribute if the matching '[' follows a '#'
      let depth = 0;
      let i = p - 1;
      const floor = Math.max(0, p - 20000);
      for (; i >= floor; i--) {
        const ch = src.charCodeAt(i);
        if (ch === 93) depth++;
        else if (ch === 91) {
          if (--depth === 0) break;
        } else if (ch === 34) {
          // skip a string backwards: the previous '"' not escaped by an odd run of backslashes
          let j = i - 1;
          for (; j >= floor; j--) {
            if (src.charCodeAt(j) !== 34) continue;
            let k = j - 1;
            while (k >= 0 && src.charCodeAt(k) === 92) k--;
            if ((j - 1 - k) % 2 === 0) break;
          }
          i = j;
        }
      }
      if (i < 1 || depth !== 0 || src.charCodeAt(i - 1) !== 35) break;
      p = i - 1;
      continue;
    }
    break;
  }
  if (!docs) return null;
  return cleanDocs(docs);
}

/**
 * Doc comment text (given nearest first) without markers: `/// x` -> `x`, `/** x *\/` -> `x` (a leading ` * ` per
 * line dropped). Markdown stays intact: unlike the shared cleanComment, `# Examples` keeps its `#`.
 */
function cleanDocs(docs: string[]): string | null {
  const lines: string[] = [];
  for (let k = docs.length - 1; k >= 0; k--) {
    const d = docs[k];
    if (d.charCodeAt(1) === 47) {
      // `///`: one optional space after the marker
      lines.push(d.slice(d.charCodeAt(3) === 32 ? 4 : 3).trimEnd());
    } else {
      const body = d.slice(3, d.length - 2);
      for (const l of body.split('\n')) lines.push(l.replace(/^\s*\*(?!\/) ?/, '').trimEnd());
    }
  }
  const text = lines.join('\n').trim();
  if (!text) return null;
  return text.length > DOC_MAX ? text.slice(0, DOC_MAX - 1) + '…' : text;
}

/** collapse() with a fast path for the common case of text that has nothing to collapse. */
function squash(text: string, max: number): string {
  if (text.length <= max) {
    let clean = text.charCodeAt(0) !== 32 && text.charCodeAt(text.length - 1) !== 32;
    for (let i = 0; clean && i < text.length; i++) {
      const c = text.charCodeAt(i);
      // (anything non-ASCII goes the slow way: \s also matches Unicode spaces)
      if (c === 32 ? text.charCodeAt(i + 1) === 32 : c < 32 ? c >= 9 && c <= 13 : c > 127) clean = false;
    }
    if (clean) return text;
  }
  return collapse(text, max);
}

function hasLineComment(src: string, from: number, to: number): boolean {
  for (let i = from; i < to - 1; i++) if (src.charCodeAt(i) === 47 && src.charCodeAt(i + 1) === 47) return true;
  return false;
}

/** Start of the `//` comment that ends the line `[from, to)`, skipping string and char literals; -1 if none. */
function trailingComment(src: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = src.charCodeAt(i);
    if (c === 34) i = skipString(src, i, to);
    else if (c === 39) {
      // char literal `'x'` / `'\n'` (a lifetime `'a` has no closing quote)
      if (src.charCodeAt(i + 1) === 92) {
        const close = src.indexOf("'", i + 3);
        i = close < 0 || close > to ? to : close;
      } else if (src.charCodeAt(i + 2) === 39) i += 2;
    } else if (c === 47 && src.charCodeAt(i + 1) === 47) return i;
    else if (c === 47 && src.charCodeAt(i + 1) === 42) {
      const e = src.indexOf('*/', i + 2);
      if (e < 0 || e >= to) return -1;
      i = e + 1;
    }
  }
  return -1;
}

/** Last path segment of a self type without generics: `a::Stack<T>` -> `Stack`, `&'a mut Foo` -> `Foo`. */
function typeName(text: string): string {
  const t = text
    .replace(/^(?:&\s*(?:'[\p{XID_Continue}]+\s*)?|\*\s*(?:const|mut)\s+|mut\s+|dyn\s+|::)+/u, '');
  if (!RE_ID_START.test(t.charAt(0)) || /^(?:fn|impl|unsafe|extern)\b/.test(t)) {
    return collapse(t, SIGNATURE_MAX) || text; // `[T]`, `(A, B)`, `fn(u8)`: the whole type
  }
  let end = t.length;
  const lt = t.indexOf('<');
  if (lt >= 0) end = lt;
  const plus = t.indexOf('+');
  if (plus >= 0 && plus < end) end = plus;
  const path = t.slice(0, end).replace(/\s+/g, '');
  const seg = path.lastIndexOf('::');
  return seg >= 0 ? path.slice(seg + 2) : path;
}

/** Splits an impl header (`impl<T> fmt::Display for Stack<T> where ...`) into trait text and self type text. */
function parseImpl(h: string): { trait: string | null; self: string; unsafe: boolean } {
  let i = 0;
  const m = /^\s*(?:(unsafe)\s+)?(?:default\s+)?(?:(unsafe)\s+)?impl\b\s*/.exec(h);
  const unsafe = !!(m && (m[1] || m[2]));
  if (m) i = m[0].length;
  if (h.charCodeAt(i) === 60) {
    const j = skipAngle(h, i, h.length);
    i = j < 0 ? h.length : j;
  }
  const rest = h.slice(i);
  let depth = 0;
  let forAt = -1;
  let whereAt = rest.length;
  for (let k = 0; k < rest.length; k++) {
    const c = rest.charCodeAt(k);
    if (c === 40 || c === 91 || c === 60) depth++;
    else if (c === 41 || c === 93) depth = depth > 0 ? depth - 1 : 0;
    else if (c === 62) {
      const p = rest.charCodeAt(k - 1);
      if (p !== 45 && p !== 61 && depth > 0) depth--;
    } else if (depth === 0 && (c === 102 || c === 119) && (k === 0 || !isIdAscii(rest.charCodeAt(k - 1)))) {
      if (forAt < 0 && rest.startsWith('for', k) && isWs(rest.charCodeAt(k + 3))) {
        let n = k + 3;
        while (isWs(rest.charCodeAt(n))) n++;
        if (rest.charCodeAt(n) !== 60) forAt = k; // not an HRTB `for<'a>`
      } else if (rest.startsWith('where', k) && !isIdAscii(rest.charCodeAt(k + 5))) {
        whereAt = k;
        break;
      }
    }
  }
  if (forAt >= 0) {
    const trait = collapse(rest.slice(0, forAt).trim().replace(/^const\s+/, ''), SIGNATURE_MAX);
    return { trait, self: rest.slice(forAt + 3, whereAt).trim(), unsafe };
  }
  return { trait: null, self: rest.slice(0, whereAt).trim(), unsafe };
}

// ---------------------------------------------------------------------------------------------------------------

interface Frame {
  end: number;
  qualified: string;
  kind: number;
}
const K_OTHER = 0;
const K_TRAIT = 1;
const K_IMPL = 2;

export function extract(root: SyntaxNode, src: string): Extraction {
  const symbols: SymbolRecord[] = [];
  const refs: RefRecord[] = [];
  const a = accessFor(root, TYPES); // integer handles, no wrapper object per node (see ../access.ts)
  const n = a.count;
  if (n === 0) return { symbols, refs };

  // Line table: lineStarts[k] is the index of the first character of row k.
  const lineStarts: number[] = [0];
  for (let i = src.indexOf('\n'); i >= 0; i = src.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lastRow = lineStarts.length - 1;
  let hint = 0; // the row of the previous lookup: pre-order positions mostly move forward a little
  const rowOf = (idx: number): number => {
    let lo = hint;
    if (lineStarts[lo] <= idx) {
      if (lo === lastRow || lineStarts[lo + 1] > idx) return lo;
      if (lo + 1 === lastRow || lineStarts[lo + 2] > idx) return (hint = lo + 1);
    } else lo = 0;
    let hi = lastRow;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= idx) lo = mid;
      else hi = mid - 1;
    }
    return (hint = lo);
  };

  // In a file with syntax errors the textual header scan can run into the body (`fn f(a: u8 {`), so there the
  // tree says where a `{ ... }` body starts. One native call per file; only broken files pay per definition.
  const broken = root.hasError;
  const bodyStart = (h: number, start: number, end: number): number => {
    let limit = end;
    if (broken) {
      const body = a.child(h, 'body');
      if (body >= 0 && src.charCodeAt(a.start(body)) === 123) limit = a.start(body);
    }
    return headerEnd(src, start, limit);
  };

  const starts = new Array<number>(n);
  for (let i = 0; i < n; i++) starts[i] = a.start(i);
  /** A field's text, from the tree (when the text scanners give up). */
  const fieldText = (h: number, field: string): string | undefined => {
    const c = a.child(h, field);
    return c >= 0 ? src.slice(a.start(c), a.end(c)) : undefined;
  };

  const stack: Frame[] = [];
  const scopeAt = (start: number): Frame | null => {
    while (stack.length && stack[stack.length - 1].end <= start) stack.pop();
    return stack.length ? stack[stack.length - 1] : null;
  };

  const addSymbol = (
    name: string,
    kind: SymbolKind,
    scope: string | null,
    start: number,
    end: number,
    signature: string,
    flags: string[] | null,
  ): string => {
    const qualified = scope ? scope + SEP + name : name;
    const sr = rowOf(start);
    const er = rowOf(end);
    const sym: SymbolRecord = {
      name,
      kind,
      scope,
      qualified,
      startLine: sr + 1,
      startCol: start - lineStarts[sr],
      endLine: er + 1,
      endCol: end - lineStarts[er],
      signature,
      doc: docAt(src, start, lineStarts, sr),
    };
    if (flags && flags.length) sym.flags = flags;
    symbols.push(sym);
    hint = sr;
    return qualified;
  };

  const addRef = (kind: RefRecord['kind'], name: string, at: number, scope: string | null, context: string) => {
    const r = rowOf(at);
    refs.push({ kind, name, line: r + 1, col: at - lineStarts[r], scope, context: squash(context, CONTEXT_MAX) });
  };

  /** Context text `[from, to)`, capped before collapsing so long chains stay linear. */
  const contextText = (from: number, to: number) => src.slice(from, Math.min(to, from + CONTEXT_MAX * 4)).trimEnd();

  for (let i = 0; i < n; i++) {
    const start = starts[i];
    const frame = scopeAt(start);
    const scope = frame ? frame.qualified : null;
    const type = a.type(i);

    switch (type) {
      case 'call_expression': {
        // The callee is a prefix of the call. If the next node starts at the same index it is inside the callee
        // (a method chain `a.b().c()` or `f(x)(y)`): continue scanning after it instead of from the start.
        let from = start;
        if (i + 1 < n && starts[i + 1] === start) {
          const inner = a.type(i + 1);
          if (inner === 'call_expression' || inner === 'macro_invocation') {
            from = a.end(i + 1);
          }
        }
        let argsAt = -1;
        let nameAt = -1;
        let nameEnd = -1;
        let prevName = false; // the previous token was a name or a tuple index
        let p = from;
        const len = src.length;
        scan: while (p < len) {
          const c = src.charCodeAt(p);
          if (isWs(c)) {
            p++;
          } else if (c === 40) {
            // '(' : the arguments, unless nothing precedes it (a parenthesized callee)
            if (p !== start) argsAt = p;
            break;
          } else if (isIdAscii(c) || c > 127) {
            // two names in a row (`match x {..}.f()`, `if c {..}.f()`) is not a path: let the tree answer
            if (prevName) break;
            prevName = true;
            if (c >= 48 && c <= 57) {
              // tuple field `.0`
              while (p < len && src.charCodeAt(p) >= 48 && src.charCodeAt(p) <= 57) p++;
              nameAt = -1;
              continue;
            }
            if (c > 127) {
              RE_IDENT.lastIndex = p;
              const m = RE_IDENT.exec(src);
              if (!m) break;
              nameAt = p;
              p += m[0].length;
            } else {
              nameAt = p;
              if (c === 114 && src.charCodeAt(p + 1) === 35) p += 2; // r#ident
              while (p < len) {
                const d = src.charCodeAt(p);
                if (isIdAscii(d)) p++;
                else if (d > 127) {
                  RE_IDENT.lastIndex = nameAt;
                  const m = RE_IDENT.exec(src);
                  if (!m) break scan;
                  p = nameAt + m[0].length;
                  break;
                } else break;
              }
            }
            nameEnd = p;
            continue;
          } else if (c === 58 && src.charCodeAt(p + 1) === 58) {
            prevName = false;
            p += 2;
            while (p < len && isWs(src.charCodeAt(p))) p++;
            if (src.charCodeAt(p) === 60) {
              const j = skipAngle(src, p, len);
              if (j < 0) break;
              p = j; // turbofish: the name stays
            }
          } else if (c === 60) {
            // qualified path `<T as Trait>::f`
            if (prevName) break;
            const j = skipAngle(src, p, len);
            if (j < 0) break;
            p = j;
            nameAt = -1;
          } else if (c === 46 || c === 63) {
            // '.' or '?'
            prevName = false;
            p++;
            nameAt = -1;
          } else if (c === 47 && src.charCodeAt(p + 1) === 47) {
            const nl = src.indexOf('\n', p);
            if (nl < 0) break;
            p = nl;
          } else if (c === 47 && src.charCodeAt(p + 1) === 42) {
            const e = src.indexOf('*/', p + 2);
            if (e < 0) break;
            p = e + 2;
          } else {
            break;
          }
        }
        if (argsAt < 0) {
          // Not a plain path/field/method callee: ask the tree where the arguments start.
          const args = a.child(i, 'arguments');
          if (args < 0) break;
          argsAt = a.start(args);
          const window = Math.max(start, argsAt - 200);
          const m = RE_CALLEE_TAIL.exec(stripTurbofish(src.slice(window, argsAt)));
          if (m) {
            nameAt = window + m.index;
            nameEnd = nameAt + m[1].length;
          } else nameAt = -1;
        }
        if (argsAt < 0 || nameAt < 0) break;
        addRef('call', src.slice(nameAt, nameEnd), nameAt, scope, contextText(start, argsAt));
        break;
      }

      case 'macro_invocation': {
        RE_MACRO_CALL.lastIndex = start;
        const m = RE_MACRO_CALL.exec(src);
        if (!m) break;
        const nameAt = start + m[1].length;
        addRef('call', m[2] + '!', nameAt, scope, (m[1] + m[2]).replace(/\s+/g, '') + '!');
        break;
      }

      case 'use_declaration': {
        expandUse(src, start, a.end(i), scope, addRef);
        break;
      }

      case 'extern_crate_declaration': {
        RE_EXTERN_CRATE.lastIndex = start;
        const m = RE_EXTERN_CRATE.exec(src);
        if (!m) break;
        addRef('import', m[1], RE_EXTERN_CRATE.lastIndex - m[1].length, scope, m[1]);
        break;
      }

      default: {
        const end = a.end(i);
        let re: RegExp | null = null;
        let kind: SymbolKind = 'function';
        let container = false;
        let wholeSig = false;
        let extra: string | null = null;
        let ctxKind = K_OTHER;
        switch (type) {
          case 'function_item':
            re = RE_FN;
            container = true;
            break;
          case 'function_signature_item':
            re = RE_FN;
            wholeSig = true;
            break;
          case 'struct_item':
            re = RE_STRUCT;
            kind = 'struct';
            container = true;
            break;
          case 'union_item':
            re = RE_UNION;
            kind = 'struct';
            container = true;
            extra = 'union';
            break;
          case 'enum_item':
            re = RE_ENUM;
            kind = 'enum';
            container = true;
            break;
          case 'trait_item':
            re = RE_TRAIT;
            kind = 'trait';
            container = true;
            ctxKind = K_TRAIT;
            break;
          case 'mod_item':
            re = RE_MOD;
            kind = 'module';
            container = true;
            break;
          case 'const_item':
            re = RE_CONST;
            kind = 'constant';
            container = true;
            wholeSig = true;
            break;
          case 'static_item':
            re = RE_STATIC;
            kind = 'static';
            container = true;
            wholeSig = true;
            break;
          case 'type_item':
          case 'associated_type':
            re = RE_TYPE;
            kind = 'type';
            wholeSig = true;
            break;
          case 'macro_definition': {
            RE_MACRO_RULES.lastIndex = start;
            const m = RE_MACRO_RULES.exec(src);
            const name = m ? m[1] : fieldText(i, 'name');
            if (name) addSymbol(name, 'macro', scope, start, end, `macro_rules! ${name}`, null);
            continue;
          }
          case 'field_declaration': {
            RE_FIELD.lastIndex = start;
            const m = RE_FIELD.exec(src);
            const name = m ? m[2] : fieldText(i, 'name');
            const flags = m ? prefixFlags(m[1] ?? '') : null;
            if (name) addSymbol(name, 'field', scope, start, end, sigText(src, start, end), flags);
            continue;
          }
          case 'enum_variant': {
            RE_VARIANT.lastIndex = start;
            const m = RE_VARIANT.exec(src);
            const name = m ? m[1] : fieldText(i, 'name');
            if (!name) continue;
            const sig = sigText(src, start, headerEnd(src, start, end));
            const q = addSymbol(name, 'enum_member', scope, start, end, sig, null);
            stack.push({ end, qualified: q, kind: K_OTHER });
            continue;
          }
          case 'impl_item': {
            const hEnd = bodyStart(i, start, end);
            const im = parseImpl(src.slice(start, hEnd));
            const name = typeName(im.self);
            if (!name) continue;
            const flags: string[] = [];
            if (im.unsafe) flags.push('unsafe');
            if (im.trait) flags.push('trait ' + im.trait);
            const q = addSymbol(name, 'impl', scope, start, end, sigText(src, start, hEnd), flags);
            stack.push({ end, qualified: q, kind: K_IMPL });
            continue;
          }
        }
        if (!re) continue;
        re.lastIndex = start;
        const m = re.exec(src);
        let name: string | undefined;
        let flags: string[] | null = null;
        if (m) {
          name = m[3];
          flags = prefixFlags(m[1]);
          if (m[2]) flags.push('mut');
        } else {
          // comments inside the header, or an item recovered from a syntax error: ask the tree
          name = fieldText(i, 'name');
        }
        if (!name) continue;
        if (type === 'const_item' && name === '_') continue; // `const _: () = { ... };` is anonymous
        if (extra) (flags ??= []).push(extra);
        if (kind === 'function' && frame && (frame.kind === K_TRAIT || frame.kind === K_IMPL)) kind = 'method';
        const sigEnd = wholeSig ? end : bodyStart(i, start, end);
        const q = addSymbol(name, kind, scope, start, end, sigText(src, start, sigEnd), flags);
        if (container) stack.push({ end, qualified: q, kind: ctxKind });
      }
    }
  }
  return { symbols, refs };
}

/**
 * Expands the use tree in `src[start, end)` into one import ref per leaf, with an explicit stack for `{...}`.
 * `use std::collections::{HashMap, hash_map::Entry as E};` -> HashMap (std::collections::HashMap),
 * Entry (std::collections::hash_map::Entry); `use foo::*` -> * (foo::*).
 */
function expandUse(
  src: string,
  start: number,
  end: number,
  scope: string | null,
  addRef: (kind: RefRecord['kind'], name: string, at: number, scope: string | null, context: string) => void,
): void {
  let p = start;
  // skip visibility and the `use` keyword
  const m = /(?:pub\s*(?:\([^()]*\))?\s*)?use\b/y;
  m.lastIndex = start;
  if (m.exec(src)) p = m.lastIndex;
  const prefixes: string[] = [];
  let prefix = '';
  let segs: string[] = [];
  let lastAt = -1;
  let afterAs = false;
  const emit = () => {
    if (segs.length && lastAt >= 0) {
      let path = prefix + segs.join(SEP);
      let name = segs[segs.length - 1];
      if (name === 'self') {
        // `a::{self}` names the module `a`
        path = path.slice(0, -(SEP.length + 4));
        const cut = path.lastIndexOf(SEP);
        name = cut >= 0 ? path.slice(cut + SEP.length) : path;
      }
      if (name) addRef('import', name, lastAt, scope, path);
    }
    segs = [];
    lastAt = -1;
    afterAs = false;
  };
  while (p < end) {
    const c = src.charCodeAt(p);
    if (isWs(c)) {
      p++;
    } else if (c === 47 && src.charCodeAt(p + 1) === 47) {
      const nl = src.indexOf('\n', p);
      p = nl < 0 ? end : nl;
    } else if (c === 47 && src.charCodeAt(p + 1) === 42) {
      const e = src.indexOf('*/', p + 2);
      p = e < 0 ? end : e + 2;
    } else if (c === 58 && src.charCodeAt(p + 1) === 58) {
      if (!segs.length && !prefix.endsWith(SEP)) prefix += SEP; // leading `::`
      p += 2;
    } else if (c === 123) {
      prefixes.push(prefix);
      prefix = prefix + segs.map((s) => s + SEP).join('');
      segs = [];
      lastAt = -1;
      afterAs = false;
      p++;
    } else if (c === 125) {
      emit();
      prefix = prefixes.length ? prefixes.pop()! : '';
      p++;
    } else if (c === 44) {
      emit();
      p++;
    } else if (c === 59) {
      break;
    } else if (c === 42) {
      if (!afterAs) {
        segs.push('*');
        lastAt = p;
      }
      p++;
    } else {
      const dollar = c === 36 ? 1 : 0; // `$crate` inside macro bodies
      RE_IDENT.lastIndex = p + dollar;
      const id = RE_IDENT.exec(src);
      if (!id) {
        p++;
        continue;
      }
      const word = dollar ? '$' + id[0] : id[0];
      if (word === 'as' && segs.length) afterAs = true;
      else if (!afterAs) {
        segs.push(word);
        lastAt = p;
      }
      p += word.length;
    }
  }
  emit();
}
