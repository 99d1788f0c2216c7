/**
 * Never destroy a good index, never hang (issue #12), with real processes and real redis-server instances:
 * - a full Redis (maxmemory, noeviction) fails the run with one line and exit 75, for a full and an incremental
 *   build: the previous index exports byte-equal, nothing the run uploaded is left, and `status --redis` still works;
 * - so does a worker's refused write, reported in the job's failed reason (no split, no worker-crash);
 * - workers that fail every batch (here: of another protocol version) trip the safety net instead of committing
 *   an index of worker-crash errors;
 * - a worker told to stop while its Redis is gone exits within its drain time, idle or holding a batch;
 * - a coordinator without workers warns, and the first SIGINT ends it with 130, resumable;
 * - a run's deadline fails it; `runs cancel` stops a live run; `runs purge` removes what a killed coordinator left.
 */
import { cpSync, readFileSync, readdirSync, appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, freshNamespace, RedisServer, redisAvailability } from '../helpers/redis-server.js';
import {
  events,
  exportIndex,
  killLeftoversAfterEach,
  pythonTree,
  runCli,
  spawnCli,
  startSuite,
  startWorkerProc,
  stopSuite,
  tempDir,
  waitUntil,
  type Build,
  type Proc,
} from './helpers.js';

const avail = redisAvailability();
const BATCH = ['--batch-bytes', '64KiB', '--no-cache'];
const lines = (s: string) => s.split('\n').filter((l) => l.trim().length > 0);

let build: Build;
let server: RedisServer;
let tmp: string;
let tree: string;
let redis: Redis;
const procs: Proc[] = [];

/** Keys a run leaves in Redis: blobs, results, BullMQ jobs (`<ns>:batches:<runId>-<batchId>...`). */
async function runData(ns: string): Promise<string[]> {
  const found = [...(await redis.keys(`${ns}:blob:*`)), ...(await redis.keys(`${ns}:result:*`))];
  return [...found, ...(await redis.keys(`${ns}:batches:*`)).filter((k) => /:batches:[0-9a-f]{16}-/.test(k))];
}

function coordinator(ns: string, out: string, extra: string[] = [], url = server.url(), batch = BATCH): Proc {
  const p = spawnCli(build.bin, [tree, '--cluster', '--redis', url, '--namespace', ns, '--out', out, ...batch, ...extra], { name: 'coordinator', timeoutMs: 300_000 });
  procs.push(p);
  return p;
}

async function worker(ns: string, name: string, extra: string[] = [], bin = build.bin, url = server.url()): Promise<Proc> {
  const p = await startWorkerProc(bin, ['--redis', url, '--namespace', ns, '--threads', '1', '--root', tree, ...extra], { name });
  procs.push(p);
  return p;
}

/** A good cluster index of the tree at `out`, and its export. */
async function goodIndex(ns: string, out: string): Promise<string> {
  const w = await worker(ns, `good-${ns}`);
  const r = await coordinator(ns, out, ['--quiet']).done;
  expect(r.code, r.stderr).toBe(0);
  await w.kill('SIGTERM');
  return exportIndex(build.bin, out);
}

/** Redis fills up after `marginBytes` more: maxmemory just above what it holds now (noeviction is on). */
async function fillUpAfter(marginBytes: number): Promise<void> {
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  await redis.config('SET', 'maxmemory', String(used + marginBytes));
}

