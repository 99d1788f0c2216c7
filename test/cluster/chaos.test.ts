/**
 * End-to-end failure tests with real processes: CLI coordinator, CLI workers, a real redis-server. Each run is
 * disturbed mid-flight (workers SIGKILLed, the coordinator SIGKILLed and restarted, Redis killed and restarted) and
 * must still produce an index whose export is byte-equal to a local-mode index of the same tree.
 *
 * The tree is a 6 MB slice of the Python standard library plus identical files in many
 * packages, cut into 64 KiB batches: a run has dozens of batches and takes several seconds even on a fast machine.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import { describeWithRedis, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import {
  delay,
  events,
  exportedPaths,
  exportIndex,
  killLeftoversAfterEach,
  localIndex,
  plannedBatches,
  pythonTree,
  readJson,
  spawnCli,
  startSuite,
  startWorkerProc,
  stopSuite,
  waitUntil,
  type Build,
  type Proc,
} from './helpers.js';

const avail = redisAvailability();
const BATCH = ['--batch-bytes', '64KiB'];

let build: Build;
let server: RedisServer;
let tmp: string;
let tree: string;
let treeFiles: string[];
let reference: string;
const procs: Proc[] = [];

function listFiles(root: string): string[] {
  return readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

async function worker(ns: string, name: string, extra: string[] = []): Promise<Proc> {
  const p = await startWorkerProc(build.bin, ['--redis', server.url(), '--namespace', ns, '--threads', '1', '--root', tree, ...extra], { name });
  procs.push(p);
  return p;
}

function coordinator(ns: string, out: string): Proc {
  const p = spawnCli(build.bin, [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, ...BATCH, '--json', '--progress', 'json'], {
    name: 'coordinator',
  });
  procs.push(p);
  return p;
}

const batchesDone = (p: Proc) => events(p, 'batch-done').length;

/** Waits until the coordinator has merged `fraction` of its batches; fails if it exits first. */
async function waitForProgress(p: Proc, fraction: number): Promise<number> {
  await waitUntil(() => {
    if (!p.alive()) throw new Error(`coordinator exited before ${fraction * 100}% of its batches; stderr:\n${p.stderr().slice(-3000)}`);
    const total = plannedBatches(p);
    return total !== null && batchesDone(p) >= Math.ceil(total * fraction);
  }, `coordinator at ${fraction * 100}%`);
  return batchesDone(p);
}

async function expectSuccess(p: Proc): Promise<RunSummary> {
  const r = await p.done;
  if (r.code !== 0) throw new Error(`coordinator exited ${r.code ?? r.signal}; stderr tail:\n${r.stderr.slice(-4000)}`);
  return readJson<RunSummary>(r.stdout);
}

async function expectSameAsLocal(out: string): Promise<void> {
  const got = await exportIndex(build.bin, out);
  const paths = exportedPaths(got);
  expect(new Set(paths).size).toBe(paths.length); // every file exactly once...
  expect(paths).toEqual(treeFiles); // ...and every file of the tree
  expect(got.length).toBe(reference.length);
  expect(got === reference).toBe(true); // byte-equal (not toEqual: a diff of MBs helps nobody)
}

/** Stops the workers still running: a graceful SIGTERM must drain and exit 0. */
async function stopWorkers(ws: Proc[]): Promise<void> {
  for (const w of ws) {
    if (!w.alive()) continue;
    await w.kill('SIGTERM');
    const r = await w.done;
    expect(r.code, `${w.name} after SIGTERM; stderr:\n${r.stderr.slice(-2000)}`).toBe(0);
  }
}

