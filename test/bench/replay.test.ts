/**
 * The fan-in replay (src/bench/replay.ts) at a small K, against a real redis-server: simulated workers in real
 * processes answer batches with the tree's real results, and the real coordinator and store merge them. Asserts
 * that the report agrees with itself and that the replay really merged what it claims (one round of the tree
 * builds exactly the index `mcp-index TREE` builds), never its speed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, RedisServer, redisAvailability } from '../helpers/redis-server.js';
import { exportIndex, localIndex, pythonTree, startSuite, stopSuite, type Build } from '../cluster/helpers.js';
import { PROTOCOL_VERSION } from '../../src/protocol/types.js';

type ReplayMod = typeof import('../../src/bench/replay.js');
type LocalMod = typeof import('../../src/transport/local.js');
type OptionsMod = typeof import('../../src/config/options.js');
type DiscoverMod = typeof import('../../src/discover/discover.js');
type HashMod = typeof import('../../src/plan/hash.js');
type PlanMod = typeof import('../../src/plan/plan.js');
type FragmentMod = typeof import('../../src/index-store/fragment.js');

const avail = redisAvailability();
const BATCH = 64 * 1024;

let build: Build;
let server: RedisServer;
let tmp: string;
let tree: string;

describeWithRedis(avail, 'fan-in replay', () => {
  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('replay'));
    tree = join(tmp, 'repo');
    pythonTree(tree, { maxBytes: 500_000 });
  }, 300_000);
  afterAll(() => stopSuite(server), 120_000);

  /** The tree's batches and their real fragments, as the bench prepares them. */
  async function batchesOf(): Promise<{ batches: import('../../src/bench/replay.js').ReplayBatch[]; mtimes: Map<string, number>; workerMs: number }> {
    const [options, discover, hash, plan, local, fragment] = await Promise.all([
      build.load<OptionsMod>('config/options.js'),
      build.load<DiscoverMod>('discover/discover.js'),
      build.load<HashMod>('plan/hash.js'),
      build.load<PlanMod>('plan/plan.js'),
      build.load<LocalMod>('transport/local.js'),
      build.load<FragmentMod>('index-store/fragment.js'),
    ]);
    const o = options.buildOptions(tree, { out: join(tmp, 'unused.db'), batchBytes: BATCH });
    const disc = await discover.discover({ root: o.root, include: [], exclude: [], defaultExcludes: true, maxFileBytes: o.maxFileBytes });
    const refs = (await hash.hashFiles(o.root, disc.files)).refs;
    const planned = plan.plan(refs, { targetBytes: o.batchBytes, maxFiles: o.batchFiles });
    const transport = new local.LocalTransport({ threads: 2 });
    const batches = [];
    let ms = 0;
    try {
      for (const b of planned) {
        const request = { v: PROTOCOL_VERSION, runId: 'prep', batchId: b.id, files: b.files, limits: { maxFileBytes: o.maxFileBytes, parseTimeoutMs: o.parseTimeoutMs }, root: o.root };
        const r = await transport.submit(request);
        const { fragments, delivery: _d, ...header } = r;
        batches.push({ request, header, fragment: readFileSync(fragments[0]) });
        fragment.discardFragment(fragments[0]);
        ms += r.durationMs;
      }
    } finally {
      await transport.close();
    }
    return { batches, mtimes: new Map(disc.files.map((f) => [f.path, f.mtimeMs])), workerMs: ms / planned.length };
  }

  it('at 1 and 3 simulated threads: every batch merged once, a report consistent with itself, the same index as a local run', async () => {
    const replay = await build.load<ReplayMod>('bench/replay.js');
    const { batches, mtimes, workerMs } = await batchesOf();
    expect(batches.length).toBeGreaterThan(4);
    const ks = [1, 3];
    const report = await replay.replayFanIn({
      redis: server.url(),
      root: tree,
      dir: join(tmp, 'replay'),
      batches,
      mtimes,
      workerMs,
      ks,
      // K=1: exactly the tree (one round); K=3: the tree and part of a second round under other paths.
      batchesAt: (k) => (k === 1 ? batches.length : batches.length + 3),
      keepIndexes: true,
    });

    expect(report.points.map((p) => p.k)).toEqual(ks);
    expect(report.points.map((p) => p.batches)).toEqual([batches.length, batches.length + 3]);
    for (const p of report.points) {
      expect(p.batchesPerSec).toBeGreaterThan(0);
      expect(p.idealBatchesPerSec).toBeCloseTo((p.k * 1000) / workerMs, 0);
      expect(p.efficiency).toBeCloseTo(p.batchesPerSec / p.idealBatchesPerSec, 2);
      for (const share of [p.mainBusy, p.writerBusy]) {
        expect(share).toBeGreaterThan(0);
        expect(share).toBeLessThanOrEqual(1);
      }
      expect(p.coordinatorCpuMsPerBatch).toBeGreaterThan(0);
      // The writer's CPU is part of its busy time (Linux reads it; ticks of 10 ms round small amounts either way).
      if (process.platform === 'linux') expect(p.writerCpuMsPerBatch).toBeLessThanOrEqual(p.writerMsPerBatch + 10 / p.batches + 0.01);
      expect(p.redisCallsPerBatch).toBeGreaterThan(0);
      expect(p.commitMs).toBeGreaterThan(0);
    }
    // The limit is read off the measured points, nothing else.
    const best = Math.max(...report.points.map((p) => p.batchesPerSec));
    expect(report.maxBatchesPerSec).toBe(best);
    expect(report.coordinatorLimitThreads).toBeCloseTo((best * workerMs) / 1000, 0);
    expect(report.saturationK).toBe(report.points.find((p) => p.efficiency < 0.9)?.k ?? null);
    expect(report.limitIsLowerBound).toBe(report.saturationK === null);
    expect(replay.summarizeReplay(workerMs, report.points)).toEqual(report);

    // One round of the tree, replayed through Redis into the store, is the index a local run builds.
    await localIndex(build.bin, tree, join(tmp, 'local.db'), ['--batch-bytes', String(BATCH)]);
    const reference = await exportIndex(build.bin, join(tmp, 'local.db'));
    expect(await exportIndex(build.bin, report.points[0].index)).toBe(reference);
    // The second point holds the tree and the replayed rounds under their own paths.
    const second = await exportIndex(build.bin, report.points[1].index);
    const files = (text: string) => text.split('\n').filter((l) => l.startsWith('{"type":"file"')).length;
    const roundFiles = batches.slice(0, 3).reduce((n, b) => n + b.request.files.length, 0);
    expect(files(second)).toBe(files(reference) + roundFiles);
  }, 600_000);
});
