import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, mkdtempSync, openSync, realpathSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

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

/** Overwrites the root page of an index's symbols table: the file opens, meta and files read, symbol queries fail. */
export function damageSymbols(path: string): void {
  const d = new Database(path, { readonly: true });
  const page = d.pragma('page_size', { simple: true }) as number;
  const root = d.prepare<[], { rootpage: number }>("SELECT rootpage FROM sqlite_master WHERE name = 'symbols'").get()!.rootpage;
  d.close();
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(page, 0xde), 0, page, (root - 1) * page);
  closeSync(fd);
}
