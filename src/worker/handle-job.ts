import { isUtf8 } from 'node:buffer';
import { hostname } from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { threadId } from 'node:worker_threads';
import { extract, parserFor, syntaxError } from '../extract/registry.js';
import { TooDeepError } from '../extract/toolkit/index.js';
import { EXTRACTOR_VERSION } from '../extract/version.js';
import { sha1 } from '../plan/hash.js';
import type { FileError, FileRef, FileResult, JobRequest, JobResult } from '../protocol/types.js';
import { oversizeError, PROTOCOL_VERSION } from '../protocol/types.js';
import { readUnderRoot, type ReadOutcome } from './read.js';

/** Content supplied by the transport (cluster blobs); anything missing is read from `req.root`. */
export type Inputs = ReadonlyMap<string, Uint8Array>;

// Parse trees hold native memory the JS heap cannot see, freed only when their wrappers are collected. A scavenge
// (minor GC) every few files collects them while they are still young, which bounds a thread's memory. Not a full
// GC: that also throws away optimized code that embeds objects it collects, and re-optimizing it cost more CPU than
// the parsing (measured on rust-src: full GCs every 64 files or 1 MiB took 25 s of CPU where scavenges take 16 s).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
const GC_EVERY_FILES = 16;
const GC_EVERY_BYTES = 256 * 1024;
let filesSinceGc = 0;
let bytesSinceGc = 0;

const BINARY_SNIFF = 8000; // git's heuristic: a NUL byte in the first 8000 bytes means binary

export function failed(f: FileRef, error: FileError, hash = f.hash, size = f.size): FileResult {
  return { path: f.path, hash, size, language: f.language, status: 'error', error, symbols: [], refs: [], parseMs: 0 };
}

function readInput(req: JobRequest, f: FileRef, inputs?: Inputs): Uint8Array | ReadOutcome {
  const given = inputs?.get(f.path);
  if (given) return given;
  if (!req.root) return { code: 'unreadable', message: 'no content and no root to read it from' };
  // Synchronous on purpose: this is a pool thread with nothing else to do, and an async read's round trip through
  // libuv's thread pool left the thread idle for about a fifth of its time.
  return readUnderRoot(req.root, f.path, req.limits.maxFileBytes);
}

export interface HandleOptions {
  /** Parse and discard: the parser's ceiling, for `bench`. No extraction. */
  parseOnly?: boolean;
  /** Checked between files: 1 means give the batch back (shutdown deadline passed). */
  stop?: Int32Array;
  /** --max-memory: a parse is cancelled (the file is an `oom` error) once it grows the process past this cap. */
  memory?: MemoryCap;
  /** Called before each file is read (its index in the batch): the cluster worker records what it parses. */
  beforeFile?: (index: number) => void;
  /** Files not to parse, with why: they killed the worker processes that parsed them (transport/redis/quarantine.ts). */
  quarantined?: ReadonlyMap<string, string>;
}

export interface MemoryCap {
  /** The process's resident set may not pass this... */
  capBytes: number;
  /** ...through a parse that grew it by more than this (one thread's part): a process over its cap because of
   * memory not yet given back does not make every small file fail. */
  growthBytes: number;
}

/** Asked every 100 parser operations; the resident set is read every 64th time (about every 6,400 operations). */
function memoryWatch(cap: MemoryCap): { progressCallback: () => boolean; tripped: () => boolean } {
  const start = process.memoryUsage.rss();
  let calls = 0;
  let over = false;
  return {
    progressCallback: () => {
      if (++calls % 64 !== 0) return false;
      const rss = process.memoryUsage.rss();
      return (over = rss > cap.capBytes && rss - start > cap.growthBytes);
    },
    tripped: () => over,
  };
}

/** The batch was given back unfinished, between two files; the transport re-queues it elsewhere. */
export class ReleasedError extends Error {
  constructor() {
    super('released: worker shutting down');
    this.name = 'ReleasedError';
  }
}