describeWithRedis(avail, 'never destroy a good index, never hang (real Redis, real processes)', () => {
  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('safety'));
    tree = join(tmp, 'repo');
    pythonTree(tree, { maxBytes: 1_500_000 });
    redis = new Redis(server.url());
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(async () => {
    redis?.disconnect();
    await stopSuite(server);
  }, 120_000);

  it('a full Redis fails a full build: exit 75, one line, previous index byte-equal, nothing left behind', async () => {
    const ns = freshNamespace('full');
    const out = join(tmp, `${ns}.db`);
    const before = await goodIndex(ns, out);
    // A worker without a checkout: the coordinator uploads every file it asks for.
    procs.push(await startWorkerProc(build.bin, ['--redis', server.url(), '--namespace', ns, '--threads', '1'], { name: 'no-checkout' }));
    // Room for the run to start and say how it ended, not for the 1.5 MB of files it uploads.
    await fillUpAfter(512 * 1024);
    try {
      const r = await coordinator(ns, out, ['--full', '--quiet']).done;
      expect(r.code, r.stderr).toBe(75);
      expect(lines(r.stderr)).toEqual([expect.stringMatching(/^mcp-index: run failed: Redis is out of memory \(OOM command not allowed .*\): raise its maxmemory.*; nothing was committed, the previous index is unchanged$/)]);
      expect(await exportIndex(build.bin, out)).toBe(before);
      expect(await runData(ns)).toEqual([]);
      // `status --redis` needs no write, so it works against the full Redis, and shows why the run failed.
      const status = await runCli(build.bin, ['status', '--redis', server.url(), '--namespace', ns], 120_000);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/failed .*Redis is out of memory/);
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
  }, 300_000);

  it('a full Redis fails an incremental build with workers up: the 24 changed files keep their old rows', async () => {
    const ns = freshNamespace('full-incr');
    const out = join(tmp, `${ns}.db`);
    const copy = join(tmp, `${ns}-repo`);
    cpSync(tree, copy, { recursive: true });
    const run = (extra: string[]) => spawnCli(build.bin, [copy, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, ...BATCH, '--quiet', ...extra], { timeoutMs: 300_000 });
    const w = await startWorkerProc(build.bin, ['--redis', server.url(), '--namespace', ns, '--threads', '1', '--root', copy], { name: 'incr' });
    procs.push(w);
    expect((await run([]).done).code).toBe(0);
    const before = await exportIndex(build.bin, out);
    const changed = readdirSync(copy).filter((f) => f.endsWith('.py')).slice(0, 24);
    for (const f of changed) appendFileSync(join(copy, f), `\n\ndef added_by_test_${f.replace(/\W/g, '_')}():\n    return 1\n`);
    // Not room for the worker's results (its checkout spares any blob).
    await fillUpAfter(16 * 1024);
    try {
      const r = await run([]).done;
      expect(r.code, r.stderr).toBe(75);
      expect(lines(r.stderr)).toEqual([expect.stringMatching(/^mcp-index: run failed: Redis is out of memory/)]);
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    expect(await exportIndex(build.bin, out)).toBe(before);
    // The index still says what it lacks: the changed files are stale, not "up to date".
    const status = await runCli(build.bin, ['status', '--index', out, '--repo', copy, '--json'], 120_000);
    expect((JSON.parse(status.stdout) as { stale: { changed: number } }).stale.changed).toBe(24);
    // And the worker, which may have met the full Redis too, is still up for the next run.
    expect(w.alive()).toBe(true);
    expect((await run([]).done).code).toBe(0);
    expect(await exportIndex(build.bin, out)).toContain('added_by_test_');
  }, 300_000);

  it("a worker that may not store its result fails the run through the job's reason: exit 75, no split", async () => {
    const acl = await RedisServer.start({ users: [{ name: 'wrk', password: 'pw-wrk', rules: '~* &* +@all' }] });
    const admin = new Redis(acl.url());
    try {
      const ns = freshNamespace('noresult');
      const out = join(tmp, `${ns}.db`);
      const wurl = acl.url({ user: 'wrk', password: 'pw-wrk' });
      const w = await worker(ns, 'wrk', [], build.bin, wurl);
      const first = await coordinator(ns, out, ['--quiet'], acl.url()).done;
      expect(first.code, first.stderr).toBe(0);
      const before = await exportIndex(build.bin, out);
      // Rights taken away while the worker runs: everything but the results (the start-up check would refuse it).
      await admin.call('ACL', 'SETUSER', 'wrk', 'resetkeys', ...['blob:*', 'run*', 'worker*', 'cache:*', 'batches:*', 'preflight:*'].map((k) => `~${ns}:${k}`));
      const r = await coordinator(ns, out, ['--full', '--progress', 'plain'], acl.url()).done;
      expect(r.code, r.stderr).toBe(75);
      expect(r.stderr).toMatch(/^mcp-index: run failed: the Redis user lacks a permission \(NOPERM .*\): grant it with ACL SETUSER; nothing was committed, the previous index is unchanged$/m);
      expect(r.stderr).not.toMatch(/: split|file-error|worker-crash/);
      expect(await exportIndex(build.bin, out)).toBe(before);
      expect(w.alive()).toBe(true);
    } finally {
      admin.disconnect();
      await acl.stop();
    }
  }, 300_000);

  it('workers that fail every batch trip the safety net (--max-crash-share) instead of committing worker-crash rows', async () => {
    const ns = freshNamespace('crash');
    const out = join(tmp, `${ns}.db`);
    const before = await goodIndex(ns, out);
    // A worker of another protocol version: it refuses every job as malformed, so every file ends as worker-crash.
    const other = tempDir('other-version');
    cpSync(build.dir, other, { recursive: true, verbatimSymlinks: true });
    const types = join(other, 'dist/protocol/types.js');
    writeFileSync(types, readFileSync(types, 'utf8').replace(/PROTOCOL_VERSION = (\d+)\b/, (_, v: string) => `PROTOCOL_VERSION = ${Number(v) + 1}`));
    await worker(ns, 'other-version', [], join(other, 'bin/mcp-index.js'));
    const r = await coordinator(ns, out, ['--full', '--quiet']).done;
    expect(r.code, r.stderr).toBe(75);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^mcp-index: run failed: \d+ of \d+ files ended as worker-crash \(their batch failed every attempt, or they killed workers\), more than the --max-crash-share of 0\.2 allows.*malformed job/)]);
    expect(await exportIndex(build.bin, out)).toBe(before);
    expect(await runData(ns)).toEqual([]);
  }, 300_000);

  it('a worker whose Redis is gone exits on SIGTERM within its drain time, idle (exit 0) or holding a batch (exit 75)', async () => {
    const gone = await RedisServer.start();
    try {
      const ns = freshNamespace('gone');
      // Idle: its own namespace, where nothing is queued.
      const idle = await worker(freshNamespace('idle'), 'idle', ['--drain-ms', '5000'], build.bin, gone.url());
      // Busy: one batch of 6 MB, so it is still parsing when Redis goes.
      const big = join(tmp, 'big');
      pythonTree(big, { maxBytes: 6_000_000 });
      const busy = await startWorkerProc(build.bin, ['--redis', gone.url(), '--namespace', ns, '--threads', '1', '--root', big, '--drain-ms', '5000'], { name: 'busy' });
      procs.push(busy);
      const coord = spawnCli(build.bin, [big, '--cluster', '--redis', gone.url(), '--namespace', ns, '--out', join(tmp, `${ns}.db`), '--batch-bytes', '64MiB', '--batch-files', '100000', '--no-cache', '--quiet']);
      procs.push(coord);
      const probe = new Redis(gone.url());
      await waitUntil(async () => (await probe.llen(`${ns}:batches:active`)) > 0, 'the worker taking the batch', 120_000);
      probe.disconnect();
      await gone.kill('SIGKILL');
      const t0 = Date.now();
      idle.child.kill('SIGTERM');
      busy.child.kill('SIGTERM');
      const [ri, rb] = await Promise.all([idle.done, busy.done]);
      const secs = (Date.now() - t0) / 1000;
      // Before: neither ever exited. Now: the drain time (5 s), a moment to settle, and process exit.
      expect(secs).toBeLessThan(5 + 10);
      expect(ri.code, ri.stderr).toBe(0);
      expect(rb.code, rb.stderr).toBe(75);
      expect(rb.stderr).toMatch(/"abandoned":1.*Redis did not answer/);
      await coord.kill('SIGKILL');
    } finally {
      await gone.stop();
    }
  }, 300_000);

  it('a coordinator with no worker warns, and the first SIGINT ends it with 130; the same command then resumes', async () => {
    const ns = freshNamespace('alone');
    const out = join(tmp, `${ns}.db`);
    const before = await goodIndex(ns, out);
    const coord = coordinator(ns, out, ['--full', '--stall-warning', '2', '--progress', 'plain']);
    await coord.waitFor(/warning: no worker is alive \(\d+ batches waiting for \d+s\): start one with `mcp-index worker --redis URL`/, 120_000);
    const t0 = Date.now();
    coord.child.kill('SIGINT');
    const r = await coord.done;
    expect(r.code, r.stderr).toBe(130);
    expect(Date.now() - t0).toBeLessThan(30_000); // before: never (it waited for batches nobody runs)
    expect(r.stderr).toMatch(/interrupted: \d+ queued batches stay in Redis; the same command resumes the run/);
    expect(await exportIndex(build.bin, out)).toBe(before);
    const list = await runCli(build.bin, ['runs', 'list', '--redis', server.url(), '--namespace', ns], 120_000);
    expect(list.stdout).toMatch(/^[0-9a-f]{16} interrupted /m);
    // Resumable: the queued batches are still there, and a worker plus the same command finish the run.
    expect((await runData(ns)).length).toBeGreaterThan(0);
    await worker(ns, 'late');
    const again = await coordinator(ns, out, ['--full', '--json']).done;
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).resumed).toBe(true);
    expect(await exportIndex(build.bin, out)).toBe(before);
  }, 300_000);

  it('a run past its --deadline fails (exit 75) and leaves nothing queued', async () => {
    const ns = freshNamespace('deadline');
    const r = await coordinator(ns, join(tmp, `${ns}.db`), ['--deadline', '2', '--quiet']).done;
    expect(r.code, r.stderr).toBe(75);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^mcp-index: run failed: the run's deadline of 2s \(--deadline\) passed with \d+ of \d+ batches not merged; nothing was committed/)]);
    expect(await runData(ns)).toEqual([]);
  }, 300_000);

  it('`runs cancel` stops a live run (its coordinator exits 75), and `runs purge` clears what a killed one left', async () => {
    const ns = freshNamespace('runs');
    const url = server.url();
    const live = coordinator(ns, join(tmp, `${ns}-a.db`), ['--progress', 'json']);
    await waitUntil(() => events(live, 'planned').length > 0, 'the run planned', 120_000);
    const runId = String(events(live, 'planned')[0].runId);
    await waitUntil(async () => (await runData(ns)).length > 0, 'batches queued', 120_000);
    const cancel = await runCli(build.bin, ['runs', 'cancel', runId, '--redis', url, '--namespace', ns], 120_000);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`^cancelled run ${runId}: removed \\d+ jobs, \\d+ blobs, \\d+ results`));
    const r = await live.done;
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(new RegExp(`mcp-index: run failed: run ${runId} was cancelled \\(mcp-index runs cancel\\)`));
    expect(await runData(ns)).toEqual([]);
    const unknown = await runCli(build.bin, ['runs', 'cancel', '0123456789abcdef', '--redis', url, '--namespace', ns], 120_000);
    expect(unknown.code).toBe(2);
    expect(lines(unknown.stderr)).toEqual([expect.stringMatching(/^mcp-index: no run 0123456789abcdef in /)]);

    // A coordinator killed outright leaves its queued jobs (blobs too, had a worker asked for any), and its record
    // says "running".
    const killed = coordinator(ns, join(tmp, `${ns}-b.db`), ['--progress', 'json']);
    await waitUntil(async () => (await runData(ns)).length > 0, 'batches queued', 120_000);
    await killed.kill('SIGKILL');
    const list = await runCli(build.bin, ['runs', 'list', '--redis', url, '--namespace', ns, '--json'], 120_000);
    expect((JSON.parse(list.stdout) as { state: string }[]).map((x) => x.state).sort()).toEqual(['cancelled', 'running']);
    // Not abandoned yet by the default measure (not seen for 10 minutes): purge leaves it.
    const early = await runCli(build.bin, ['runs', 'purge', '--redis', url, '--namespace', ns], 120_000);
    expect(early.stdout).toMatch(/^purged 0 runs/);
    const purge = await runCli(build.bin, ['runs', 'purge', '--older-than', '0', '--redis', url, '--namespace', ns], 120_000);
    expect(purge.code, purge.stderr).toBe(0);
    expect(purge.stdout).toMatch(/^purged 2 runs: removed [1-9]\d* jobs, \d+ blobs/);
    expect(await runData(ns)).toEqual([]);
    const after = await runCli(build.bin, ['runs', 'list', '--redis', url, '--namespace', ns], 120_000);
    expect(after.stdout.trim()).toBe(`no runs in ${ns}`);
  }, 300_000);
});
