/** Worker heartbeats seen from the coordinator side: the live count and the workers that vanished. */
import type { Redis } from 'ioredis';
import { Keys } from '../transport/redis/keys.js';

export interface WorkerRow {
  id: string;
  host: string;
  pid: string;
  threads: string;
  done: string;
  failed: string;
  rssMb: string;
  run: string;
  ageMs: number;
}

/** Workers with a live heartbeat (the hash expires when a worker stops beating). */
export async function workerRows(redis: import('ioredis').Redis, keys: Keys): Promise<WorkerRow[]> {
  const ids = await redis.zrange(keys.workers, 0, -1);
  const rows: WorkerRow[] = [];
  for (const id of ids) {
    const h = await redis.hgetall(keys.worker(id));
    if (!h.id) {
      await redis.zrem(keys.workers, id); // expired: the worker is gone
      continue;
    }
    rows.push({ id, host: h.host, pid: h.pid, threads: h.threads, done: h.done, failed: h.failed, rssMb: h.rssMb, run: h.run, ageMs: Date.now() - Number(h.beat) });
  }
  return rows;
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
