/**
 * Rust (tree-sitter-rust 0.24): items, fields, variants, impls, macros by example; calls, macro invocations (and the
 * calls inside their arguments), `use` and `extern crate` imports.
 *
 * Every node of interest comes from ONE pre-order listing (`file.nodes`), as integer handles over the binding's
 * transfer buffer; we read the start of each (plus the end of definitions, macro invocations and calls that prefix
 * a method chain). Names, modifiers, signatures, docs, callee text and `use` trees come from scanning the text
 * around those offsets. Nothing recurses: scopes are a range stack, `use` trees expand with an explicit stack.
 *
 * Conventions (pinned by test/extract/rust.test.ts):
 * - a definition's name position is its identifier (for an impl: its self type's name); its range starts at its
 *   first outer attribute or doc comment;
 * - call refs sit at the callee's last name (`self.items.push(x)` -> at `push`), context = the callee text;
 *   callees that do not end in a name (`f(x)(y)`, `table[i](x)`) produce no ref;
 * - macro invocations are call refs named with a bang (`println!`), context = the macro path; the calls and
 *   macros inside a macro's token tree (`assert_eq!(m.find(x), ...)`) are call refs flagged `macro`, read from the
 *   tokens (the grammar keeps a token tree flat);
 * - `use` refs sit at the imported name, module = the path before it (`use std::io::Read` -> `Read` from
 *   `std::io`), context = the path as written; `self` in a use list names the module (`use a::{self}` -> `a`);
 * - docs follow rustdoc: `///` and `/** *\/` above the item, across attributes, plain `//` comments and blank lines.
 */
import type { SymbolKind } from '../../protocol/types.js';
import {
  blockDoc,
  collapse,
  docText,
  isBlank,
  lineGap,
  ScopeStack,
  signature,
  SIGNATURE_MAX,
  type Access,
  type Frame,
  type GrammarGap,
  type LanguagePlugin,
  type LineIndex,
  type Sink,
  type SourceFile,
} from '../toolkit/index.js';

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
const RE_EXTERN_CRATE = new RegExp(`(?:pub\\s*(?:\\([^()]*\\))?\\s*)?extern\\s+crate\\s+(${ID})(?:\\s+as\\s+(${ID}))?`, 'uy');
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


/**
 * The doc comments above the item starting at `start`, and where its enclosing range starts (its first outer
 * attribute or doc comment). Walks backwards over whitespace, attributes (`#[...]`), plain `//` comments and block
 * comments; collects `///` lines and `/** *\/` blocks; stops at anything else (code, `//!`, `#![...]`).
 */
function docAt(src: string, start: number, lines: LineIndex): { doc: string | null; start: number } {
  const docs: string[] = []; // nearest first
  let first = start;
  let p = start;
  let r = lines.row(start); // walks up the line table with p (no search per line: docs can be long)
  for (;;) {
    while (p > 0 && isBlank(src.charCodeAt(p - 1))) p--;
    if (p === 0) break;
    while (r > 0 && lines.lineStart(r) > p - 1) r--;
    const ls = lines.lineStart(r);
    let q = ls;
    while (q < p && (src.charCodeAt(q) === 32 || src.charCodeAt(q) === 9)) q++;
    if (src.charCodeAt(q) === 47 && src.charCodeAt(q + 1) === 47) {
      // a line comment runs to the end of the line
      const third = src.charCodeAt(q + 2);
      if (third === 33) break; // //! inner doc
      if (third === 47 && src.charCodeAt(q + 3) !== 47) {
        docs.push(src.slice(q, p));
        first = q;
      }
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
        const x = src.charCodeAt(i - 1);
        const y = src.charCodeAt(i);
        if (x === 42 && y === 47) {
          depth++;
          i--;
        } else if (x === 47 && y === 42) {
          if (--depth === 0) break;
          i--;
        }
      }
      if (depth !== 0 || i <= floor) break;
      const open = i - 1;
      if (src.charCodeAt(open + 2) === 33) break; // /*! inner doc
      if (src.charCodeAt(open + 2) === 42 && src.charCodeAt(open + 3) !== 42 && p - open > 4) {
        docs.push(src.slice(open, p));
        first = open;
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
      p = first = i - 1;
      continue;
    }
    break;
  }
  if (!docs.length) return { doc: null, start: first };
  // Markdown stays intact: `# Examples` keeps its `#`.
  const text = docs
    .reverse()
    .map((d) => (d.charCodeAt(1) === 47 ? d.slice(d.charCodeAt(3) === 32 ? 4 : 3).trimEnd() : (blockDoc(d) ?? '')))
    .join('\n');
  return { doc: docText(text), start: first };
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
function parseImpl(h: string): { trait: string | null; self: string; selfAt: number; unsafe: boolean } {
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
      if (forAt < 0 && rest.startsWith('for', k) && isBlank(rest.charCodeAt(k + 3))) {
        let n = k + 3;
        while (isBlank(rest.charCodeAt(n))) n++;
        if (rest.charCodeAt(n) !== 60) forAt = k; // not an HRTB `for<'a>`
      } else if (rest.startsWith('where', k) && !isIdAscii(rest.charCodeAt(k + 5))) {
        whereAt = k;
        break;
      }
    }
  }
  const selfFrom = forAt >= 0 ? forAt + 3 : 0;
  const selfRaw = rest.slice(selfFrom, whereAt);
  const self = selfRaw.trim();
  const selfAt = i + selfFrom + (selfRaw.length - selfRaw.trimStart().length);
  if (forAt >= 0) {
    const trait = collapse(rest.slice(0, forAt).trim().replace(/^const\s+/, ''), SIGNATURE_MAX);
    return { trait, self, selfAt, unsafe };
  }
  return { trait: null, self, selfAt, unsafe };
}


