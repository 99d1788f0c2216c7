/**
 * Names as agents type them: `Class.method`, `Class::method`, `mod::Type::fn`, `Class/method` (serena's name
 * paths), `Class#method`, with or without generics (`Vec<T>::new`) and call parentheses (`decode()`).
 * The last segment is the symbol's name; the ones before it must match the end of its scope, optionally preceded by
 * the module its file is (`json.decoder.JSONDecoder.decode`, `std::io::Read`, `kv::Config::new`).
 */

export interface NameQuery {
  /** The name as given (trimmed). */
  text: string;
  /** The last segment: what the symbol itself is called. */
  name: string;
  /** Segments before the name, outermost first. */
  qualifier: string[];
  /** A leading separator (`/Class/method`, `::Type::fn`): the qualifier is the whole scope, nothing above it. */
  anchored: boolean;
}

const SEPARATORS = /::|[.#/]/;

/** Splits a stored qualified name or scope (`Store.Entry`, `Config::new`) into segments. */
export const splitScope = (scope: string): string[] => scope.split(SEPARATORS).filter(Boolean);

export function parseName(input: string): NameQuery {
  let t = input.trim().replace(/\s*\(\s*\)\s*$/, ''); // decode() -> decode
  // Vec<T>::new -> Vec::new (innermost brackets first)
  for (let i = 0; i < 8 && /<[^<>]*>/.test(t); i++) t = t.replace(/<[^<>]*>/g, '');
  if (/^#[^.#/:]+$/.test(t)) return { text: input.trim(), name: t, qualifier: [], anchored: false }; // a JS private name
  const anchored = /^(::|\/)/.test(t);
  const segs = t.split(SEPARATORS).map((s) => s.trim()).filter(Boolean);
  if (segs.length === 0) return { text: input.trim(), name: input.trim(), qualifier: [], anchored: false };
  return { text: input.trim(), name: segs[segs.length - 1], qualifier: segs.slice(0, -1), anchored };
}

/** Leading path words that name the current crate or module rather than a folder. */
const RELATIVE_HEADS = new Set(['crate', 'self', 'super']);
/** File stems that stand for their folder's module (`json/__init__.py` is `json`, `io/mod.rs` is `io`). */
const FOLDER_STEMS = new Set(['__init__', 'mod', 'lib', 'main', 'index']);

const norm = (s: string) => s.toLowerCase().replace(/-/g, '_');

/**
 * The module path a file stands for, as folder segments: `python/json/decoder.py` -> python, json, decoder;
 * `library/std/src/io/mod.rs` -> library, std, io (`src` folders are not part of Rust or JS module paths).
 */
export function moduleSegments(path: string): string[] {
  const parts = path.replace(/\.[^./]+$/, '').split('/').filter(Boolean);
  if (parts.length && FOLDER_STEMS.has(parts[parts.length - 1])) parts.pop();
  return parts.filter((p) => p !== 'src').map(norm);
}

const endsWith = (long: readonly string[], tail: readonly string[]) => {
  if (tail.length > long.length) return false;
  const off = long.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (long[off + i] !== tail[i]) return false;
  return true;
};

/**
 * How well a symbol's scope and file match a query's qualifier; lower is better, null is no match.
 * 0: the qualifier is the scope (`Store.get` for Store.get);
 * 1: module then scope (`json.decoder.JSONDecoder.decode`, `kv::Config::new`, `json.loads` for a top-level loads);
 * 2: the end of the scope (`Entry.__init__` for Store.Entry.__init__);
 * 3: module then the end of the scope.
 */
export function qualifierRank(q: NameQuery, scope: string | null, path: string): number | null {
  if (q.qualifier.length === 0) return q.anchored && scope ? null : 0;
  const want = q.qualifier.map(norm);
  while (want.length && RELATIVE_HEADS.has(want[0])) want.shift();
  const have = scope ? splitScope(scope).map(norm) : [];
  if (want.length === 0) return have.length === 0 ? 1 : null; // `crate::f`, `self::f`: a top-level item
  if (want.length === have.length && endsWith(have, want)) return 0;
  const mod = moduleSegments(path);
  // want = M ++ T: M the end of the file's module path, T all (rank 1) or the end (rank 3) of the scope
  const splits: { t: string[] }[] = [];
  for (let split = 1; split <= want.length; split++) if (endsWith(mod, want.slice(0, split))) splits.push({ t: want.slice(split) });
  if (splits.some(({ t }) => t.length === have.length && endsWith(have, t))) return 1;
  if (q.anchored) return null;
  if (endsWith(have, want)) return 2;
  if (splits.some(({ t }) => t.length > 0 && endsWith(have, t))) return 3;
  return null;
}
