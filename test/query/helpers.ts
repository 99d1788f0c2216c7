import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const BIN = resolve('bin/mcp-index.js');
export const FIXTURE = resolve('fixtures/query-repo');

/** A private copy of the fixture repository (tests edit it) in a fresh temp folder. */
export function copyFixture(prefix: string): { tmp: string; repo: string } {
  const tmp = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  const repo = join(tmp, 'repo');
  cpSync(FIXTURE, repo, { recursive: true });
  return { tmp, repo };
}

/** Runs the real CLI (built in dist/) and fails loudly when it does. */
export function indexRepo(repo: string, out: string, env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(process.execPath, [BIN, repo, '--out', out, '-q'], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`indexing ${repo} failed (${r.status}): ${r.stderr}`);
}