// ---------------------------------------------------------------------------------------------------------------
// Calls inside a macro's token tree (the grammar keeps it flat: tokens, no expressions)

/** Words that may stand before `(` without being called. */
const NOT_CALLED = new Set([
  'as', 'async', 'await', 'break', 'const', 'continue', 'crate', 'dyn', 'else', 'enum', 'extern', 'fn', 'for', 'if', 'impl', 'in',
  'let', 'loop', 'match', 'mod', 'move', 'mut', 'pub', 'ref', 'return', 'static', 'struct', 'trait', 'type', 'unsafe', 'use',
  'where', 'while', 'yield', 'true', 'false', 'box',
]);

/**
 * Calls and macro invocations in the token tree `src[from, to)`, read token by token: a name (a path segment, a
 * field or method name, `r#name`), optionally with a turbofish, followed by `(` is a call; followed by `!` and a
 * delimiter it is a macro. Strings, chars, lifetimes and comments are skipped; `$var(` (a macro variable) and
 * `fn name(` (a definition) are not calls. Each ref's context is its path or method chain (`m.find`), cut at the
 * token that starts the chain.
 */
function macroArgumentCalls(src: string, from: number, to: number, emit: (name: string, at: number, context: string, macro: boolean) => void): void {
  const chains: number[] = []; // chain start when each open bracket was entered
  let chain = -1; // where the current path/field chain started, -1 outside one
  let prev = 0; // the previous significant token: 0 other, 1 name, 2 `.` or `::`, 3 closing bracket, 4 `$`, 5 `fn`
  let nameAt = -1;
  let nameEnd = -1;
  let p = from;
  while (p < to) {
    const c = src.charCodeAt(p);
    if (isBlank(c)) {
      p++;
      continue;
    }
    // names: plain, raw (`r#x`), or non-ASCII
    if (isIdAscii(c) && !(c >= 48 && c <= 57) || c > 127) {
      const s = p;
      if (c === 114 && src.charCodeAt(p + 1) === 35 && src.charCodeAt(p + 2) !== 34 && src.charCodeAt(p + 2) !== 35) p += 2; // r#ident
      else if ((c === 114 || c === 98) && (src.charCodeAt(p + 1) === 34 || src.charCodeAt(p + 1) === 35 || (c === 98 && src.charCodeAt(p + 1) === 114))) {
        p = skipRawOrByteString(src, p, to);
        prev = 3; // a literal can be a receiver: `r"x".len()`
        chain = s;
        continue;
      }
      if (c > 127) {
        RE_IDENT.lastIndex = p;
        const m = RE_IDENT.exec(src);
        if (!m) {
          p++;
          prev = 0;
          continue;
        }
        p += m[0].length;
      } else while (p < to && (isIdAscii(src.charCodeAt(p)) || src.charCodeAt(p) > 127)) p++;
      if (prev !== 2 || chain < 0) chain = s;
      // (keywords are ruled out only when a name is called: most names are not)
      const wasFn = prev === 5;
      prev = p - s === 2 && c === 102 && src.charCodeAt(s + 1) === 110 ? 5 : prev === 4 ? 0 : 1; // `fn`
      nameAt = prev === 1 && !wasFn ? s : -1;
      nameEnd = p;
      continue;
    }
    if (c >= 48 && c <= 57) {
      // a number (or tuple index): not a name
      while (p < to && (isIdAscii(src.charCodeAt(p)) || src.charCodeAt(p) === 46 && src.charCodeAt(p + 1) >= 48 && src.charCodeAt(p + 1) <= 57)) p++;
      prev = 1;
      nameAt = -1;
      continue;
    }
    switch (c) {
      case 34: // "
        chain = p;
        p = skipString(src, p, to) + 1;
        prev = 3; // a literal can be a receiver: `"x".len()`
        continue;
      case 39: {
        // a char literal `'x'`, `'\n'`, or a lifetime `'a`
        chain = p;
        prev = 3;
        if (src.charCodeAt(p + 1) === 92) {
          const close = src.indexOf("'", p + 3);
          p = close < 0 || close >= to ? to : close + 1;
        } else if (src.charCodeAt(p + 2) === 39) p += 3;
        else {
          p++;
          while (p < to && isIdAscii(src.charCodeAt(p))) p++;
          prev = 0;
          chain = -1;
        }
        continue;
      }
      case 47: // /
        if (src.charCodeAt(p + 1) === 47) {
          const nl = src.indexOf('\n', p);
          p = nl < 0 || nl > to ? to : nl;
          continue;
        }
        if (src.charCodeAt(p + 1) === 42) {
          const e = src.indexOf('*/', p + 2);
          p = e < 0 || e > to ? to : e + 2;
          continue;
        }
        break;
      case 58: // :
        if (src.charCodeAt(p + 1) === 58) {
          p += 2;
          while (p < to && isBlank(src.charCodeAt(p))) p++;
          if (src.charCodeAt(p) === 60 && prev === 1) {
            // turbofish: the name before it stays the callee's
            const j = skipAngle(src, p, to);
            if (j > 0) {
              p = j;
              continue;
            }
          }
          if (prev !== 1 && prev !== 3) chain = p - 2;
          prev = 2;
          nameAt = -1;
          continue;
        }
        break;
      case 46: // .
        if (src.charCodeAt(p + 1) === 46) break; // a range `..`
        p++;
        prev = 2;
        nameAt = -1;
        continue;
      case 33: // !
        if (nameAt >= 0 && src.charCodeAt(p + 1) !== 61 && !NOT_CALLED.has(src.slice(nameAt, nameEnd))) {
          let q = p + 1;
          while (q < to && isBlank(src.charCodeAt(q))) q++;
          const d = src.charCodeAt(q);
          if (d === 40 || d === 91 || d === 123) {
            emit(src.slice(nameAt, nameEnd) + '!', nameAt, src.slice(chain, nameEnd).replace(/\s+/g, '') + '!', true);
            nameAt = -1;
            prev = 1; // its token tree belongs to the chain: `vec![x].len()`
            p = q;
            continue;
          }
        }
        break;
      case 36: // $
        p++;
        prev = 4;
        nameAt = -1;
        continue;
      case 63: // ?
        p++;
        prev = 3;
        nameAt = -1;
        continue;
      case 40: // (
      case 91: // [
      case 123: {
        // {
        if (c === 40 && nameAt >= 0) {
          const name = src.slice(nameAt, nameEnd);
          if (!NOT_CALLED.has(name)) emit(name, nameAt, src.slice(chain, nameEnd), false);
        }
        const attached = prev === 1 || prev === 3;
        chains.push(attached && chain >= 0 ? chain : p);
        chain = -1;
        prev = 0;
        nameAt = -1;
        p++;
        continue;
      }
      case 41: // )
      case 93: // ]
      case 125: // }
        chain = chains.length ? chains.pop()! : -1;
        prev = 3;
        nameAt = -1;
        p++;
        if (!chains.length) return; // the token tree is closed
        continue;
    }
    // any other punctuation ends a chain
    p++;
    prev = 0;
    chain = -1;
    nameAt = -1;
  }
}

