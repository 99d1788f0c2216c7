/**
 * Files that kill the worker process parsing them (an out-of-memory kill, a native crash). Nothing is left to say
 * which file it was, and BullMQ hands the batch to the next worker when the lease runs out, again and again: a split
 * only starts once the batch has failed every attempt, so one such file used to kill 11 workers before it stood alone.
 *
 * So a worker records in Redis (Keys.deaths) which file of a batch it is parsing:
 * - on a first delivery, a file it has been parsing since the last look (every LOOK_MS): one that kills by memory
 *   grows for a while, and a fast batch costs nothing;
 * - on a re-delivery (the stall counter says the last holder died), every file, before its parse starts: the thread
 *   waits for the record (worker/thread.ts).
 * A delivery that finds a file recorded by a holder that never finished counts a death against it. A file with
 * DEATHS_TO_QUARANTINE deaths is not parsed again in this run: it is a `worker-crash` error, and the rest of its batch
 * runs. A slow killer is thus quarantined after two deaths, a sudden one after three (the first death names no file).
 * One unrelated death (a host lost, `kill -9`) never condemns a file; two in a row on the very same file would.
 */
import type { Redis } from 'ioredis';
import type { JobRequest } from '../../protocol/types.js';
import type { FileWatch } from '../../worker/thread.js';
import type { Keys } from './keys.js';

const DEATHS_TO_QUARANTINE = 2;
const LOOK_MS = 100;
const TTL_MS = 24 * 3600 * 1000;
const CURRENT = 'current';
const DEATH = 'dead:';

interface Watched {
  key: string;
  req: JobRequest;
  watch: FileWatch;
  /** progress[0] at the last look, and the value recorded in Redis (0: none). */
  seen: number;
  recorded: number;
  over: boolean;
}

export class Quarantine {
  private readonly watched = new Map<string, Watched>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: (level: 'warn', msg: string, extra?: Record<string, unknown>) => void,
  ) {
    this.timer = setInterval(() => this.look(), LOOK_MS);
    this.timer.unref();
  }

  /**
   * A batch starts here. `stalls`: how often its holder stopped renewing its lease (BullMQ's stalled counter). On a
   * re-delivery the deaths are counted first, and the files with enough of them come back as quarantined.
   */
  async begin(jobId: string, req: JobRequest, stalls: number): Promise<FileWatch> {
    const key = this.keys.deaths(req.runId, req.batchId);
    const quarantined = new Map<string, string>();
    const careful = stalls > 0;
    if (careful) {
      const h = await this.redis.hgetall(key);
      const deaths = new Map<string, number>();
      for (const [field, n] of Object.entries(h)) if (field.startsWith(DEATH)) deaths.set(field.slice(DEATH.length), Number(n));
      const last = h[CURRENT];
      if (last) {
        // The holder before us recorded this file and never cleared it: it died parsing it.
        const replies = await this.redis.multi().hincrby(key, DEATH + last, 1).hset(key, CURRENT, '').pexpire(key, TTL_MS).exec();
        deaths.set(last, Number(replies?.[0]?.[1] ?? (deaths.get(last) ?? 0) + 1));
      }
      for (const [path, n] of deaths) {
        if (n < DEATHS_TO_QUARANTINE || !req.files.some((f) => f.path === path)) continue;
        quarantined.set(path, `killed the worker process parsing it ${n} times (out of memory, or a crash): not parsed again in this run`);
        this.log('warn', 'quarantined a file that killed its worker process', { run: req.runId, batch: req.batchId, path, deaths: n });
      }
    }
    const watch: FileWatch = { progress: new Int32Array(new SharedArrayBuffer(8)), careful, quarantined };
    const w: Watched = { key, req, watch, seen: 0, recorded: 0, over: false };
    this.watched.set(jobId, w);
    if (careful) void this.follow(w);
    return watch;
  }

  /**
   * The batch's parse ended here without killing its worker: a file still recorded must not be blamed by the next
   * delivery (after a failed attempt, a hand-back at shutdown, or a result that could not be stored). Called before
   * the result is written, on the same connection: the coordinator's removal of the record comes after.
   */
  end(jobId: string): void {
    const w = this.watched.get(jobId);
    if (!w) return;
    w.over = true;
    this.watched.delete(jobId);
    if (w.recorded) void this.record(w, 0).catch(() => {});
  }

  close(): void {
    clearInterval(this.timer);
    for (const w of this.watched.values()) w.over = true;
    this.watched.clear();
  }

  private record(w: Watched, value: number): Promise<unknown> {
    w.recorded = value;
    const path = value ? w.req.files[value - 1].path : '';
    return this.redis.multi().hset(w.key, CURRENT, path).pexpire(w.key, TTL_MS).exec();
  }

  /** First deliveries: record the file a batch has been parsing since the last look; clear it once it moved on. */
  private look(): void {
    for (const w of this.watched.values()) {
      if (w.watch.careful) continue;
      const now = Atomics.load(w.watch.progress, 0);
      if (now !== 0 && now === w.seen && w.recorded !== now) void this.record(w, now).catch(() => {});
      else if (now !== w.seen && w.recorded) void this.record(w, 0).catch(() => {});
      w.seen = now;
    }
  }

  /** Careful deliveries: record each file as the thread announces it, then let it parse. */
  private async follow(w: Watched): Promise<void> {
    const { progress } = w.watch;
    let seen = 0;
    while (!w.over) {
      const waited = Atomics.waitAsync(progress, 0, seen, 1000);
      if (waited.async) await waited.value;
      const now = Atomics.load(progress, 0);
      if (now === seen || w.over) continue;
      seen = now;
      await this.record(w, now).catch(() => {}); // unrecorded, the thread goes on after its wait
      Atomics.store(progress, 1, now);
      Atomics.notify(progress, 1);
    }
  }
}
