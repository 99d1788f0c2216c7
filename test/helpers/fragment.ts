/**
 * Reading batch fragments (SQLite files or bytes, see src/index-store/fragment.ts) back as plain rows, so that tests
 * compare what a transport delivered with what `handleJob` returns for the same batch.
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { buildFragment } from '../../src/index-store/fragment.js';
import type { FileResult } from '../../src/protocol/types.js';

export interface FragmentRows {
  files: Record<string, unknown>[];
  symbols: Record<string, unknown>[];
  refs: Record<string, unknown>[];
}

/** Every row of a fragment, in id order (a path to a fragment file, or its bytes). */
export function fragmentRows(source: string | Buffer): FragmentRows {
  const db = new Database(typeof source === 'string' ? readFileSync(source) : source, { readonly: true });
  try {
    const all = (t: string) => db.prepare(`SELECT * FROM ${t} ORDER BY id`).all() as Record<string, unknown>[];
    return { files: all('files'), symbols: all('symbols'), refs: all('refs') };
  } finally {
    db.close();
  }
}

/** The rows of several fragments (a batch with cache hits has two), each file with its own symbols and refs. */
export function batchRows(fragments: readonly (string | Buffer)[]): { path: string; file: Record<string, unknown>; symbols: Record<string, unknown>[]; refs: Record<string, unknown>[] }[] {
  const out = [];
  for (const f of fragments) {
    const r = fragmentRows(f);
    for (const file of r.files) {
      const strip = (x: Record<string, unknown>) => {
        const { id: _id, file_id: _f, ...rest } = x;
        return rest;
      };
      const { id, ...rest } = file;
      out.push({
        path: String(file.path),
        file: rest,
        symbols: r.symbols.filter((s) => s.file_id === id).map(strip),
        refs: r.refs.filter((s) => s.file_id === id).map(strip),
      });
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** What the fragments of these file results hold, in the same form as `batchRows`. */
export function expectedRows(files: readonly FileResult[]): ReturnType<typeof batchRows> {
  return batchRows([buildFragment(files)]);
}
