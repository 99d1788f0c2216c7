import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { sha1 } from '../plan/hash.js';

/** $XDG_CACHE_HOME/mcp-index, or ~/.cache/mcp-index: indexes live outside the repository by default. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'mcp-index');
}

/** One index per repository, keyed by its real path so two checkouts never share one. */
export function defaultIndexPath(realRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const name = basename(realRoot).replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
  return join(cacheRoot(env), `${name}-${sha1(realRoot).slice(0, 12)}`, 'index.db');
}
