import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiscoveredFile, SkippedFile } from '../discover/discover.js';
import type { FileRef } from '../protocol/types.js';

export const sha1 = (data: string | Uint8Array): string => createHash('sha1').update(data).digest('hex');

/** What the previous index knew about a file; lets an unchanged file skip its read. */
export interface PriorFile {
  size: number;
  mtimeMs: number;
  hash: string;
}

export interface Hashed {
  refs: FileRef[];
  /** Files whose size and mtime matched the prior index, so the hash was reused without reading. */
  reused: number;
  skipped: SkippedFile[];
}

/**
 * Content hashes name batches, blobs and cache entries. size+mtime equal to the prior index is the fast path
 * (git's own heuristic); anything else is read and hashed.
 */
export async function hashFiles(root: string, files: DiscoveredFile[], prior?: ReadonlyMap<string, PriorFile>): Promise<Hashed> {
  const refs: (FileRef | null)[] = new Array(files.length).fill(null);
  const skipped: SkippedFile[] = [];
  let reused = 0;
  let next = 0;
  const one = async () => {
    while (next < files.length) {
      const i = next++;
      const f = files[i];
      const p = prior?.get(f.path);
      if (p && p.hash && p.size === f.size && p.mtimeMs === f.mtimeMs) {
        refs[i] = { path: f.path, hash: p.hash, size: f.size, language: f.language };
        reused++;
        continue;
      }
      try {
        const buf = await readFile(join(root, f.path));
        refs[i] = { path: f.path, hash: sha1(buf), size: buf.length, language: f.language };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        skipped.push({
          path: f.path,
          size: f.size,
          language: f.language,
          error: code === 'ENOENT' ? { code: 'deleted', message: 'file deleted during the run' } : { code: 'unreadable', message: (err as Error).message },
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, files.length) }, one));
  return { refs: refs.filter((r): r is FileRef => r !== null), reused, skipped };
}
