import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';

const exec = promisify(execFile);

/**
 * Paths under `root` that differ from `ref` in the work tree (git's own diff, renames as delete + add), plus
 * untracked files git does not ignore. Deleted paths are included so the run can drop them from the index.
 */
export async function changedSince(root: string, ref: string): Promise<Set<string>> {
  const git = async (args: string[]) => {
    try {
      return (await exec('git', args, { cwd: root, maxBuffer: 1 << 30 })).stdout;
    } catch (err) {
      const msg = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0];
      throw new UsageError(`--changed-since ${ref}: ${msg || 'git failed'}`);
    }
  };
  await git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => {
    throw new UsageError(`--changed-since: "${ref}" is not a commit in ${root}`);
  });
  const diff = await git(['diff', '--name-only', '--no-renames', '--relative', '-z', ref, '--']);
  const untracked = await git(['ls-files', '-o', '--exclude-standard', '-z']);
  return new Set([...diff.split('\0'), ...untracked.split('\0')].filter(Boolean));
}

/**
 * `--files a.py b.rs` or `--files -` (newline-separated on stdin). Paths are relative to the current directory
 * or absolute, and must lie inside the repository.
 */
export function fileList(root: string, items: readonly string[], stdin: () => string = () => readFileSync(0, 'utf8')): Set<string> {
  const raw = items.length === 1 && items[0] === '-' ? stdin().split(/\r?\n/) : items;
  const out = new Set<string>();
  for (const item of raw) {
    const p = item.trim();
    if (!p) continue;
    const rel = relative(root, isAbsolute(p) ? p : resolve(p)).split('\\').join('/');
    if (rel.startsWith('..') || isAbsolute(rel)) throw new UsageError(`--files: ${p} is outside the repository ${root}`);
    out.add(rel);
  }
  return out;
}
