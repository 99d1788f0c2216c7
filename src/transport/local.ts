import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';
import type { JobRequest, JobResult } from '../protocol/types.js';
import type { ThreadTask } from '../worker/thread.js';
import type { Transport } from './types.js';

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
}

export class LocalTransport implements Transport {
  readonly name = 'local' as const;
  readonly capacity: number;
  readonly prefetch: number;
  private poolInstance: Piscina<ThreadTask, JobResult> | null = null;
  private readonly parseOnly: boolean;

  constructor(opts: LocalOptions = {}) {
    const threads = Math.max(1, opts.threads ?? availableParallelism());
    this.capacity = threads;
    this.prefetch = threads;
    this.parseOnly = opts.parseOnly ?? false;
  }

  private poolStarting: Promise<Piscina<ThreadTask, JobResult>> | null = null;
  private inline = false;

  expect(requests: readonly JobRequest[]): void {
    if (this.poolStarting || this.parseOnly) return; // threads already up: use them
    this.inline = requests.reduce((n, r) => n + r.files.reduce((m, f) => m + f.size, 0), 0) <= INLINE_MAX_BYTES;
  }

  /** Threads, and Piscina itself, start on first use: a run with nothing to parse never pays for them. */
  private pool(): Promise<Piscina<ThreadTask, JobResult>> {
    return (this.poolStarting ??= import('piscina').then(({ Piscina }) => this.startPool(Piscina)));
  }

  private startPool(PiscinaClass: typeof Piscina): Piscina<ThreadTask, JobResult> {
    const threads = this.capacity;
    return (this.poolInstance = new PiscinaClass<ThreadTask, JobResult>({
      filename: THREAD_FILE,
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
  async submit(req: JobRequest): Promise<JobResult> {
    // The same worker function, on this thread. A parse here is short (see INLINE_MAX_BYTES) and never interrupted.
    if (this.inline) return (await import('../worker/handle-job.js')).handleJob(req);
    return (await this.pool()).run(this.parseOnly ? { req, parseOnly: true } : { req });
  }

  /** Cluster workers: run a batch whose content was fetched by the process (blobs or a verified checkout). */
  async runWithInputs(req: JobRequest, inputs: [string, Uint8Array][], stop?: Int32Array): Promise<JobResult> {
    return (await this.pool()).run({ req, inputs, stop });
  }

  get threads(): number {
    return this.poolInstance?.threads.length ?? 0;
  }

  async close(): Promise<void> {
    if (this.poolStarting) await this.poolStarting.catch(() => {});
    await this.poolInstance?.close(); // waits for running tasks (close() without force drains)
  }
}