/** `r"…"`, `r#"…"#`, `b"…"`, `br#"…"#` at `p`: the index after it. */
function skipRawOrByteString(src: string, p: number, to: number): number {
  let q = p;
  if (src.charCodeAt(q) === 98) q++; // b
  if (src.charCodeAt(q) === 114) {
    q++; // r
    let hashes = 0;
    while (src.charCodeAt(q) === 35) {
      hashes++;
      q++;
    }
    if (src.charCodeAt(q) !== 34) return q;
    const close = '"' + '#'.repeat(hashes);
    const e = src.indexOf(close, q + 1);
    return e < 0 || e >= to ? to : e + close.length;
  }
  return src.charCodeAt(q) === 34 ? skipString(src, q, to) + 1 : q;
}

// ---------------------------------------------------------------------------------------------------------------

type Kind = 'item' | 'trait' | 'impl';

/** One file: a visitor over the listed nodes, one method per construct. */
class RustFile {
  private readonly src: string;
  private readonly sink: Sink;
  private readonly lines: LineIndex;
  private readonly a: Access;
  private readonly scopes = new ScopeStack<Kind>({ start: -1, end: Infinity, qualified: null, kind: 'item' });
  /** With syntax errors a textual header scan can run into the body (`fn f(a: u8 {`): then the tree says. */
  private readonly broken: boolean;

