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

export default function run(task: ThreadTask): Promise<JobResult> {
  return handleJob(task.req, task.inputs ? new Map(task.inputs) : undefined, { parseOnly: task.parseOnly, stop: task.stop });
}
