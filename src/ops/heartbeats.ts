/** Worker heartbeats seen from the coordinator side: the live count and the workers that vanished. */
import type { Redis } from 'ioredis';
import { Keys } from '../transport/redis/keys.js';
import type { HeldBatch } from '../transport/redis/worker.js';
import { jsonArray } from '../util/json.js';

export interface WorkerRow {
  id: string;
  host: string;
  pid: string;
  threads: string;
  done: string;
  failed: string;
  rssMb: string;
  /** Load average of its host (1 min). */
  load1: string;
  run: string;
  ageMs: number;
  /** When it wrote this heartbeat (epoch ms, its clock). */
  beat: number;
  /** CPU time of the process so far (user + system, ms): the rate between two heartbeats is its CPU use. */
  cpuMs: number;
  /** `draining`: finishing what it holds, taking nothing new, then it exits. */
  state: 'running' | 'draining';
  /** The batches it holds now. */
  jobs: HeldBatch[];
}

/** Workers with a live heartbeat (the hash expires when a worker stops beating); expired ids are dropped from the set. */
export async function workerRows(redis: Redis, keys: Keys): Promise<WorkerRow[]> {
  const { rows, expired } = await readHeartbeats(redis, keys);
  if (expired.length) await redis.zrem(keys.workers, ...expired); // the workers are gone
  return rows;
}

/** The heartbeats as they are, read at once, changing nothing: live rows, and ids whose heartbeat expired. */
export async function readHeartbeats(redis: Redis, keys: Keys): Promise<{ rows: WorkerRow[]; expired: string[] }> {
  const ids = await redis.zrange(keys.workers, 0, -1);
  const hashes = await Promise.all(ids.map((id) => redis.hgetall(keys.worker(id))));
  const rows: WorkerRow[] = [];
  const expired: string[] = [];
  const now = Date.now();
  ids.forEach((id, i) => {
    const h = hashes[i];
    if (!h.id) return void expired.push(id);
    rows.push({
      id,
      host: h.host,
      pid: h.pid,
      threads: h.threads,
      done: h.done,
      failed: h.failed,
      rssMb: h.rssMb,
      load1: h.load1,
      run: h.run,
      ageMs: now - Number(h.beat),
      beat: Number(h.beat),
      cpuMs: Number(h.cpuUserMs ?? 0) + Number(h.cpuSystemMs ?? 0),
      state: h.state === 'draining' ? 'draining' : 'running',
      jobs: jsonArray<HeldBatch>(h.jobs),
    });
  });
  return { rows, expired };
}

/** How long a drain request waits for its worker to read it (it does within a heartbeat, if it is alive). */
const DRAIN_REQUEST_TTL_MS = 60_000;

/**
 * Asks a worker to drain: it reads the request with its next heartbeat, finishes the batches it holds, takes no
 * new ones and exits (transport/redis/worker.ts). False when no worker of that id has a live heartbeat.
 */
export async function requestDrain(redis: Redis, keys: Keys, id: string): Promise<boolean> {
  if ((await redis.exists(keys.worker(id))) === 0) return false;
  await redis.set(keys.drain(id), String(Date.now()), 'PX', DRAIN_REQUEST_TTL_MS);
  return true;
}

export interface LostWorker {
  id: string;
  host: string;
  pid: string;
  /** How long before it vanished its last heartbeat was seen. */
  lastSeenMsAgo: number;
}

/**
 * Follows the workers' heartbeats (the same rows as `mcp-index status`): how many are alive, and which ones
 * vanished since the last look (killed, host lost, or stopped).
 */
export class HeartbeatWatcher {
  private readonly keys: Keys;
  private known = new Map<string, { row: WorkerRow; seenAt: number }>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<number> | null = null;
  alive = 0;

  constructor(
    private readonly redis: Redis,
    namespace: string,
    private readonly onLost: (w: LostWorker) => void = () => {},
    private readonly onAlive: (row: WorkerRow) => void = () => {},
  ) {
    this.keys = new Keys(namespace);
  }

  /** One look; concurrent callers share it. Resolves with the live count (the previous one if Redis is away). */
  poll(): Promise<number> {
    return (this.polling ??= (async () => {
      try {
        const rows = await workerRows(this.redis, this.keys);
        const now = Date.now();
        const next = new Map<string, { row: WorkerRow; seenAt: number }>();
        for (const row of rows) {
          if (!this.known.has(row.id)) this.onAlive(row);
          next.set(row.id, { row, seenAt: now });
        }
        for (const [id, { row, seenAt }] of this.known) {
          if (!next.has(id)) this.onLost({ id, host: row.host, pid: row.pid, lastSeenMsAgo: now - seenAt + row.ageMs });
        }
        this.known = next;
        this.alive = rows.length;
      } catch {
        // Redis away: keep the last view
      } finally {
        this.polling = null;
      }
      return this.alive;
    })());
  }

  start(intervalMs = 2000): this {
    if (!this.timer) {
      void this.poll();
      this.timer = setInterval(() => void this.poll(), intervalMs);
      this.timer.unref();
    }
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }
}
