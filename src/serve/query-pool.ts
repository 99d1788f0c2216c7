import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { QueryReply, QueryTask } from './query-thread.js';

// Resolves to dist/serve/query-thread.js from both src/serve (tests) and dist/serve (the CLI).
const THREAD_FILE = fileURLToPath(new URL('../../dist/serve/query-thread.js', import.meta.url));

/** A query that runs longer than this (a regex that backtracks without end) has its thread stopped and replaced. */
const TASK_TIMEOUT_MS = 30_000;

/**
 * Queries run on a few threads of their own, each with its own read-only connections: a slow one (a content regex
 * over every line) delays no other call, and the main thread stays free for the protocol and the index updates.
 * Query threads never parse, so stopping one mid-task is safe (unlike the indexer's pool).
 */
export class QueryPool {
  private readonly pool: Piscina<QueryTask, QueryReply>;

  constructor(threads = 2) {
    this.pool = new Piscina<QueryTask, QueryReply>({
      filename: THREAD_FILE,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.MAX_SAFE_INTEGER,
    });
    this.pool.on('error', (err: Error) => process.stderr.write(`mcp-index serve: query thread error: ${err.message}\n`));
  }

  async run(task: QueryTask): Promise<QueryReply> {
    const signal = AbortSignal.timeout(TASK_TIMEOUT_MS);
    try {
      return await this.pool.run(task, { signal });
    } catch (err) {
      if (signal.aborted) return { text: `the query took longer than ${TASK_TIMEOUT_MS / 1000} s and was stopped: narrow it (path, a more specific text)`, error: 'query', indexedAt: null };
      throw err;
    }
  }

  /** Loads the caches of an index on every thread (best effort: the pool picks the threads). */
  warm(indexPath: string, root: string | null): void {
    for (let i = 0; i < this.pool.threads.length; i++) {
      this.pool.run({ tool: 'warm', args: {}, indexPath, root }).catch(() => {});
    }
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}
