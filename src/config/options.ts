import { existsSync, readFileSync, realpathSync, statSync, accessSync, constants, mkdirSync, openSync, closeSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { z } from 'zod';
import { UsageError } from '../errors.js';
import { defaultIndexPath } from '../index-store/location.js';
import { ConfigSchema, DEFAULTS, parseWith, renamed, type ConfigInput, type IndexOptions } from './option-table.js';

export type { ConfigInput, IndexOptions } from './option-table.js';

export function validate(source: string, input: unknown): z.output<typeof ConfigSchema> {
  return parseWith(source, ConfigSchema, input);
}

/** Reads `--config FILE`, or `mcp-index.config.json` in the repository root when present. */
export function loadConfigFile(root: string | null, explicit: string | undefined): { path: string; data: z.output<typeof ConfigSchema> } | null {
  const path = explicit ? resolve(explicit) : root ? resolve(root, 'mcp-index.config.json') : null;
  if (!path) return null;
  if (!existsSync(path)) {
    if (explicit) throw new UsageError(`config file not found: ${explicit}`);
    return null;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return { path, data: validate(path, raw) };
}

/** Checks the repository path: exists, is a directory, can be listed. Returns its real path. */
export function resolveRoot(input: string): string {
  const abs = resolve(input);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new UsageError(`path does not exist: ${input}`);
  }
  if (!st.isDirectory()) throw new UsageError(`not a directory: ${input} (give the repository folder, not a file)`);
  try {
    accessSync(abs, constants.R_OK | constants.X_OK);
  } catch {
    throw new UsageError(`cannot read directory: ${input} (permission denied)`);
  }
  return realpathSync(abs);
}

/**
 * mkdir -p, one level at a time from the nearest existing ancestor. Node's `mkdirSync(dir, { recursive: true })`
 * never returns when the parent refuses the mkdir with ENOENT (e.g. anything under /proc): it retries forever.
 */
function mkdirs(dir: string): void {
  const missing: string[] = [];
  let d = dir;
  for (; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.push(d);
  if (!statSync(d).isDirectory()) throw new Error(`not a directory: ${d}`);
  for (const m of missing.reverse()) mkdirSync(m);
}

/** Checks that the index can be written where asked, before any work is done. */
export function checkWritableOut(out: string): void {
  if (existsSync(out)) {
    if (statSync(out).isDirectory()) throw new UsageError(`--out is a directory: ${out} (give a file path, e.g. ${out}/index.db)`);
    try {
      accessSync(out, constants.W_OK);
    } catch {
      throw new UsageError(`cannot write index file: ${out} (permission denied)`);
    }
  }
  const dir = dirname(out);
  try {
    mkdirs(dir);
    // Creating a file is the only sure test: root passes access(W_OK) where nothing can be created (/proc), and the
    // build and its journal are new files beside the index.
    const probe = join(dir, `.mcp-index-probe-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    rmSync(probe, { force: true });
  } catch {
    throw new UsageError(`cannot write index to ${dir} (not writable): choose another --out`);
  }
}

/** Merges defaults < config file < environment/flags (yargs already merged the last two), validates once, freezes. */
export function buildOptions(rootArg: string, fromCli: ConfigInput, configPath?: string): IndexOptions {
  const root = resolveRoot(rootArg);
  const file = loadConfigFile(root, configPath);
  const cli = validate('flag', Object.fromEntries(Object.entries(fromCli).filter(([, v]) => v !== undefined)));
  const merged = { ...DEFAULTS, ...(file?.data ?? {}), ...cli };
  const out = merged.out ? (isAbsolute(merged.out) ? merged.out : resolve(merged.out)) : defaultIndexPath(root);
  checkWritableOut(out);
  if (merged.cluster && !merged.redis) throw new UsageError('--cluster needs --redis URL (e.g. --redis redis://127.0.0.1:6379)');
  return Object.freeze({
    ...(renamed(merged) as Omit<IndexOptions, 'root' | 'out' | 'cacheBytes' | 'tls'>),
    root,
    out,
    cacheBytes: merged.cache && merged.cacheMb > 0 ? Math.max(1, Math.round(merged.cacheMb * 1024 * 1024)) : 0,
    tls: { ca: merged.tlsCa, cert: merged.tlsCert, key: merged.tlsKey },
  });
}

/** What a worker process applies whatever a job asks for (`worker`, and `up` for its workers); 0: no memory cap. */
export interface WorkerCaps {
  maxFileBytes: number;
  parseTimeoutMs: number;
  maxMemoryBytes: number;
}

/** What `mcp-index worker` is started with by `up` (its children) and by `--cluster --workers N`. */
export interface WorkerLaunch {
  redis: string;
  name: string;
  threads: number;
  namespace?: string;
  root?: string;
  caps?: WorkerCaps;
  tls?: { ca?: string; cert?: string; key?: string };
  lockMs?: number;
  drainMs?: number;
  logLevel?: string;
  logFormat?: string;
}

/** The `worker` command line (after the CLI's path) for `w`. */
export function workerArgv(w: WorkerLaunch): string[] {
  const a = ['worker', '--redis', w.redis, '--name', w.name, '--threads', String(w.threads)];
  if (w.namespace) a.push('--namespace', w.namespace);
  if (w.root) a.push('--root', w.root);
  if (w.lockMs !== undefined) a.push('--lock-ms', String(w.lockMs));
  if (w.drainMs !== undefined) a.push('--drain-ms', String(w.drainMs));
  if (w.caps) a.push('--max-file-size', String(w.caps.maxFileBytes), '--parse-timeout', String(w.caps.parseTimeoutMs));
  if (w.caps?.maxMemoryBytes) a.push('--max-memory', String(w.caps.maxMemoryBytes));
  if (w.tls?.ca) a.push('--tls-ca', w.tls.ca);
  if (w.tls?.cert) a.push('--tls-cert', w.tls.cert);
  if (w.tls?.key) a.push('--tls-key', w.tls.key);
  if (w.logLevel) a.push('--log-level', w.logLevel);
  if (w.logFormat) a.push('--log-format', w.logFormat);
  return a;
}

/** A worker's own caps from its checked flags (`checkFlags` output; unset: the index command's defaults). */
export function workerCaps(checked: Record<string, unknown>): WorkerCaps {
  const v = checked as { maxFileSize?: number; parseTimeout?: number; maxMemory?: number };
  return { maxFileBytes: v.maxFileSize ?? DEFAULTS.maxFileSize, parseTimeoutMs: v.parseTimeout ?? DEFAULTS.parseTimeout, maxMemoryBytes: v.maxMemory ?? DEFAULTS.maxMemory };
}
