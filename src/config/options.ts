import { existsSync, readFileSync, realpathSync, statSync, accessSync, constants, mkdirSync, openSync, closeSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { defaultIndexPath } from '../index-store/location.js';
import { PRIORITIES } from '../protocol/types.js';

/** A known, user-facing error: printed as one line, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
/** "1MiB", "512k", "2000000" -> bytes. */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = SIZE_RE.exec(v.trim());
  if (!m) throw new Error(`not a size: "${v}" (use bytes or a unit like 512KiB, 1MiB)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}

const size = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  try {
    const n = parseSize(v);
    if (n <= 0) throw new Error('must be positive');
    return n;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/**
 * The one schema for config file, environment and flags. Keys are the long flag names in camelCase; the config
 * file may set any of them. Unknown keys are errors, so a typo never silently does nothing.
 */
export const ConfigSchema = z
  .object({
    out: z.string().min(1),
    threads: z.number().int().min(1).max(256),
    include: z.array(z.string().min(1)),
    exclude: z.array(z.string().min(1)),
    defaultExcludes: z.boolean(),
    maxFileSize: size,
    maxMemory: size,
    parseTimeout: z.number().int().min(1).max(600_000),
    batchBytes: size,
    batchFiles: z.number().int().min(1).max(100_000),
    full: z.boolean(),
    contentIndex: z.boolean(),
    maxErrors: z.number().int().min(0),
    maxCrashShare: z.number().min(0).max(1),
    deadline: z.number().positive(),
    progress: z.enum(['auto', 'bars', 'plain', 'json', 'none']),
    progressInterval: z.number().min(0.1).max(3600),
    quiet: z.boolean(),
    json: z.boolean(),
    changedSince: z.string().min(1),
    files: z.array(z.string().min(1)),
    cluster: z.boolean(),
    redis: z.string().min(1),
    namespace: z.string().regex(/^[A-Za-z0-9:_.-]+$/, 'letters, digits and : _ . - only'),
    priority: z.enum(PRIORITIES),
    workers: z.number().int().min(0).max(64),
    window: z.number().int().min(1).max(10_000),
    cache: z.boolean(),
    cacheMb: z.number().min(0).max(1024 * 1024),
    stallWarning: z.number().min(0),
    tlsCa: z.string().min(1),
    tlsCert: z.string().min(1),
    tlsKey: z.string().min(1),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  })
  .partial()
  .strict();

export type ConfigInput = z.input<typeof ConfigSchema>;

export const DEFAULTS = {
  threads: availableParallelism(),
  include: [] as string[],
  exclude: [] as string[],
  defaultExcludes: true,
  maxFileSize: 1024 * 1024,
  parseTimeout: 10_000,
  batchBytes: 512 * 1024,
  batchFiles: 256,
  full: false,
  contentIndex: false,
  maxErrors: Number.MAX_SAFE_INTEGER,
  maxCrashShare: 0.2,
  progress: 'auto' as const,
  progressInterval: 5,
  quiet: false,
  json: false,
  cluster: false,
  namespace: 'mcp-index',
  priority: 'normal' as const,
  workers: 0,
  window: 32,
  cache: true,
  cacheMb: 256,
  stallWarning: 30,
  logLevel: 'warn' as const,
};

export interface IndexOptions {
  readonly root: string;
  readonly out: string;
  readonly threads: number;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly defaultExcludes: boolean;
  readonly maxFileBytes: number;
  /** --max-memory: the pool's memory cap in bytes (0: none); see transport/local.ts. */
  readonly maxMemoryBytes: number;
  readonly parseTimeoutMs: number;
  readonly maxDepth: number;
  readonly batchBytes: number;
  readonly batchFiles: number;
  readonly full: boolean;
  readonly contentIndex: boolean;
  readonly maxErrors: number;
  /** A run in which more than this share of the files to parse end as worker-crash fails instead of committing. */
  readonly maxCrashShare: number;
  /** The run fails if it has not finished after this many seconds (0: no deadline). */
  readonly deadlineS: number;
  readonly progress: 'auto' | 'bars' | 'plain' | 'json' | 'none';
  readonly progressInterval: number;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly changedSince: string | null;
  readonly files: readonly string[] | null;
  readonly cluster: boolean;
  readonly redis: string | null;
  readonly namespace: string;
  readonly priority: (typeof PRIORITIES)[number];
  readonly workers: number;
  readonly window: number;
  /** Budget of the cluster's shared result cache in bytes; 0 when off (--no-cache or --cache-mb 0). */
  readonly cacheBytes: number;
  /** Cluster: warn when for this long no worker was alive or took a batch (seconds; 0: never). */
  readonly stallWarningS: number;
  readonly tls: { ca?: string; cert?: string; key?: string };
  readonly logLevel: string;
}

function formatIssue(source: string, issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `${source}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  const key = issue.path.join('.') || '(root)';
  return `${source}: "${key}" ${issue.message}`;
}

export function validate(source: string, input: unknown): z.output<typeof ConfigSchema> {
  const r = ConfigSchema.safeParse(input);
  if (!r.success) throw new UsageError(formatIssue(source, r.error.issues[0]));
  return r.data;
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
    root,
    out,
    threads: merged.threads,
    include: merged.include,
    exclude: merged.exclude,
    defaultExcludes: merged.defaultExcludes,
    maxFileBytes: merged.maxFileSize,
    maxMemoryBytes: merged.maxMemory ?? 0,
    parseTimeoutMs: merged.parseTimeout,
    maxDepth: 4000,
    batchBytes: merged.batchBytes,
    batchFiles: merged.batchFiles,
    full: merged.full,
    contentIndex: merged.contentIndex,
    maxErrors: merged.maxErrors,
    maxCrashShare: merged.maxCrashShare,
    deadlineS: merged.deadline ?? 0,
    progress: merged.progress,
    progressInterval: merged.progressInterval,
    quiet: merged.quiet,
    json: merged.json,
    changedSince: merged.changedSince ?? null,
    files: merged.files ?? null,
    cluster: merged.cluster,
    redis: merged.redis ?? null,
    namespace: merged.namespace,
    priority: merged.priority,
    workers: merged.workers,
    window: merged.window,
    cacheBytes: merged.cache && merged.cacheMb > 0 ? Math.max(1, Math.round(merged.cacheMb * 1024 * 1024)) : 0,
    stallWarningS: merged.stallWarning,
    tls: { ca: merged.tlsCa, cert: merged.tlsCert, key: merged.tlsKey },
    logLevel: merged.logLevel,
  });
}
