import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { JobRequest, JobResult } from '../protocol/types.js';
import type { ThreadTask } from '../worker/thread.js';
import type { Transport } from './types.js';

// Resolves to dist/worker/thread.js from both src/transport (tests) and dist/transport (the CLI).
export const THREAD_FILE = fileURLToPath(new URL('../../dist/worker/thread.js', import.meta.url));

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

  /** Threads start on first use: a run with nothing to parse (incremental, no change) never pays for them. */
  private get pool(): Piscina<ThreadTask, JobResult> {
    if (this.poolInstance) return this.poolInstance;
    const threads = this.capacity;
    return (this.poolInstance = new Piscina<ThreadTask, JobResult>({
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
  submit(req: JobRequest): Promise<JobResult> {
    return this.pool.run(this.parseOnly ? { req, parseOnly: true } : { req });
  }

  /** Cluster workers: run a batch whose content was fetched by the process (blobs or a verified checkout). */
  runWithInputs(req: JobRequest, inputs: [string, Uint8Array][], stop?: Int32Array): Promise<JobResult> {
    return this.pool.run({ req, inputs, stop });
  }

  get threads(): number {
    return this.poolInstance?.threads.length ?? 0;
  }

  async close(): Promise<void> {
    await this.poolInstance?.close(); // waits for running tasks (close() without force drains)
  }
}