describeWithRedis(avail, 'cluster chaos (real processes, real Redis)', () => {
  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('chaos'));
    tree = join(tmp, 'repo');
    const made = pythonTree(tree, { maxBytes: 6_000_000, duplicates: 24 });
    expect(made.files).toBeGreaterThan(100);
    treeFiles = listFiles(tree);
    await localIndex(build.bin, tree, join(tmp, 'local.db'), BATCH);
    reference = await exportIndex(build.bin, join(tmp, 'local.db'));
    expect(exportedPaths(reference)).toEqual(treeFiles);
  }, 600_000);

  killLeftoversAfterEach(procs);

  afterAll(() => stopSuite(server), 120_000);

  it('survives three worker SIGKILLs in one run (leases expire, batches are redelivered)', async () => {
    const ns = freshNamespace('kill-worker');
    const lock = ['--lock-ms', '2000'];
    const ws = [await worker(ns, 'w0', lock), await worker(ns, 'w1', lock), await worker(ns, 'w2', lock)];
    const out = join(tmp, 'kill-worker.db');
    const coord = coordinator(ns, out);
    const killed: string[] = [];
    const replacements: Promise<Proc>[] = [];
    for (let k = 0; k < 3; k++) {
      await waitForProgress(coord, 0.1 + k * 0.15);
      const victim = ws[k];
      expect(victim.alive(), `${victim.name} died by itself; stderr:\n${victim.stderr().slice(-2000)}`).toBe(true);
      await victim.kill('SIGKILL');
      killed.push(victim.name);
      replacements.push(worker(ns, `w${k + 3}`, lock)); // not awaited: the next kill must not wait for it to boot
    }
    expect(coord.alive(), 'the run ended before the third kill: the tree is too small for this machine').toBe(true);
    ws.push(...(await Promise.all(replacements)));
    const summary = await expectSuccess(coord);
    expect(summary.transport).toBe('redis');
    expect(summary.interrupted).toBe(false);
    // At least one kill caught a batch mid-flight: its lease expired and another worker ran it.
    expect(summary.run.stalls).toBeGreaterThanOrEqual(1);
    expect(summary.run.splits).toBe(0); // a killed worker is not the batch's fault
    for (const w of ws.slice(3)) expect(w.alive(), `${w.name} died; stderr:\n${w.stderr().slice(-2000)}`).toBe(true);
    await expectSameAsLocal(out);
    await stopWorkers(ws);
    expect(killed).toEqual(['worker w0', 'worker w1', 'worker w2']);
  }, 900_000);

  it('resumes after the coordinator is SIGKILLed: same command, merged batches skipped', async () => {
    const ns = freshNamespace('kill-coord');
    const ws = [await worker(ns, 'a'), await worker(ns, 'b')];
    const out = join(tmp, 'kill-coord.db');
    const first = coordinator(ns, out);
    await waitForProgress(first, 0.3);
    await first.kill('SIGKILL');
    const total = plannedBatches(first)!;
    const mergedBefore = batchesDone(first); // each was reported after its merge committed
    expect(mergedBefore).toBeLessThan(total);
    expect(existsSync(`${out}.building`)).toBe(true);
    expect(existsSync(out)).toBe(false);
    // The workers go on with the queued batches while no coordinator is alive.
    await delay(2000);

    const second = coordinator(ns, out);
    const summary = await expectSuccess(second);
    expect(summary.resumed).toBe(true);
    expect(summary.run.batches).toBe(total);
    expect(plannedBatches(second)).toBe(total);
    const mergedAfter = batchesDone(second);
    expect(mergedAfter).toBeGreaterThan(0);
    expect(mergedAfter).toBeLessThanOrEqual(total - mergedBefore); // nothing merged twice
    expect(existsSync(`${out}.building`)).toBe(false);
    await expectSameAsLocal(out);
    await stopWorkers(ws);
  }, 900_000);

  it('completes when Redis is killed and restarted mid-run (AOF): workers and coordinator reconnect', async () => {
    const ns = freshNamespace('kill-redis');
    const ws = [await worker(ns, 'r0'), await worker(ns, 'r1')];
    const out = join(tmp, 'kill-redis.db');
    const coord = coordinator(ns, out);
    await waitForProgress(coord, 0.3);
    await server.kill('SIGKILL');
    await delay(1500);
    await server.restart();
    const restartedAt = Date.now();
    const summary = await expectSuccess(coord);
    expect(summary.interrupted).toBe(false);
    await expectSameAsLocal(out);
    // Both workers came back: alive, and beating into the restarted server.
    const redis = new Redis(server.url(), { maxRetriesPerRequest: 3 });
    try {
      for (const w of ws) expect(w.alive(), `${w.name} died; stderr:\n${w.stderr().slice(-2000)}`).toBe(true);
      await waitUntil(async () => {
        const beats = await Promise.all(['r0', 'r1'].map((id) => redis.hget(`${ns}:worker:${id}`, 'beat')));
        return beats.every((b) => b !== null && Number(b) >= restartedAt);
      }, 'heartbeats from both workers after the restart', 60_000);
    } finally {
      redis.disconnect();
    }
    await stopWorkers(ws);
  }, 900_000);
});
