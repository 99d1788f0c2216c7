/**
 * A worker distrusts its checkout and the limits a job asks for (real worker process, real files, real Redis). The
 * test plays the coordinator: it queues jobs itself and answers the worker's blob requests.
 *
 * - a symlink in the checkout that leads out of it is not read, even when the job names the target's exact hash;
 * - a FIFO and a link to /dev/zero are not read (no hang, no endless read): the worker asks for their content;
 * - a job asking for 64 MiB files and 600 s parses gets the worker's own caps (--max-file-size, --parse-timeout).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/types.js';
import { readBatch } from '../../src/transport/redis/codec.js';
import { Keys } from '../../src/transport/redis/keys.js';
import { describeWithRedis, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import { killLeftoversAfterEach, spawnCli, startSuite, startWorkerProc, stopSuite, waitUntil, type Build, type Proc } from './helpers.js';

const avail = redisAvailability();
const sha1 = (b: string | Buffer) => createHash('sha1').update(b).digest('hex');
/** What a hostile job asks for: far above the worker's own caps. */
const GREEDY = { maxFileBytes: 64 * 1024 * 1024, parseTimeoutMs: 600_000 };

describeWithRedis(avail, 'a worker distrusts its checkout and the limits in a job (real worker process)', () => {
  let build: Build;
  let server: RedisServer;
  let tmp: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('hostile'));
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(() => stopSuite(server), 120_000);

  it('never reads a link out of the root, a FIFO or /dev/zero, and caps file size below what the job asks', async () => {
    const ns = freshNamespace('hostile');
    const keys = new Keys(ns);
    const tree = join(tmp, 'repo');
    mkdirSync(join(tmp, 'outside'), { recursive: true });
    mkdirSync(tree, { recursive: true });
    const secret = 'def leaked_user():\n    pass\n';
    writeFileSync(join(tmp, 'outside/secret.py'), secret);
    symlinkSync(join(tmp, 'outside/secret.py'), join(tree, 'leak.py'));
    execFileSync('mkfifo', [join(tree, 'pipe.py')]);
    symlinkSync('/dev/zero', join(tree, 'zero.py'));
    const big = Buffer.from('x = 1\n'.repeat(20_000)); // 120,000 bytes: over the worker's 64 KiB, far under the job's 64 MiB
    writeFileSync(join(tree, 'big.py'), big);

    const w = await startWorkerProc(build.bin, ['--redis', server.url(), '--namespace', ns, '--threads', '1', '--root', tree, '--max-file-size', '64KiB', '--parse-timeout', '2000'], { name: 'distrustful' });
    procs.push(w);
    const redis = new Redis(server.url(), { maxRetriesPerRequest: null });
    const queueConn = redis.duplicate();
    const queue = new Queue('batches', { connection: queueConn, prefix: ns });
    /** Waits for the worker's blob request for `batchId` and returns the hashes it asked for. */
    const wanted = async (runId: string): Promise<{ batchId: string; hashes: string[] }> => {
      const popped = await redis.blpop(keys.blobsWanted(runId), 60);
      expect(popped, 'the worker asked for no blobs within 60 s (stuck on a FIFO?)').not.toBeNull();
      return JSON.parse(popped![1]) as { batchId: string; hashes: string[] };
    };
    try {
      // 1. A FIFO and /dev/zero under the root: content the job names, which the coordinator (this test) has.
      const fromBlobA = 'def from_blob_a():\n    pass\n';
      const fromBlobB = 'def from_blob_b():\n    pass\n';
      const files = [
        { path: 'pipe.py', hash: sha1(fromBlobA), size: fromBlobA.length, language: 'python' },
        { path: 'zero.py', hash: sha1(fromBlobB), size: fromBlobB.length, language: 'python' },
        { path: 'big.py', hash: sha1(big), size: big.length, language: 'python' },
      ];
      await queue.add('batch', { v: PROTOCOL_VERSION, runId: 'r1', batchId: 'b1', files, limits: GREEDY }, { jobId: 'j1' });
      const want1 = await wanted('r1');
      // big.py matches its hash in the checkout, but is over the worker's cap: not read locally either.
      expect(want1).toEqual({ batchId: 'b1', hashes: [sha1(fromBlobA), sha1(fromBlobB), sha1(big)] });
      await redis
        .multi()
        .set(keys.blob('r1', 'b1', sha1(fromBlobA)), fromBlobA)
        .set(keys.blob('r1', 'b1', sha1(fromBlobB)), fromBlobB)
        .set(keys.blob('r1', 'b1', sha1(big)), big)
        .lpush(keys.blobsReady('r1', 'b1'), '1')
        .exec();
      await waitUntil(async () => (await redis.exists(keys.result('r1', 'b1'))) === 1, 'the result of b1', 120_000);
      const { header } = readBatch((await redis.getBuffer(keys.result('r1', 'b1')))!);
      expect(header.counts).toMatchObject({ files: 3, symbols: 2, errors: 1 });
      // The job asked for 64 MiB files; the worker's --max-file-size 64KiB decided.
      expect(header.failures).toEqual([{ path: 'big.py', code: 'oversize', message: `${big.length} bytes exceeds the 65536-byte limit` }]);

      // 2. A link out of the root, named with the exact hash of what it points to (the /etc/passwd attack).
      await queue.add('batch', { v: PROTOCOL_VERSION, runId: 'r2', batchId: 'b2', files: [{ path: 'leak.py', hash: sha1(secret), size: secret.length, language: 'python' }], limits: GREEDY }, { jobId: 'j2' });
      const want2 = await wanted('r2');
      expect(want2).toEqual({ batchId: 'b2', hashes: [sha1(secret)] }); // it did not take the target's content
      await redis.lpush(keys.blobsReady('r2', 'b2'), '1'); // the coordinator has no such file: no blob
      await waitUntil(async () => (await queue.getJob('j2'))?.failedReason !== undefined, 'job j2 to fail an attempt', 120_000);
      expect((await queue.getJob('j2'))!.failedReason).toMatch(/blob .* for leak\.py is missing/);
      // Nothing the secret holds reached Redis.
      for (const k of await redis.keys(`${ns}:*`)) {
        if ((await redis.type(k)) !== 'string') continue;
        expect((await redis.getBuffer(k))!.includes('leaked_user'), k).toBe(false);
      }
      const beat = await redis.hgetall(keys.worker('distrustful'));
      expect(Number(beat.rssMb)).toBeLessThan(1000); // /dev/zero once grew a worker to 6.2 GB
      expect(w.alive(), w.stderr()).toBe(true);
    } finally {
      await queue.close();
      queueConn.disconnect(); // BullMQ leaves a connection it was given open
      redis.disconnect();
    }
  }, 300_000);

  it('refuses bad caps with one line and exit 2', async () => {
    for (const cmd of ['worker', 'up']) {
      const r = await spawnCli(build.bin, [cmd, '--redis', server.url(), '--max-file-size', 'lots'], { timeoutMs: 60_000 }).done;
      expect(r.code, cmd).toBe(2);
      expect(r.stderr.trim(), cmd).toBe('mcp-index: flag: "maxFileSize" not a size: "lots" (use bytes or a unit like 512KiB, 1MiB)');
    }
  }, 120_000);
});
