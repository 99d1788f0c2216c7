import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import { spoolDir } from '../index-store/fragment.js';
import type { JobRequest } from '../protocol/types.js';
import type { ThreadResult, ThreadTask } from '../worker/thread.js';
import type { BatchResult, Transport } from './types.js';

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
}

export class LocalTransport implements Transport {
  readonly name = 'local' as const;
  readonly capacity: number;
  readonly prefetch: number;
  private poolInstance: Piscina<ThreadTask, ThreadResult> | null = null;
  private readonly parseOnly: boolean;
  private readonly threadFile: string;

  constructor(opts: LocalOptions = {}) {
    const threads = Math.max(1, opts.threads ?? availableParallelism());
    this.capacity = threads;
    this.prefetch = threads;
    this.parseOnly = opts.parseOnly ?? false;
    this.threadFile = opts.threadFile ?? THREAD_FILE;
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
    })).on('error', (err: Error) => {
      // A thread that dies outside a task (e.g. failing to load) is replaced by Piscina; the tasks it held
      // reject and the pipeline splits them. Without a listener the whole process would exit.
      process.stderr.write(`mcp-index: pool thread error: ${err.message}\n`);
    });
  }

  /** Run a batch on a pool thread. Never passes an AbortSignal: aborting a running task terminates its thread,
   * and terminating a thread inside tree-sitter's parse() aborts the whole process. */
  async submit(req: JobRequest): Promise<BatchResult> {
    const task: ThreadTask = this.parseOnly ? { req, parseOnly: true } : { req };
    // The same task, on this thread. A parse here is short (see INLINE_MAX_BYTES) and never interrupted.
    const r = this.inline ? await (await import('../worker/thread.js')).runTask(task) : await (await this.pool()).run(task);
    return { ...r.header, fragments: r.fragment ? [r.fragment] : [] };
  }

  /**
   * Cluster workers: run a batch whose content the process fetched (blobs or a verified checkout); the result comes
   * back ready for Redis, with the entries for the shared result cache when asked.
   */
  async runForWire(req: JobRequest, inputs: [string, Uint8Array][], o: Pick<ThreadTask, 'stop' | 'cache' | 'delivery'> = {}): Promise<ThreadResult> {
    return (await this.pool()).run({ req, inputs, ...o, output: 'wire' });
  }

  get threads(): number {
    return this.poolInstance?.threads.length ?? 0;
  }

  async close(): Promise<void> {
    if (this.poolStarting) await this.poolStarting.catch(() => {});
    await this.poolInstance?.close(); // waits for running tasks (close() without force drains)
  }
}
