/**
 * Foreign and malformed messages: anything can be put on the queue by anyone with access to Redis. A worker must
 * refuse what is not a valid job (failed at once with a 'malformed job' reason, never retried, nothing read, nothing
 * written), stay alive, and go on with real work.
 */
import { cpSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../src/protocol/types.js';
import { describeWithRedis, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import {
  exportIndex,
  killLeftoversAfterEach,
  localIndex,
  REPO_ROOT,
  spawnCli,
  startSuite,
  startWorkerProc,
  stopSuite,
  waitUntil,
  type Build,
  type Proc,
} from './helpers.js';

const avail = redisAvailability();

const limits = { maxFileBytes: 1024 * 1024, parseTimeoutMs: 10_000 };
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

describeWithRedis(avail, 'malformed and foreign jobs on the queue (real worker process)', () => {
  let build: Build;
  let server: RedisServer;
  let tmp: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('malformed'));
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(() => stopSuite(server), 120_000);

  it('fails garbage and path escapes as malformed, keeps the worker alive, then indexes a real run', async () => {
    const ns = freshNamespace('malformed');
    const tree = join(tmp, 'repo');
    cpSync(join(REPO_ROOT, 'fixtures/mixed'), tree, { recursive: true });
    const w = await startWorkerProc(build.bin, ['--redis', server.url(), '--namespace', ns, '--threads', '1', '--root', tree], { name: 'victim' });
    procs.push(w);

    const passwd = readFileSync('/etc/passwd');
    const escape = (path: string) => ({
      v: PROTOCOL_VERSION,
      runId: 'evil',
      batchId: `b-${path.replace(/[^a-z]/g, '')}`,
      files: [{ path, hash: sha1(passwd), size: passwd.length, language: 'python' }],
      limits,
    });
    const bad: { id: string; data: unknown; reason: RegExp }[] = [
      { id: 'garbage-object', data: { hello: 'world', files: 42 }, reason: /^malformed job: / },
      { id: 'garbage-string', data: 'not even an object', reason: /^malformed job: / },
      { id: 'garbage-null', data: null, reason: /^malformed job: / },
      { id: 'foreign-version', data: { v: 99, runId: 'r', batchId: 'b', files: [], limits }, reason: /^malformed job: v: / },
      { id: 'no-files', data: { v: PROTOCOL_VERSION, runId: 'r', batchId: 'b', files: [], limits }, reason: /^malformed job: files: / },
      { id: 'bad-hash', data: { v: PROTOCOL_VERSION, runId: 'r', batchId: 'b', files: [{ path: 'a.py', hash: 'zz', size: 1, language: 'python' }], limits }, reason: /^malformed job: files\.0\.hash/ },
      { id: 'huge-limit', data: { v: PROTOCOL_VERSION, runId: 'r', batchId: 'b', files: [{ path: 'a.py', hash: 'a'.repeat(40), size: 1, language: 'python' }], limits: { ...limits, maxFileBytes: 1e12 } }, reason: /^malformed job: limits\.maxFileBytes/ },
      { id: 'escape-dotdot', data: escape('../../../../../../etc/passwd'), reason: /^malformed job: files\.0\.path: path escapes the root/ },
      { id: 'escape-inner', data: escape('inventory/../../../../../../etc/passwd'), reason: /^malformed job: files\.0\.path: path escapes the root/ },
      { id: 'escape-absolute', data: escape('/etc/passwd'), reason: /^malformed job: files\.0\.path: path escapes the root/ },
    ];

    const connection = new Redis(server.url(), { maxRetriesPerRequest: null });
    const queue = new Queue('batches', { connection, prefix: ns });
    try {
      // Retries allowed: a malformed job must still fail on its first attempt (UnrecoverableError).
      for (const b of bad) await queue.add('batch', b.data, { jobId: b.id, attempts: 5, backoff: { type: 'fixed', delay: 100 } });
      for (const b of bad) {
        await waitUntil(async () => (await queue.getJobState(b.id)) === 'failed', `job ${b.id} to fail`, 120_000);
        const job = (await queue.getJob(b.id))!;
        expect(job.failedReason, b.id).toMatch(b.reason);
        expect(job.attemptsMade, `${b.id} was retried`).toBe(1);
      }
      // Nothing was read for the escapes, so nothing was written either.
      expect(await connection.keys(`${ns}:result:*`)).toEqual([]);
      expect(w.alive(), w.stderr()).toBe(true);
      expect(w.stderr()).toMatch(/rejected malformed job/);

      // The same worker then runs a real cluster run correctly.
      await localIndex(build.bin, tree, join(tmp, 'local.db'));
      const out = join(tmp, 'cluster.db');
      const coord = spawnCli(build.bin, [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--quiet'], { timeoutMs: 300_000 });
      procs.push(coord);
      const r = await coord.done;
      expect(r.code, r.stderr).toBe(0);
      expect(await exportIndex(build.bin, out)).toBe(await exportIndex(build.bin, join(tmp, 'local.db')));
      expect(w.alive()).toBe(true);
      await w.kill('SIGTERM');
      expect((await w.done).code).toBe(0);
      expect(statSync(out).size).toBeGreaterThan(0);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  }, 600_000);
});