  constructor(file: SourceFile) {
    this.src = file.src;
    this.sink = file.sink;
    this.lines = file.lines;
    this.a = file.nodes(TYPES);
    this.broken = file.root.hasError;
  }

  run(): void {
    const a = this.a;
    for (let i = 0; i < a.count; i++) {
      const start = a.start(i);
      const frame = this.scopes.at(start);
      switch (a.type(i)) {
        case 'call_expression':
          this.call(i, start, frame.qualified);
          break;
        case 'macro_invocation':
          this.macroInvocation(i, start, frame.qualified);
          break;
        case 'use_declaration':
          expandUse(this.src, start, a.end(i), frame.qualified, this.sink);
          break;
        case 'extern_crate_declaration':
          this.externCrate(start, frame.qualified);
          break;
        case 'macro_definition':
          this.macroRules(i, start, frame.qualified);
          break;
        case 'field_declaration':
          this.field(i, start, frame.qualified);
          break;
        case 'enum_variant':
          this.variant(i, start, frame.qualified);
          break;
        case 'impl_item':
          this.impl(i, start, frame.qualified);
          break;
        default:
          this.item(i, start, frame);
      }
    }
  }

  /** Where the header of a definition ends: its body's `{`, or the `;`. */
  private bodyStart(h: number, start: number, end: number): number {
    let limit = end;
    if (this.broken) {
      const body = this.a.child(h, 'body');
      if (body >= 0 && this.src.charCodeAt(this.a.start(body)) === 123) limit = this.a.start(body);
    }
    return headerEnd(this.src, start, limit);
  }

  /** A field's text, from the tree (when the text scanners give up). */
  private fieldText(h: number, field: string): { text: string; at: number } | null {
    const c = this.a.child(h, field);
    return c >= 0 ? { text: this.src.slice(this.a.start(c), this.a.end(c)), at: this.a.start(c) } : null;
  }

  private def(name: string, kind: SymbolKind, scope: string | null, nameAt: number, start: number, end: number, sig: string, flags: string[] | null): string {
    const { doc, start: rangeStart } = docAt(this.src, start, this.lines);
    return this.sink.def({ name, kind, scope, nameAt, start: rangeStart, end, signature: sig, doc, flags });
  }

  /** fn, struct, union, enum, trait, mod, const, static, type: a keyword, then the name. */
  private item(i: number, start: number, frame: Frame<Kind>): void {
    const { a, src } = this;
    const type = a.type(i);
    let re: RegExp;
    let kind: SymbolKind = 'function';
    let container = true;
    let wholeSig = false;
    let kindOfFrame: Kind = 'item';
    let extra: string | null = null;
    switch (type) {
      case 'function_item':
        re = RE_FN;
        break;
      case 'function_signature_item':
        re = RE_FN;
        container = false;
        wholeSig = true;
        break;
      case 'struct_item':
        re = RE_STRUCT;
        kind = 'struct';
        break;
      case 'union_item':
        re = RE_UNION;
        kind = 'struct';
        extra = 'union';
        break;
      case 'enum_item':
        re = RE_ENUM;
        kind = 'enum';
        break;
      case 'trait_item':
        re = RE_TRAIT;
        kind = 'trait';
        kindOfFrame = 'trait';
        break;
      case 'mod_item':
        re = RE_MOD;
        kind = 'module';
        break;
      case 'const_item':
        re = RE_CONST;
        kind = 'constant';
        wholeSig = true;
        break;
      case 'static_item':
        re = RE_STATIC;
        kind = 'static';
        wholeSig = true;
        break;
      case 'type_item':
      case 'associated_type':
        re = RE_TYPE;
        kind = 'type';
        container = false;
        wholeSig = true;
        break;
      default:
        return;
    }
    const end = a.end(i);
    re.lastIndex = start;
    const m = re.exec(src);
    let name: string;
    let nameAt: number;
    let flags: string[] | null = null;
    if (m) {
      name = m[3];
      nameAt = re.lastIndex - name.length;
      flags = prefixFlags(m[1]);
      if (m[2]) flags.push('mut');
    } else {
      // comments inside the header, or an item recovered from a syntax error: ask the tree
      const f = this.fieldText(i, 'name');
      if (!f) return;
      name = f.text;
      nameAt = f.at;
    }
    if (type === 'const_item' && name === '_') return; // `const _: () = { ... };` is anonymous
    if (extra) (flags ??= []).push(extra);
    if (kind === 'function' && (frame.kind === 'trait' || frame.kind === 'impl')) kind = 'method';
    const sigEnd = wholeSig ? end : this.bodyStart(i, start, end);
    const q = this.def(name, kind, frame.qualified, nameAt, start, end, signature(src, start, sigEnd), flags);
    if (container) this.scopes.push({ start, end, qualified: q, kind: kindOfFrame });
  }

