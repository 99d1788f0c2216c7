/**
 * Redis for the operations side (readiness probes, heartbeat counts, priority look-ups): its own connection, whose
 * commands fail within a second while Redis is away instead of queueing until it is back, so a probe or a scrape
 * never hangs.
 */
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { redisOptions, type RedisConnectOptions } from '../transport/redis/connection.js';
import { Keys, PRIORITY_RANK } from '../transport/redis/keys.js';
import type { Priority } from '../protocol/types.js';
import { within } from '../util/time.js';

export const PROBE_TIMEOUT_MS = 1000;

export function opsRedis(conn: RedisConnectOptions): Redis {
  const { url, options } = redisOptions(conn);
  // No ready check: it runs INFO, which a least-privilege ACL user may lack (and ioredis then warns on stderr).
  const r = new Redis(url, { ...options, maxRetriesPerRequest: 1, commandTimeout: PROBE_TIMEOUT_MS, enableReadyCheck: false });
  r.on('error', () => {}); // reconnects by itself; probes report the outage
  return r;
}

export interface OpsQueue {
  readonly queue: Queue;
  close(): Promise<void>;
}

/**
 * A handle on the shared queue for the operations side, on the caller's ops connection (`opsRedis`), which it leaves
 * open when it closes. skipMetasUpdate: a Queue otherwise writes its meta hash when it connects.
 */
export async function opsQueue(redis: Redis, namespace: string): Promise<OpsQueue> {
  const { Queue } = await import('bullmq');
  const keys = new Keys(namespace);
  const queue = new Queue(keys.queue, { connection: redis, prefix: keys.prefix, skipMetasUpdate: true });
  queue.on('error', () => {}); // commands fail on their own; the caller reports the outage
  return { queue, close: async () => void (await within(PROBE_TIMEOUT_MS, queue.close())) };
}

/** Waiting batches by priority: the backlog to autoscale on. */
export async function backlogByPriority(queue: Queue): Promise<Record<Priority, number>> {
  const perRank = await queue.getCountsPerPriority(Object.values(PRIORITY_RANK));
  return Object.fromEntries(Object.entries(PRIORITY_RANK).map(([name, rank]) => [name, perRank[String(rank)] ?? 0])) as Record<Priority, number>;
}

/** PING with a short deadline: the readiness half "Redis reachable". */
export async function ping(redis: Redis, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const reply = await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no PING reply within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return reply === 'PONG' ? null : `unexpected PING reply ${String(reply)}`;
  } catch (err) {
    return `Redis unreachable: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/** runId -> priority from the run record the coordinator writes (bounded cache; "unknown" when there is none). */
export function priorityLookup(redis: Redis, namespace: string): (runId: string) => Promise<string> {
  const keys = new Keys(namespace);
  const cache = new Map<string, Promise<string>>();
  return (runId) => {
    let p = cache.get(runId);
    if (!p) {
      p = redis
        .hget(keys.run(runId), 'priority')
        .then((v) => v || 'unknown')
        .catch(() => {
          cache.delete(runId); // try again next time
          return 'unknown';
        });
      cache.set(runId, p);
      if (cache.size > 256) cache.delete(cache.keys().next().value!);
    }
    return p;
  };
}
