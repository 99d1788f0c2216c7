/**
 * One conformance suite, run against every transport: the local thread pool, and the Redis transport with an
 * in-process worker that shares the checkout (--root) or gets every input as a blob (no root). Whatever carries
 * the batch, the result must be what `handleJob` returns for it.
 *
 * Modules come from a snapshot of dist/ (see test/cluster/helpers.ts): the pool threads load the built worker.
 */
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type FileRef, type JobRequest, type JobResult, type Language, type Priority } from '../../src/protocol/types.js';
import type { BatchResult, Transport } from '../../src/transport/types.js';
import { cleanupTemp, REPO_ROOT, snapshotBuild, tempDir, type Build } from '../cluster/helpers.js';
import { batchRows, expectedRows } from '../helpers/fragment.js';
import { freshNamespace, RedisServer, redisAvailability } from '../helpers/redis-server.js';

type LocalMod = typeof import('../../src/transport/local.js');
type CoordMod = typeof import('../../src/transport/redis/coordinator.js');
type WorkerMod = typeof import('../../src/transport/redis/worker.js');
type HandleMod = typeof import('../../src/worker/handle-job.js');
type ExtensionsMod = typeof import('../../src/extract/extensions.js');
type HashMod = typeof import('../../src/plan/hash.js');

const redisAvail = redisAvailability();

let build: Build;
let mods: { local: LocalMod; coord: CoordMod; worker: WorkerMod; handle: HandleMod; extensions: ExtensionsMod; hash: HashMod };
let root: string;
let files: FileRef[];
let server: RedisServer | null = null;

