/**
 * Every Redis key this project uses, in one place, under one namespace (--namespace, default "mcp-index").
 * BullMQ's own keys live under the same prefix (`<ns>:batches:*`).
 */
export class Keys {
  constructor(readonly ns: string) {}

  /** BullMQ prefix and queue name: one queue for every run, so priorities order work across runs. */
  get prefix(): string {
    return this.ns;
  }
  readonly queue = 'batches';

  /**
   * A file's content for one batch, content-addressed within it, uploaded when a worker asks for it (blobsWanted);
   * deleted once that batch is merged. Keyed by batch
   * too: identical files (empty `__init__.py`, vendored copies) land in different batches, and the ack of one
   * batch must not delete content another batch still needs.
   */
  blob(runId: string, batchId: string, hash: string): string {
    return `${this.ns}:blob:${runId}:${batchId}:${hash}`;
  }
  /**
   * A run's blob requests: a worker that cannot read some of a batch's files itself (no checkout, or another
   * content there) pushes `{ batchId, hashes }`, and the run's coordinator uploads those blobs.
   */
  blobsWanted(runId: string): string {
    return `${this.ns}:blob:${runId}:want`; // in the blob family: same rights, removed with the run's blobs
  }
  /**
   * The coordinator's answer to a batch's blob request: one entry once the blobs are in place, or ALREADY_MERGED when
   * that batch was merged already (a worker that took it after another one's lease ran out, whose result came first).
   */
  blobsReady(runId: string, batchId: string): string {
    return `${this.ns}:blob:${runId}:${batchId}:ready`;
  }
  /** A finished batch's result (its header and compressed fragment), written by the worker, deleted after merge. */
  result(runId: string, batchId: string): string {
    return `${this.ns}:result:${runId}:${batchId}`;
  }
  /**
   * Which file of a batch its workers were parsing, and the deaths counted against each file (quarantine.ts). In the
   * result family: removed with the batch's result when it is merged, and with the run's results.
   */
  deaths(runId: string, batchId: string): string {
    return `${this.ns}:result:${runId}:${batchId}:deaths`;
  }
  /** Run record: state, progress, errors by cause, priority, started, root (runs.ts); read by `status`, `runs` and the dashboard. */
  run(runId: string): string {
    return `${this.ns}:run:${runId}`;
  }
  /** Set of run ids in progress. */
  get runs(): string {
    return `${this.ns}:runs`;
  }
  /** Worker heartbeat hash (expires if the worker stops beating). */
  worker(id: string): string {
    return `${this.ns}:worker:${id}`;
  }
  /**
   * A request that this worker drain (finish what it holds, take nothing new, exit), set by the dashboard with a TTL
   * and read by the worker with each heartbeat. Under the worker's own prefix, so it needs no rights of its own.
   */
  drain(id: string): string {
    return `${this.ns}:worker:${id}:drain`;
  }
  /** Sorted set of worker ids by last heartbeat time. */
  get workers(): string {
    return `${this.ns}:workers`;
  }
  /**
   * Content-hash result cache shared by all runs, branches, repositories and hosts: one path-independent file
   * result per (extractor version, language, content sha1). Bounded by our own LRU (cache.ts), not by Redis
   * eviction, which must stay off (noeviction).
   */
  cache(extractorVersion: number, language: string, hash: string): string {
    return `${this.ns}:cache:v${extractorVersion}:${language}:${hash}`;
  }
  /** Sorted set: cache entry key -> last use (ms, Redis clock). Oldest first out. */
  get cacheLru(): string {
    return `${this.ns}:cache:lru`;
  }
  /** Hash: cache entry key -> the bytes it is charged. */
  get cacheSizes(): string {
    return `${this.ns}:cache:sizes`;
  }
  /** Running total of the cache's charged bytes, kept at or under the budget. */
  get cacheBytes(): string {
    return `${this.ns}:cache:bytes`;
  }

  jobId(runId: string, batchId: string): string {
    return `${runId}-${batchId}`; // BullMQ forbids ':' in custom ids
  }
  /** SCAN patterns of what a run leaves in Redis: blobs, results, and BullMQ's job keys (`<id>`, `<id>:lock`...). */
  runData(runId: string): { blobs: string; results: string; jobs: string } {
    return { blobs: `${this.ns}:blob:${runId}:*`, results: `${this.ns}:result:${runId}:*`, jobs: `${this.prefix}:${this.queue}:${this.jobId(runId, '')}*` };
  }
  /** The run a blob, result or job key belongs to; null for any other key. */
  runOf(key: string): string | null {
    for (const head of [`${this.ns}:blob:`, `${this.ns}:result:`, `${this.prefix}:${this.queue}:`]) {
      const m = key.startsWith(head) ? /^([0-9a-f]{16})[-:]/.exec(key.slice(head.length)) : null;
      if (m) return m[1];
    }
    return null;
  }
  /**
   * One key of each family above (and of BullMQ's), with the pattern it stands for: the start-up check reads and
   * writes each inside a discarded MULTI, so an ACL that leaves out a family is caught before any work.
   */
  families(): { key: string; pattern: string }[] {
    const p = 'x'; // not "preflight": an ACL pattern such as ~ns*:preflight:* would match ns:result:preflight:...
    return [
      { key: this.blob(p, p, p), pattern: `${this.ns}:blob:*` },
      { key: this.result(p, p), pattern: `${this.ns}:result:*` },
      { key: this.run(p), pattern: `${this.ns}:run:*` },
      { key: this.runs, pattern: this.runs },
      { key: this.worker(p), pattern: `${this.ns}:worker:*` },
      { key: this.workers, pattern: this.workers },
      { key: this.cache(0, p, p), pattern: `${this.ns}:cache:*` },
      { key: this.cacheLru, pattern: this.cacheLru },
      { key: this.cacheSizes, pattern: this.cacheSizes },
      { key: this.cacheBytes, pattern: this.cacheBytes },
      { key: `${this.prefix}:${this.queue}:${p}`, pattern: `${this.prefix}:${this.queue}:*` },
    ];
  }
  /** A BullMQ job key of a run (the job's hash, lock or logs) -> the job id. */
  jobOf(key: string): string {
    return key.slice(`${this.prefix}:${this.queue}:`.length).split(':')[0];
  }
}

/** blobsReady's answer for a batch merged already: the worker completes the job with nothing to store. */
export const ALREADY_MERGED = 'merged';

export const PRIORITY_RANK = { urgent: 1, high: 2, normal: 3, low: 4 } as const;
