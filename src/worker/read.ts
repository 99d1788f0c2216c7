/**
 * Reading a file of the repository as a worker must: distrusting the path and what is at it. A job names a path; the
 * file read is the one the open descriptor refers to, checked to lie inside the root (symlinks anywhere in the path
 * resolved), to be a regular file (a FIFO would block, /dev/zero never ends), and to be within the size limit by
 * fstat before a byte is read.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readlinkSync, readSync, realpathSync, type Stats } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { FileError } from '../protocol/types.js';

/** A job path must stay inside the root, whatever a (possibly foreign) message says. */
function safeJoin(root: string, path: string): string | null {
  if (isAbsolute(path) || path.includes('\0')) return null;
  const n = normalize(path);
  if (n.startsWith('..') || isAbsolute(n)) return null;
  return join(root, n);
}

/** The file's bytes, its size when over the limit (nothing read), or why it was refused. */
export type ReadOutcome = Buffer | { oversize: number } | FileError;

// O_NONBLOCK: opening a FIFO with no writer returns at once (then fstat refuses it) instead of blocking the thread.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
// Linux names what an open descriptor refers to here: one readlink, no race between the check and the read.
const FD_LINKS = existsSync('/proc/self/fd') ? '/proc/self/fd/' : null;

const realRoots = new Map<string, string>();
function realRoot(root: string): string {
  let r = realRoots.get(root);
  if (r === undefined) realRoots.set(root, (r = realpathSync.native(root)));
  return r;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

// One read buffer per thread, reused for every file (a fresh one per file cost 2% of a thread's time). Its bytes
// are valid until the next read: a caller that keeps them copies them.
let scratch = Buffer.allocUnsafe(1 << 20);

export function readUnderRoot(root: string, path: string, limit: number): ReadOutcome {
  const abs = safeJoin(root, path);
  if (!abs) return { code: 'path-escape', message: 'path escapes the repository root' };
  let fd: number;
  try {
    fd = openSync(abs, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { code: 'deleted', message: 'file deleted during the run' };
    return { code: 'unreadable', message: (err as Error).message };
  }
  try {
    const base = realRoot(root);
    const real = FD_LINKS ? readlinkSync(FD_LINKS + fd) : realpathSync.native(abs);
    if (real !== base && !real.startsWith(base + sep)) return { code: 'path-escape', message: 'resolves outside the repository root (symlink)' };
    const st = fstatSync(fd);
    if (!st.isFile()) return { code: 'not-regular', message: `${kindOf(st)}, not a regular file` };
    if (st.size > limit) return { oversize: st.size };
    // Up to one byte past the limit: a file grown since the fstat is still caught, and never read whole.
    const cap = limit + 1;
    if (scratch.length < Math.min(cap, st.size + 1)) scratch = Buffer.allocUnsafe(Math.min(cap, st.size + 1));
    let n = 0;
    while (n < cap) {
      if (n === scratch.length) {
        const bigger = Buffer.allocUnsafe(Math.min(cap, n * 2));
        scratch.copy(bigger, 0, 0, n);
        scratch = bigger;
      }
      const got = readSync(fd, scratch, n, Math.min(scratch.length, cap) - n, null);
      if (got === 0) break;
      n += got;
    }
    return n > limit ? { oversize: fstatSync(fd).size } : scratch.subarray(0, n);
  } catch (err) {
    return { code: 'unreadable', message: (err as Error).message };
  } finally {
    closeSync(fd);
  }
}