beforeAll(async () => {
  build = await snapshotBuild();
  mods = {
    local: await build.load<LocalMod>('transport/local.js'),
    coord: await build.load<CoordMod>('transport/redis/coordinator.js'),
    worker: await build.load<WorkerMod>('transport/redis/worker.js'),
    handle: await build.load<HandleMod>('worker/handle-job.js'),
    extensions: await build.load<ExtensionsMod>('extract/extensions.js'),
    hash: await build.load<HashMod>('plan/hash.js'),
  };
  // A private copy of the fixtures: other work may edit them while this suite runs.
  root = join(tempDir('conformance'), 'repo');
  cpSync(join(REPO_ROOT, 'fixtures'), root, { recursive: true });
  files = [];
  for (const e of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const abs = join(e.parentPath, e.name);
    const path = relative(root, abs).split('\\').join('/');
    const language = mods.extensions.languageOf(path) as Language | null;
    if (!language) continue;
    files.push({ path, hash: mods.hash.sha1(readFileSync(abs)), size: statSync(abs).size, language });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  if (redisAvail.ok) server = await RedisServer.start();
}, 300_000);

afterAll(async () => {
  await server?.stop();
  cleanupTemp();
}, 120_000);

let seq = 0;
function request(fs: FileRef[], extra: Partial<JobRequest> = {}): JobRequest {
  seq++;
  return {
    v: PROTOCOL_VERSION,
    runId: `conf${process.pid}`,
    batchId: `b${seq}-${Math.random().toString(16).slice(2, 10)}`,
    files: fs,
    limits: { maxFileBytes: 1024 * 1024, parseTimeoutMs: 10_000 },
    root,
    ...extra,
  };
}

/** What must not depend on the transport: the rows a batch delivers, by path. */
const essenceOf = (r: BatchResult) => batchRows(r.fragments);
const expectedOf = (r: JobResult) => expectedRows(r.files);

interface Harness {
  transport: Transport;
  /** Redis only: the in-process worker's counters. */
  stats?: { done: number; failed: number; rejected: number };
  /** Redis only: raw access to check what ack leaves behind. */
  keysLeft?: (req: JobRequest) => Promise<number>;
  /** Redis only: queue a batch's job again, as BullMQ does when a lease runs out while Redis is away. */
  requeue?: (req: JobRequest) => Promise<void>;
  close(): Promise<void>;
}

interface Variant {
  name: string;
  available: { ok: boolean; reason: string | null };
  make(): Promise<Harness>;
  malformed: RegExp;
}

const variants: Variant[] = [
  {
    name: 'local (2 threads)',
    available: { ok: true, reason: null },
    malformed: /unsupported job message/,
    async make() {
      const transport = new mods.local.LocalTransport({ threads: 2 });
      return { transport, close: () => transport.close() };
    },
  },
  ...[true, false].map(
    (withRoot): Variant => ({
      name: withRoot ? 'redis, worker shares the checkout (--root)' : 'redis, inputs as blobs (no --root)',
      available: redisAvail,
      malformed: /malformed job/,
      async make() {
        const namespace = freshNamespace('conf');
        const conn = { url: server!.url() };
        const worker = await mods.worker.startWorker({ ...conn, namespace, threads: 2, root: withRoot ? root : undefined, lockMs: 30_000, drainMs: 30_000 });
        const transport = await mods.coord.RedisTransport.create({ ...conn, namespace, root, window: 8, backoffMs: 200 });
        return {
          transport,
          stats: worker.stats,
          async keysLeft(req) {
            const k = transport.keys;
            const names = [...req.files.map((f) => k.blob(req.runId, req.batchId, f.hash)), k.result(req.runId, req.batchId), k.deaths(req.runId, req.batchId), k.blobsReady(req.runId, req.batchId)];
            const n = await transport.redis.exists(...names);
            const job = await transport.queue.getJob(k.jobId(req.runId, req.batchId));
            return n + (job ? 1 : 0);
          },
          async requeue(req) {
            const { root: _root, ...data } = req;
            await transport.queue.add('batch', data, { jobId: transport.keys.jobId(req.runId, req.batchId), removeOnComplete: true, attempts: 1 });
          },
          async close() {
            await transport.close();
            await worker.close();
          },
        };
      },
    }),
  ),
];

for (const v of variants) {
  if (!v.available.ok) {
    describe(`transport conformance: ${v.name}`, () => {
      it.skip(`skipped: ${v.available.reason}`, () => {});
    });
    continue;
  }
  describe(`transport conformance: ${v.name}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await v.make();
    }, 120_000);
    afterAll(async () => {
      await h?.close();
    }, 120_000);

    it('returns for a batch of real files exactly what handleJob returns', async () => {
      const req = request(files);
      const direct = await mods.handle.handleJob(req);
      const res = await h.transport.submit(req);
      expect(res.v).toBe(PROTOCOL_VERSION);
      expect(res.runId).toBe(req.runId);
      expect(res.batchId).toBe(req.batchId);
      const rows = essenceOf(res);
      expect(rows.map((f) => f.path)).toEqual(files.map((f) => f.path));
      expect(rows).toEqual(expectedOf(direct));
      // Not a vacuous comparison: the fixtures have symbols and references in every language.
      expect(res.counts).toMatchObject({ files: files.length, symbols: rows.reduce((n, f) => n + f.symbols.length, 0), refs: rows.reduce((n, f) => n + f.refs.length, 0) });
      expect(res.counts.symbols).toBeGreaterThan(50);
      expect(res.counts.refs).toBeGreaterThan(20);
      expect(new Set(rows.map((f) => f.file.language)).size).toBeGreaterThanOrEqual(4);
      await h.transport.ack?.(req);
    }, 180_000);

    it('resolves many concurrent submissions, each exactly once with its own result', async () => {
      const doneBefore = h.stats?.done ?? 0;
      const priorities: Priority[] = ['urgent', 'high', 'normal', 'low'];
      const reqs = Array.from({ length: 40 }, (_, i) => request([files[i % files.length], files[(i * 7 + 3) % files.length]].filter((f, j, a) => a.findIndex((g) => g.path === f.path) === j)));
      const settled = new Map<string, number>();
      const results = await Promise.all(
        reqs.map((r, i) =>
          h.transport.submit(r, { priority: priorities[i % 4] }).then((res) => {
            settled.set(r.batchId, (settled.get(r.batchId) ?? 0) + 1);
            return res;
          }),
        ),
      );
      expect(settled.size).toBe(reqs.length);
      expect([...settled.values()].every((n) => n === 1)).toBe(true);
      for (let i = 0; i < reqs.length; i++) {
        expect(results[i].batchId).toBe(reqs[i].batchId);
        expect(essenceOf(results[i]).map((f) => f.path)).toEqual(reqs[i].files.map((f) => f.path).sort());
      }
      // Same content, same answer, whichever thread or process ran it.
      const byPath = new Map<string, unknown>();
      for (const r of results)
        for (const f of essenceOf(r)) {
          if (byPath.has(f.path)) expect(f).toEqual(byPath.get(f.path));
          else byPath.set(f.path, f);
        }
      if (h.stats) expect(h.stats.done - doneBefore).toBe(reqs.length); // no batch ran twice
      await Promise.all(reqs.map((r) => h.transport.ack?.(r)));
    }, 300_000);

    it('rejects a malformed request (v: 99) and keeps working', async () => {
      const bad = { ...request(files.slice(0, 2)), v: 99 } as unknown as JobRequest;
      await expect(h.transport.submit(bad)).rejects.toThrow(v.malformed);
      await h.transport.ack?.(bad);
      if (h.stats) expect(h.stats.rejected).toBeGreaterThanOrEqual(1);
      const good = request(files.slice(0, 3));
      const res = await h.transport.submit(good);
      expect(essenceOf(res)).toEqual(expectedOf(await mods.handle.handleJob(good)));
      await h.transport.ack?.(good);
    }, 180_000);

    it('ack is idempotent and drops what the transport kept', async () => {
      const req = request(files.slice(0, 4));
      await h.transport.submit(req);
      if (h.keysLeft) expect(await h.keysLeft(req)).toBeGreaterThan(0); // the job and its result are kept until the ack
      await h.transport.ack?.(req);
      await h.transport.ack?.(req);
      if (h.keysLeft) expect(await h.keysLeft(req)).toBe(0);
      // Acknowledging something never submitted is harmless too.
      await h.transport.ack?.(request(files.slice(0, 1)));
      // And the transport still works afterwards.
      const again = request(files.slice(0, 4));
      const res = await h.transport.submit(again);
      expect(res.counts.files).toBe(4);
      expect(essenceOf(res)).toHaveLength(4);
      await h.transport.ack?.(again);
    }, 180_000);

    // Redis only: the local pool has no leases.
    if (v.name.startsWith('redis')) it('a batch that a second worker runs after its merge (a lease ran out) leaves nothing behind', async () => {
      const req = request(files.slice(0, 3));
      await h.transport.submit(req);
      await h.transport.ack?.(req);
      expect(await h.keysLeft!(req)).toBe(0);
      const doneBefore = h.stats!.done;
      await h.requeue!(req);
      // Without a checkout the worker asks for blobs and is told the batch is merged; with one, it stores a result
      // that the coordinator removes when the job completes. Either way, nothing stays.
      const deadline = Date.now() + 60_000;
      while ((h.stats!.done === doneBefore || (await h.keysLeft!(req)) > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(h.stats!.done).toBe(doneBefore + 1);
      expect(await h.keysLeft!(req)).toBe(0);
    }, 120_000);
  });
}