export function indexSource(f: FileRef, src: string, limits: JobRequest['limits'], hash: string, size: number, opts: HandleOptions = {}): FileResult {
  const started = performance.now();
  const parser = parserFor(f.language);
  parser.setTimeoutMicros(limits.parseTimeoutMs * 1000);
  // A parse's memory is native (the tree), out of V8's sight: only the process's resident set shows it.
  const watch = opts.memory ? memoryWatch(opts.memory) : null;
  // bufferSize sized to the file saves the binding's re-allocations on large inputs.
  const tree = parser.parse(src, undefined, { bufferSize: src.length + 1, progressCallback: watch?.progressCallback });
  if (!tree) {
    parser.reset(); // a halted parse would otherwise resume on the next file; this also frees its partial tree
    if (watch?.tripped()) return failed(f, { code: 'oom', message: `parsing it took this process past its memory cap of ${Math.round(opts.memory!.capBytes / 2 ** 20)} MiB` }, hash, size);
    return failed(f, { code: 'parse-timeout', message: `parse exceeded ${limits.parseTimeoutMs} ms` }, hash, size);
  }
  const root = tree.rootNode;
  const base = { path: f.path, hash, size, language: f.language };
  if (opts.parseOnly) return { ...base, status: 'ok', error: null, symbols: [], refs: [], parseMs: performance.now() - started };
  try {
    const { symbols, refs } = extract(f.language, root, src);
    // A file whose only errors are a known grammar gap is `ok`, with the gap noted.
    const error = syntaxError(f.language, root, src);
    const status = error === null || error.code === 'grammar-gap' ? 'ok' : 'partial';
    return { ...base, status, error, symbols, refs, parseMs: performance.now() - started };
  } catch (err) {
    // Only the extractors' depth guard means a deep file; anything else (a RangeError included) is a bug.
    const error: FileError =
      err instanceof TooDeepError ? { code: 'too-deep', message: err.message } : { code: 'internal', message: String((err as Error)?.stack ?? err).slice(0, 500) };
    return failed(f, error, hash, size);
  }
}

/**
 * The single worker function: every transport runs exactly this. A bad file becomes a per-file error in the
 * result; only a broken request makes it throw.
 */
export async function handleJob(req: JobRequest, inputs?: Inputs, opts: HandleOptions = {}): Promise<JobResult> {
  if (req.v !== PROTOCOL_VERSION || !Array.isArray(req.files)) throw new Error(`unsupported job message (v=${String(req.v)})`);
  const started = performance.now();
  const files: FileResult[] = [];
  for (const [i, f] of req.files.entries()) {
    if (opts.stop && Atomics.load(opts.stop, 0) === 1) throw new ReleasedError();
    const killer = opts.quarantined?.get(f.path);
    if (killer !== undefined) {
      files.push(failed(f, { code: 'worker-crash', message: killer }));
      continue;
    }
    opts.beforeFile?.(i);
    const data = readInput(req, f, inputs);
    if (!(data instanceof Uint8Array)) {
      // Grown past the limit since discovery: recorded like an oversize file discovery skips (never read, no hash).
      if ('oversize' in data) files.push(failed(f, oversizeError(data.oversize, req.limits.maxFileBytes), '', data.oversize));
      else files.push(failed(f, data));
      continue;
    }
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const hash = sha1(buf);
    if (buf.length > req.limits.maxFileBytes) {
      files.push(failed(f, oversizeError(buf.length, req.limits.maxFileBytes), hash, buf.length));
    } else if (buf.subarray(0, BINARY_SNIFF).includes(0)) {
      files.push(failed(f, { code: 'binary', message: 'NUL byte in the first 8000 bytes' }, hash, buf.length));
    } else if (!isUtf8(buf)) {
      files.push(failed(f, { code: 'non-utf8', message: 'content is not valid UTF-8' }, hash, buf.length));
    } else {
      let src = buf.toString('utf8');
      if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);
      files.push(indexSource(f, src, req.limits, hash, buf.length, opts));
    }
    // Trees are freed only when the loop turns; without this yield memory grows by the size of every tree.
    bytesSinceGc += f.size;
    if (++filesSinceGc >= GC_EVERY_FILES || bytesSinceGc >= GC_EVERY_BYTES) {
      filesSinceGc = 0;
      bytesSinceGc = 0;
      gc({ type: 'minor' });
    }
    await yieldToLoop();
  }
  return jobResult(req, files, performance.now() - started);
}

/** A batch's result as this thread delivers it. */
export function jobResult(req: JobRequest, files: FileResult[], durationMs: number): JobResult {
  return { v: PROTOCOL_VERSION, runId: req.runId, batchId: req.batchId, files, extractorVersion: EXTRACTOR_VERSION, worker: { host: hostname(), pid: process.pid, threadId }, durationMs };
}
