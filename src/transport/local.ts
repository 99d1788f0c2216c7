import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { spoolDir } from '../index-store/fragment.js';
import type { JobRequest } from '../protocol/types.js';
import type { MemoryCap } from '../worker/handle-job.js';
import type { ThreadResult, ThreadTask } from '../worker/thread.js';
import { diskFull } from '../errors.js';
import { type BatchResult, type Transport } from './types.js';

// Resolves to dist/worker/thread.js from both src/transport (tests) and dist/transport (the CLI).
export const THREAD_FILE = fileURLToPath(new URL('../../dist/worker/thread.js', import.meta.url));

/**
 * A run with this little to parse (a re-run after a small change) parses on the calling thread: starting a pool
 * thread, which loads tree-sitter and the grammars anew, costs more than parsing this much.
 */
const INLINE_MAX_BYTES = 256 * 1024;

export interface LocalOptions {
  threads?: number;
  /** Benchmarks only: parse without extracting (the parser's ceiling). */
  parseOnly?: boolean;
  /** The pool threads' module (default THREAD_FILE). Tests put one here that crashes (fixtures/failure/). */
  threadFile?: string;
  /** --max-memory in bytes: each thread's V8 heap gets its share, and a parse that takes the process past it stops. */
  maxMemory?: number;
  /** Each thread's V8 heap in MiB (default: half a thread's share of maxMemory; none without it). */
  threadHeapMb?: number;
}

/** The smallest V8 heap a pool thread is given, whatever the cap: below it the grammars alone do not fit. */
const MIN_THREAD_HEAP_MB = 64;

export class LocalTransport implements Transport {
  readonly name = 'local' as const;
  readonly capacity: number;
  readonly prefetch: number;
  private poolInstance: Piscina<ThreadTask, ThreadResult> | null = null;
  private readonly parseOnly: boolean;
  private readonly threadFile: string;
  private readonly memory: MemoryCap | undefined;
  private readonly heapMb: number | undefined;

  /** The pool of an index run: its threads and its memory cap (IndexOptions' fields). */
  static forRun(o: { threads: number; maxMemoryBytes: number }): LocalTransport {
    return new LocalTransport({ threads: o.threads, maxMemory: o.maxMemoryBytes });
  }

  constructor(opts: LocalOptions = {}) {
    const threads = Math.max(1, opts.threads ?? availableParallelism());
    this.capacity = threads;
    this.prefetch = threads;
    this.parseOnly = opts.parseOnly ?? false;
    this.threadFile = opts.threadFile ?? THREAD_FILE;
    // A parse is blamed for the cap only when it grew the process by a quarter of a thread's share itself.
    this.memory = opts.maxMemory ? { capBytes: opts.maxMemory, growthBytes: Math.floor(opts.maxMemory / threads / 4) } : undefined;
    // Half of a thread's share for its JS heap: the other half is for native memory (trees), which V8 cannot see.
    this.heapMb = opts.threadHeapMb ?? (opts.maxMemory ? Math.max(MIN_THREAD_HEAP_MB, Math.floor(opts.maxMemory / threads / 2 / 2 ** 20)) : undefined);
  }

  private poolStarting: Promise<Piscina<ThreadTask, ThreadResult>> | null = null;
  private inline = false;

  expect(requests: readonly JobRequest[]): void {
    if (this.poolStarting || this.parseOnly) return; // threads already up: use them
    this.inline = requests.reduce((n, r) => n + r.files.reduce((m, f) => m + f.size, 0), 0) <= INLINE_MAX_BYTES;
  }

  /** Threads, and Piscina itself, start on first use: a run with nothing to parse never pays for them. */
  private pool(): Promise<Piscina<ThreadTask, ThreadResult>> {
    return (this.poolStarting ??= import('piscina').then(({ Piscina }) => this.startPool(Piscina)));
  }

  private startPool(PiscinaClass: typeof Piscina): Piscina<ThreadTask, ThreadResult> {
    const threads = this.capacity;
    spoolDir(); // the threads write fragments there; this (main) thread removes it at exit
    return (this.poolInstance = new PiscinaClass<ThreadTask, ThreadResult>({
      filename: this.threadFile,
      minThreads: threads,
      maxThreads: threads,
      // Two tasks per thread, run one after the other (see worker/thread.ts): the second is already in the thread
      // when the first ends. A stop request lets those few prefetched batches run too: nothing is cancelled.
      concurrentTasksPerWorker: 2,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      ...(this.heapMb ? { resourceLimits: { maxOldGenerationSizeMb: this.heapMb } } : {}),
    })).on('error', (err: Error) => {
      // A thread that dies outside a task (e.g. failing to load) is replaced by Piscina; the tasks it held
      // reject and the pipeline splits them. Without a listener the whole process would exit.
      process.stderr.write(`mcp-index: pool thread error: ${err.message}\n`);
    });
  }

  /** Run a batch on a pool thread. Never passes an AbortSignal: aborting a running task terminates its thread,
   * and terminating a thread inside tree-sitter's parse() aborts the whole process. */
  async submit(req: JobRequest): Promise<BatchResult> {
    const task: ThreadTask = this.parseOnly ? { req, parseOnly: true } : { req, memory: this.memory };
    const r = await this.run(task);
    return { ...r.header, fragments: r.fragment ? [r.fragment] : [] };
  }

  /**
   * A task on a pool thread. A thread that runs out of its V8 heap is ended by V8, not terminated by us, and replaced
   * by Piscina; the task rejects and the process lives on (test/transport/local.test.ts, an OOM during extraction).
   * A batch of one file is then that file's `oom` error; a larger batch fails, and the pipeline splits it until the
   * file stands alone.
   */
  private async run(task: ThreadTask, retried = false): Promise<ThreadResult> {
    try {
      // Inline: the same task, on this thread. A parse here is short (see INLINE_MAX_BYTES) and never interrupted.
      return await (this.inline ? (await import('../worker/thread.js')).runTask(task) : (await this.pool()).run(task));
    } catch (err) {
      // The spool (its fragment) could not be written: no split cures a full disk.
      if ((err as NodeJS.ErrnoException)?.code !== 'ERR_WORKER_OUT_OF_MEMORY') throw diskFull(err, spoolDir(), 'free space there (batch results wait there before the merge)') ?? err;
      // The thread's other task fails with it, unstarted: every task gets a second try on a fresh thread.
      if (!retried) return this.run(task, true);
      if (task.req.files.length !== 1) throw err;
      return (await import('../worker/thread.js')).outOfMemory(task, `its thread ran out of its ${this.heapMb} MiB JS heap, twice`);
    }
  }

  /**
   * Cluster workers: run a batch whose content the process fetched (blobs or a verified checkout); the result comes
   * back ready for Redis, with the entries for the shared result cache when asked.
   */
  async runForWire(req: JobRequest, inputs: [string, Uint8Array][], o: Pick<ThreadTask, 'stop' | 'cache' | 'delivery' | 'watch'> = {}): Promise<ThreadResult> {
    return this.run({ req, inputs, ...o, output: 'wire', memory: this.memory });
  }

  get threads(): number {
    return this.poolInstance?.threads.length ?? 0;
  }

  async close(): Promise<void> {
    if (this.poolStarting) await this.poolStarting.catch(() => {});
    await this.poolInstance?.close(); // waits for running tasks (close() without force drains)
  }
}
