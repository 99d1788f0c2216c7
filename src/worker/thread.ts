// The Piscina entry point: the only module that runs inside a pool thread. Plain objects in, plain objects out.
import type { JobRequest, JobResult } from '../protocol/types.js';
import { handleJob } from './handle-job.js';

export interface ThreadTask {
  req: JobRequest;
  /** Cluster mode: content fetched by the worker process (path -> bytes), when it has no matching checkout. */
  inputs?: [string, Uint8Array][];
  /** Shared flag: once set to 1, the job stops between files and rejects with ReleasedError (worker shutdown). */
  stop?: Int32Array;
  /** Benchmarks only: parse without extracting. */
  parseOnly?: boolean;
}

// The pool hands each thread a second task before the first ends, so the thread never waits on a coordinator busy
// merging. Tasks still run one after another: a batch's duration stays its own, and only one tree is alive.
let previous: Promise<unknown> = Promise.resolve();

export default function run(task: ThreadTask): Promise<JobResult> {
  const job = previous.then(() =>
    handleJob(task.req, task.inputs ? new Map(task.inputs) : undefined, { parseOnly: task.parseOnly, stop: task.stop }),
  );
  previous = job.catch(() => {});
  return job;
}
