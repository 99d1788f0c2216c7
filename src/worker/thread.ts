// The Piscina entry point: the only module that runs inside a pool thread. Plain objects in, plain objects out.
import { buildFragment, spoolFragment } from '../index-store/fragment.js';
import { batchId } from '../plan/plan.js';
import { headerOf, type BatchHeader, type JobRequest, type JobResult } from '../protocol/types.js';
import { cacheEntries, type CacheEntryBytes } from '../transport/redis/cache.js';
import { encodeBatch } from '../transport/redis/codec.js';
import { failed, handleJob, jobResult, type MemoryCap } from './handle-job.js';

export interface ThreadTask {
  req: JobRequest;
  /** Cluster mode: content fetched by the worker process (path -> bytes), when it has no matching checkout. */
  inputs?: [string, Uint8Array][];
  /** Shared flag: once set to 1, the job stops between files and rejects with ReleasedError (worker shutdown). */
  stop?: Int32Array;
  /** Benchmarks only: parse without extracting. */
  parseOnly?: boolean;
  /**
   * Where the rows go. 'spool' (local mode): a fragment file in this process's spool, which the store merges.
   * 'wire' (cluster workers): the header and the compressed fragment in one buffer, ready for Redis.
   */
  output?: 'spool' | 'wire';
  /** Cluster workers: also encode the batch's results for the shared result cache. */
  cache?: boolean;
  /** Cluster workers: the job's delivery so far, carried in the result's header. */
  delivery?: { retries: number; stalls: number };
  /** --max-memory: parses that take the process past it are cancelled (handle-job.ts). */
  memory?: MemoryCap;
  /** Cluster workers: what this batch parses, told to the worker process (transport/redis/quarantine.ts). */
  watch?: FileWatch;
}

/**
 * `progress[0]`: 1 + the index of the file being parsed, set before it is read. When `careful`, the thread then waits
 * until the worker process has recorded that file in Redis (it sets `progress[1]` to the same value): a file that kills
 * the process is then known. `quarantined`: files not to parse, with why.
 */
export interface FileWatch {
  progress: Int32Array;
  careful: boolean;
  quarantined: ReadonlyMap<string, string>;
}

/** How long a careful parse waits for its file to be recorded before it goes on regardless (Redis away). */
const RECORD_WAIT_MS = 5000;

function announce(watch: FileWatch): (index: number) => void {
  return (index) => {
    Atomics.store(watch.progress, 0, index + 1);
    if (!watch.careful) return;
    Atomics.notify(watch.progress, 0);
    Atomics.wait(watch.progress, 1, index, RECORD_WAIT_MS); // while the record of the previous file is the last one
  };
}

export interface ThreadResult {
  header: BatchHeader;
  /** output 'spool': the fragment file (none for parse-only). */
  fragment?: string;
  /** output 'wire': what the worker stores as the batch's result. */
  wire?: Uint8Array;
  cacheEntries?: CacheEntryBytes[];
}

// The pool hands each thread a second task before the first ends, so the thread never waits on a coordinator busy
// merging. Tasks still run one after another: a batch's duration stays its own, and only one tree is alive.
let previous: Promise<unknown> = Promise.resolve();

/** One batch: parse and extract (handleJob), then the rows as a fragment, built here rather than by the merge. */
export async function runTask(task: ThreadTask): Promise<ThreadResult> {
  const started = performance.now();
  const { watch } = task;
  const res = await handleJob(task.req, task.inputs ? new Map(task.inputs) : undefined, {
    parseOnly: task.parseOnly,
    stop: task.stop,
    memory: task.memory,
    ...(watch ? { beforeFile: announce(watch), quarantined: watch.quarantined } : {}),
  });
  return resultOf(task, res, started);
}

/**
 * A one-file batch whose thread ran out of its V8 heap (the pool replaced it): the file is an `oom` error, delivered
 * like any result. Built on the calling thread.
 */
export function outOfMemory(task: ThreadTask, message: string): ThreadResult {
  return resultOf(task, jobResult(task.req, [failed(task.req.files[0], { code: 'oom', message })], 0), performance.now());
}

function resultOf(task: ThreadTask, res: JobResult, started: number): ThreadResult {
  const header = headerOf(res, batchId(task.req.files));
  if (task.delivery) header.delivery = task.delivery;
  if (task.parseOnly) return { header };
  const fragment = buildFragment(res.files);
  const out: ThreadResult = { header };
  if (task.output === 'wire') out.wire = encodeBatch({ ...header, durationMs: performance.now() - started }, fragment);
  else out.fragment = spoolFragment(res.batchId, fragment);
  if (task.cache) out.cacheEntries = cacheEntries(res.files, res.extractorVersion);
  header.durationMs = performance.now() - started; // the whole of a worker thread's part, not the parse alone
  return out;
}

export default function run(task: ThreadTask): Promise<ThreadResult> {
  const job = previous.then(() => runTask(task));
  previous = job.catch(() => {});
  return job;
}
