/**
 * Temp folders and the environment of every CLI child process, shared by the CLI, cluster and ops tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
const forgetters: (() => void)[] = [];

/** A fresh real-path temp folder, removed by `cleanupTemp()`. */
export function tempDir(tag: string): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `mcp-index-${tag}-`)));
  made.push(dir);
  return dir;
}

/** Runs after `cleanupTemp()`: for state that pointed into the removed folders. */
export function onCleanup(forget: () => void): void {
  forgetters.push(forget);
}

export function cleanupTemp(): void {
  while (made.length) {
    const dir = made.pop()!;
    // Tests chmod things to 000; make everything removable again first.
    spawnSync('chmod', ['-R', 'u+rwX', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
  for (const forget of forgetters) forget();
}

let cacheDir: string | null = null;
onCleanup(() => (cacheDir = null));

/**
 * The environment every CLI run gets: the caller's, minus MCP_INDEX_* (yargs reads them as flags), with
 * XDG_CACHE_HOME in a temp folder so nothing touches ~/.cache, and git kept from finding a repository above the
 * temp folders (that would switch discovery to git mode) or reading the user's config.
 */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  cacheDir ??= tempDir('cache');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MCP_INDEX_')) env[k] = v;
  Object.assign(env, {
    XDG_CACHE_HOME: cacheDir,
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CEILING_DIRECTORIES: realpathSync(tmpdir()),
    CI: '1',
  });
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}