  /** `impl [Trait for] Type`: named by the self type; its items are scoped to it. */
  private impl(i: number, start: number, scope: string | null): void {
    const end = this.a.end(i);
    const hEnd = this.bodyStart(i, start, end);
    const header = this.src.slice(start, hEnd);
    const im = parseImpl(header);
    const name = typeName(im.self);
    if (!name) return;
    const lt = im.self.indexOf('<');
    const k = im.self.lastIndexOf(name, lt >= 0 ? lt : im.self.length);
    const flags: string[] = [];
    if (im.unsafe) flags.push('unsafe');
    if (im.trait) flags.push('trait ' + im.trait);
    const q = this.def(name, 'impl', scope, start + im.selfAt + Math.max(k, 0), start, end, signature(this.src, start, hEnd), flags);
    this.scopes.push({ start, end, qualified: q, kind: 'impl' });
  }

  private macroRules(i: number, start: number, scope: string | null): void {
    RE_MACRO_RULES.lastIndex = start;
    const m = RE_MACRO_RULES.exec(this.src);
    const f = m ? { text: m[1], at: RE_MACRO_RULES.lastIndex - m[1].length } : this.fieldText(i, 'name');
    if (f) this.def(f.text, 'macro', scope, f.at, start, this.a.end(i), `macro_rules! ${f.text}`, null);
  }

  private field(i: number, start: number, scope: string | null): void {
    RE_FIELD.lastIndex = start;
    const m = RE_FIELD.exec(this.src);
    const f = m ? { text: m[2], at: start + (m[1]?.length ?? 0) } : this.fieldText(i, 'name');
    if (!f) return;
    const end = this.a.end(i);
    this.def(f.text, 'field', scope, f.at, start, end, signature(this.src, start, end), m ? prefixFlags(m[1] ?? '') : null);
  }

  private variant(i: number, start: number, scope: string | null): void {
    RE_VARIANT.lastIndex = start;
    const m = RE_VARIANT.exec(this.src);
    const f = m ? { text: m[1], at: start } : this.fieldText(i, 'name');
    if (!f) return;
    const end = this.a.end(i);
    const q = this.def(f.text, 'enum_member', scope, f.at, start, end, signature(this.src, start, headerEnd(this.src, start, end)), null);
    this.scopes.push({ start, end, qualified: q, kind: 'item' });
  }

  /** A call: named by the callee's last name token, placed at it. */
  private call(i: number, start: number, scope: string | null): void {
    const { a, src } = this;
    // The callee is a prefix of the call. If the next node starts at the same index it is inside the callee
    // (a method chain `a.b().c()` or `f(x)(y)`): continue scanning after it instead of from the start.
    let from = start;
    if (i + 1 < a.count && a.start(i + 1) === start) {
      const inner = a.type(i + 1);
      if (inner === 'call_expression' || inner === 'macro_invocation') from = a.end(i + 1);
    }
    let argsAt = -1;
    let nameAt = -1;
    let nameEnd = -1;
    let prevName = false; // the previous token was a name or a tuple index
    let p = from;
    const len = src.length;
    scan: while (p < len) {
      const c = src.charCodeAt(p);
      if (isBlank(c)) {
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
        while (p < len && isBlank(src.charCodeAt(p))) p++;
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
      if (args < 0) return;
      argsAt = a.start(args);
      const window = Math.max(start, argsAt - 200);
      const m = RE_CALLEE_TAIL.exec(stripTurbofish(src.slice(window, argsAt)));
      if (m) {
        nameAt = window + m.index;
        nameEnd = nameAt + m[1].length;
      } else nameAt = -1;
    }
    if (argsAt < 0 || nameAt < 0) return;
    this.sink.ref('call', src.slice(nameAt, nameEnd), nameAt, scope, src.slice(start, Math.min(argsAt, start + 480)));
  }

  /** `name!(...)`: a call named with a bang, and the calls inside its token tree, flagged `macro`. */
  private macroInvocation(i: number, start: number, scope: string | null): void {
    const src = this.src;
    RE_MACRO_CALL.lastIndex = start;
    const m = RE_MACRO_CALL.exec(src);
    if (!m) return;
    this.sink.ref('call', m[2] + '!', start + m[1].length, scope, (m[1] + m[2]).replace(/\s+/g, '') + '!');
    // the token tree right after the bang; the scan stops where its delimiters close (or, in a broken file, where
    // the tree says the invocation ends)
    let open = RE_MACRO_CALL.lastIndex;
    while (isBlank(src.charCodeAt(open))) open++;
    const d = src.charCodeAt(open);
    if (d !== 40 && d !== 91 && d !== 123) return;
    const sink = this.sink;
    macroArgumentCalls(src, open, this.broken ? this.a.end(i) : src.length, (name, at, context) => sink.ref('call', name, at, scope, context, null, MACRO_FLAGS));
  }

  private externCrate(start: number, scope: string | null): void {
    RE_EXTERN_CRATE.lastIndex = start;
    const m = RE_EXTERN_CRATE.exec(this.src);
    if (!m) return;
    const at = start + m[0].lastIndexOf(m[1], m[2] ? m[0].length - m[2].length : m[0].length);
    this.sink.ref('import', m[1], at, scope, m[2] ? `${m[1]} as ${m[2]}` : m[1], m[1]);
  }
}

const MACRO_FLAGS = ['macro'];

/**
 * Expands the use tree in `src[start, end)` into one import ref per leaf, with an explicit stack for `{...}`.
 * `use std::collections::{HashMap, hash_map::Entry as E};` -> HashMap from std::collections, Entry from
 * std::collections::hash_map (context `std::collections::hash_map::Entry as E`); `use foo::*` -> * from foo.
 */
function expandUse(src: string, start: number, end: number, scope: string | null, sink: Sink): void {
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
  let alias = '';
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
      const cut = path.lastIndexOf(SEP);
      const module = cut > 0 ? path.slice(0, cut) : path;
      if (name) sink.ref('import', name, lastAt, scope, alias ? `${path} as ${alias}` : path, module);
    }
    segs = [];
    lastAt = -1;
    afterAs = false;
    alias = '';
  };
  while (p < end) {
    const c = src.charCodeAt(p);
    if (isBlank(c)) {
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
      if (word === 'as' && segs.length && !afterAs) afterAs = true;
      else if (afterAs) alias = word;
      else {
        segs.push(word);
        lastAt = p;
      }
      p += word.length;
    }
  }
  emit();
}

// ---------------------------------------------------------------------------------------------------------------
// What tree-sitter-rust 0.24 does not parse (nightly and internal syntax of the standard library)

/** A Rust gap: judged by the error's line and the two after it (a `macro` item's error may start lines below). */
const gap = (name: string, re: RegExp): GrammarGap => lineGap(name, re, 3);

export const rustGaps: readonly GrammarGap[] = [
  gap('`~const` trait bounds', /~\s*const\b/),
  gap('`impl const` trait impls', /\bimpl\b[^{;]*\bconst\s+(?!fn\b)[A-Za-z_]/),
  gap('`box` expressions', /\bbox\s+[\w(\[{&*]/),
  gap('`macro` items (declarative macros 2.0)', /\bmacro\s+[A-Za-z_]\w*\s*[({]|\$[A-Za-z_]\w*\s*:\s*(?:expr|ident|ty|tt|pat|pat_param|path|block|item|literal|lifetime|meta|stmt|vis)\b/),
  gap('`auto trait` items', /\bauto\s+trait\b/),
  gap('trait aliases', /\btrait\s+[A-Za-z_]\w*\s*(?:<[^>]*>)?\s*=/),
  gap('`${...}` macro metavariable expressions', /\$\{/),
  gap('attributes on expressions', /[(,]\s*#\[/),
];

export const rust: LanguagePlugin = {
  sep: SEP,
  extract: (file) => new RustFile(file).run(),
};
