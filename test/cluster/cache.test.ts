/**
 * The cluster-wide content-hash result cache, against a real redis-server: real CLI coordinators and an
 * in-process worker (so the test can count the files it is handed), plus the cache module itself for the
 * eviction order and the keying rules.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import type { FileRef, FileResult, Language } from '../../src/protocol/types.js';
import { freshNamespace, RedisServer, redisAvailability, describeWithRedis } from '../helpers/redis-server.js';
import { cleanupTemp, exportIndex, localIndex, pythonTree, readJson, runCli, snapshotBuild, tempDir, type Build } from './helpers.js';

type WorkerMod = typeof import('../../src/transport/redis/worker.js');
type CacheMod = typeof import('../../src/transport/redis/cache.js');
type KeysMod = typeof import('../../src/transport/redis/keys.js');
type HashMod = typeof import('../../src/plan/hash.js');
type VersionMod = typeof import('../../src/extract/version.js');
type Summary = RunSummary & { cache?: { enabled: boolean; hits: number; misses: number } };

const avail = redisAvailability();

let build: Build;
let server: RedisServer;
let redis: Redis;
let tmp: string;
let mods: { worker: WorkerMod; cache: CacheMod; keys: KeysMod; hash: HashMod; version: VersionMod };
const closers: (() => Promise<void>)[] = [];

/** A worker in this process that counts the jobs and files it is handed. */
async function countingWorker(ns: string): Promise<{ jobs: number; files: number }> {
  const seen = { jobs: 0, files: 0 };
  const w = await mods.worker.startWorker({
    url: server.url(),
    namespace: ns,
    threads: 1,
    onEvent: (e) => {
      if (e.type === 'job-start') {
        seen.jobs++;
        seen.files += e.files;
      }
    },
  });
  closers.push(() => w.close());
  return seen;
}

async function clusterRun(root: string, ns: string, extra: string[] = []): Promise<{ summary: Summary; out: string }> {
  const out = join(tempDir('cache-out'), 'index.db'); // always fresh: the incremental path must not skip work
  const r = await runCli(build.bin, [root, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--batch-bytes', '64KiB', '--json', '--progress', 'none', ...extra]);
  if (r.code !== 0) throw new Error(`cluster run of ${root} exited ${r.code ?? r.signal}:\n${r.stderr.slice(-3000)}`);
  return { summary: readJson<Summary>(r.stdout), out };
}

async function cacheKeys(ns: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${ns}:cache*`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

/** The books agree with themselves and with the keys: what the byte total says is what is stored. */
async function checkBooks(ns: string): Promise<{ entries: number; bytes: number }> {
  const k = new mods.keys.Keys(ns);
  const members = await redis.zrange(k.cacheLru, 0, -1);
  const sizes = await redis.hgetall(k.cacheSizes);
  const bytes = Number((await redis.get(k.cacheBytes)) ?? 0);
  expect(Object.keys(sizes).sort()).toEqual([...members].sort());
  expect(Object.values(sizes).reduce((n, s) => n + Number(s), 0)).toBe(bytes);
  if (members.length) expect(await redis.exists(...members)).toBe(members.length);
  const entries = (await cacheKeys(ns)).filter((key) => /:cache:v\d+:/.test(key));
  expect(entries.sort()).toEqual([...members].sort());
  return { entries: members.length, bytes };
}

function listFiles(root: string): string[] {
  return readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

const LANG: Record<string, string> = { py: 'python', js: 'javascript', ts: 'typescript', rs: 'rust' };

/** Cache entries a tree can make: one per distinct (language, content). */
function distinctContents(root: string): number {
  return new Set(listFiles(root).map((p) => `${LANG[p.split('.').pop()!]}:${mods.hash.sha1(readFileSync(join(root, p)))}`)).size;
}

function write(root: string, rel: string, text: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

/** Unique sources in several languages, one with a syntax error (a "partial" result is cached too). */
function uniqueSources(root: string, tag: string): number {
  write(root, `src/${tag}_app.py`, `import os\n\n\nclass ${tag}App:\n    def run(self, x):\n        return os.path.join(x, "${tag}")\n`);
  write(root, `src/${tag}_broken.py`, `def ${tag}_broken(:\n    return 1\n\n\ndef ${tag}_fine():\n    return 2\n`);
  write(root, `web/${tag}.ts`, `export interface ${tag}Opts { n: number }\nexport function ${tag}Make(o: ${tag}Opts): number { return Math.max(o.n, 1); }\n`);
  write(root, `web/${tag}.js`, `import { helper } from './helper.js';\nexport const ${tag}Value = () => helper('${tag}');\n`);
  write(root, `crates/${tag}.rs`, `pub struct ${tag}S { pub n: u32 }\nimpl ${tag}S { pub fn get(&self) -> u32 { self.n + 1 } }\n`);
  return 5;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWithRedis(avail, 'cluster result cache (real Redis)', () => {
  let treeA: string;

  beforeAll(async () => {
    build = await snapshotBuild();
    mods = {
      worker: await build.load<WorkerMod>('transport/redis/worker.js'),
      cache: await build.load<CacheMod>('transport/redis/cache.js'),
      keys: await build.load<KeysMod>('transport/redis/keys.js'),
      hash: await build.load<HashMod>('plan/hash.js'),
      version: await build.load<VersionMod>('extract/version.js'),
    };
    server = await RedisServer.start();
    redis = new Redis(server.url(), { maxRetriesPerRequest: null });
    tmp = tempDir('cache');
    treeA = join(tmp, 'a');
    pythonTree(treeA, { maxBytes: 300_000 });
    uniqueSources(treeA, 'Alpha');
  }, 300_000);
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  }, 120_000);
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
    cleanupTemp();
  }, 120_000);

  describe('shared across runs and repositories', () => {
    const ns = freshNamespace('cache');
    let firstExport: string;

    it('a second run over the same tree parses nothing and exports byte-equal', async () => {
      const seen = await countingWorker(ns);
      const first = await clusterRun(treeA, ns);
      const planned = listFiles(treeA).length;
      expect(first.summary.run.filesParsed + first.summary.run.filesCached).toBe(planned);
      // (Identical files in two batches may already hit within one run; a fresh namespace has nothing else.)
      const c1 = first.summary.cache!;
      expect(c1.enabled).toBe(true);
      expect(c1.hits + c1.misses).toBe(planned);
      expect(first.summary.run.filesCached).toBe(c1.hits);
      expect(seen.files).toBe(c1.misses);
      // Every result is cacheable: the tree has no file a parse turns into an error.
      expect(first.summary.index.errorsByCode).toEqual({ syntax: expect.any(Number) });
      const books = await checkBooks(ns);
      expect(books.entries).toBe(distinctContents(treeA));
      expect(books.bytes).toBeGreaterThan(0);

      seen.jobs = 0;
      seen.files = 0;
      const second = await clusterRun(treeA, ns);
      // The fresh --out knows nothing, so every file is planned, and every one is answered by the cache.
      expect(second.summary.run).toMatchObject({ filesParsed: 0, filesCached: planned });
      expect(second.summary.cache).toEqual({ enabled: true, hits: planned, misses: 0 });
      expect(seen).toEqual({ jobs: 0, files: 0 });
      firstExport = await exportIndex(build.bin, first.out);
      expect(firstExport.length).toBeGreaterThan(1000);
      expect(await exportIndex(build.bin, second.out)).toBe(firstExport);
      // And both equal local mode (no cache involved there).
      const local = join(tempDir('cache-local'), 'index.db');
      await localIndex(build.bin, treeA, local);
      expect(await exportIndex(build.bin, local)).toBe(firstExport);
    }, 600_000);

    it('a vendored copy in another repository is a cache hit, in a batch whose other files are parsed', async () => {
      const seen = await countingWorker(ns);
      const treeB = join(tmp, 'b');
      const own = uniqueSources(treeB, 'Beta');
      const vendored = listFiles(treeA).find((p) => p.endsWith('.py') && !p.includes('Alpha'))!;
      cpSync(join(treeA, vendored), join(treeB, 'vendor', 'lib', vendored));
      const { summary, out } = await clusterRun(treeB, ns, ['--no-default-excludes']);
      expect(summary.run).toMatchObject({ filesParsed: own, filesCached: 1 });
      expect(summary.run.batches).toBe(1); // the hit and the misses share one batch: the results are combined
      expect(summary.cache).toEqual({ enabled: true, hits: 1, misses: own });
      expect(seen).toEqual({ jobs: 1, files: own });
      const local = join(tempDir('cache-local'), 'index.db');
      await localIndex(build.bin, treeB, local, ['--no-default-excludes']);
      const exported = await exportIndex(build.bin, out);
      expect(exported).toContain(`"path":"vendor/lib/${vendored}"`);
      expect(exported).toBe(await exportIndex(build.bin, local));
    }, 600_000);
  });

  it('the same content in another language misses', async () => {
    const ns = freshNamespace('cache-lang');
    const seen = await countingWorker(ns);
    const body = 'export function same(a) {\n  return a + 1;\n}\n';
    const js = join(tmp, 'lang-js');
    const ts = join(tmp, 'lang-ts');
    write(js, 'same.js', body);
    write(ts, 'same.ts', body);
    expect((await clusterRun(js, ns)).summary.cache).toEqual({ enabled: true, hits: 0, misses: 1 });
    expect((await clusterRun(ts, ns)).summary.cache).toEqual({ enabled: true, hits: 0, misses: 1 });
    expect((await clusterRun(js, ns)).summary.cache).toEqual({ enabled: true, hits: 1, misses: 0 });
    expect(seen.files).toBe(2);
    const k = new mods.keys.Keys(ns);
    const hash = mods.hash.sha1(body);
    const v = mods.version.EXTRACTOR_VERSION;
    expect(await redis.exists(k.cache(v, 'javascript', hash), k.cache(v, 'typescript', hash))).toBe(2);
  }, 300_000);

  it('stays within a tiny budget end to end (--cache-mb)', async () => {
    const ns = freshNamespace('cache-tiny');
    const seen = await countingWorker(ns);
    const budget = Math.round(0.02 * 1024 * 1024);
    const { summary } = await clusterRun(treeA, ns, ['--cache-mb', '0.02']);
    expect(seen.files).toBe(summary.run.filesParsed);
    const books = await checkBooks(ns);
    expect(books.bytes).toBeLessThanOrEqual(budget);
    expect(books.entries).toBeGreaterThan(0);
    expect(books.entries).toBeLessThan(summary.run.filesParsed + summary.run.filesCached); // some were evicted
    // What survived is served: a second run gets exactly those as hits.
    const again = await clusterRun(treeA, ns, ['--cache-mb', '0.02']);
    expect(again.summary.cache!.hits).toBeGreaterThan(0);
    expect((await checkBooks(ns)).bytes).toBeLessThanOrEqual(budget);
  }, 600_000);

  it('--cache-mb 0 and --no-cache neither store nor read', async () => {
    const ns = freshNamespace('cache-off');
    const seen = await countingWorker(ns);
    const zero = await clusterRun(treeA, ns, ['--cache-mb', '0']);
    expect(zero.summary.cache).toEqual({ enabled: false, hits: 0, misses: 0 });
    expect(await cacheKeys(ns)).toEqual([]);
    expect(seen.files).toBe(zero.summary.run.filesParsed);

    const filled = await clusterRun(treeA, ns); // the default budget fills it
    expect(filled.summary.cache!.enabled).toBe(true);
    expect((await checkBooks(ns)).entries).toBe(distinctContents(treeA));
    const keysBefore = await cacheKeys(ns);
    seen.files = 0;
    const off = await clusterRun(treeA, ns, ['--no-cache']);
    expect(off.summary.cache).toEqual({ enabled: false, hits: 0, misses: 0 });
    expect(seen.files).toBe(off.summary.run.filesParsed); // every file parsed although every one is cached
    expect(await cacheKeys(ns)).toEqual(keysBefore);
    expect(await exportIndex(build.bin, off.out)).toBe(await exportIndex(build.bin, zero.out));
  }, 600_000);

  describe('the cache module', () => {
    const result = (tag: string, language: Language = 'python'): FileResult => ({
      path: `p/${tag}.py`,
      hash: mods.hash.sha1(tag),
      size: 100 + tag.length,
      language,
      status: 'ok',
      error: null,
      symbols: [{ name: `f_${tag}`, kind: 'function', scope: null, qualified: `f_${tag}`, signature: `def f_${tag}()`, doc: null, startLine: 1, startCol: 0, endLine: 2, endCol: 8 }],
      refs: [{ kind: 'call', name: 'print', line: 2, col: 4, scope: `f_${tag}`, context: 'print' }],
      parseMs: 3,
    });
    const ref = (r: FileResult, path = r.path, language = r.language): FileRef => ({ path, hash: r.hash, size: r.size, language });

    it('evicts least recently used first, and a hit counts as a use', async () => {
      const ns = freshNamespace('cache-lru');
      const keys = new mods.keys.Keys(ns);
      const cache = new mods.cache.ResultCache(redis, keys);
      const v = mods.version.EXTRACTOR_VERSION;
      const rs = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6'].map((t) => result(t));
      const key = (r: FileResult) => keys.cache(v, r.language, r.hash);
      // Room for three entries of this size, not four.
      await cache.store(mods.cache.cacheEntries([rs[0]], v), v, 1 << 20);
      const cost = Number(await redis.hget(keys.cacheSizes, key(rs[0])));
      expect(cost).toBeGreaterThan(0);
      const budget = Math.floor(cost * 3.5);
      for (const r of rs.slice(1, 5)) {
        await sleep(5); // distinct last-use times (the scripts use the Redis clock, in ms)
        const out = await cache.store(mods.cache.cacheEntries([r], v), v, budget);
        expect(out.bytes).toBeLessThanOrEqual(budget);
      }
      expect(await redis.zrange(keys.cacheLru, 0, -1)).toEqual([key(rs[2]), key(rs[3]), key(rs[4])]);
      expect(await redis.exists(key(rs[0]), key(rs[1]))).toBe(0);

      // A hit refreshes e3, so e4 is now the oldest and goes first.
      await sleep(5);
      expect((await cache.lookup([ref(rs[2])], v, 1 << 20)).size).toBe(1);
      await sleep(5);
      const out = await cache.store(mods.cache.cacheEntries([rs[5]], v), v, budget);
      expect(out).toMatchObject({ stored: 1, evicted: 1 });
      expect(await redis.zrange(keys.cacheLru, 0, -1)).toEqual([key(rs[4]), key(rs[2]), key(rs[5])]);
      expect((await checkBooks(ns)).bytes).toBeLessThanOrEqual(budget);

      // An entry larger than the whole budget is not stored.
      expect(await cache.store(mods.cache.cacheEntries([rs[0]], v), v, cost - 1)).toMatchObject({ stored: 0 });
      expect(await redis.exists(key(rs[0]))).toBe(0);
    });

    it('keys by extractor version, language and content; a hit is the stored result under the asking path', async () => {
      const ns = freshNamespace('cache-keying');
      const keys = new mods.keys.Keys(ns);
      const cache = new mods.cache.ResultCache(redis, keys);
      const v = mods.version.EXTRACTOR_VERSION;
      const r = result('same');
      const partial: FileResult = { ...result('partial'), status: 'partial', error: { code: 'syntax', message: 'syntax error at 3:1' } };
      const transient: FileResult[] = [
        { ...result('t1'), status: 'error', error: { code: 'parse-timeout', message: 'parse exceeded 10 ms' }, symbols: [], refs: [] },
        { ...result('t2'), status: 'error', error: { code: 'deleted', message: 'file deleted during the run' }, symbols: [], refs: [] },
        { ...result('t3'), status: 'error', error: { code: 'worker-crash', message: 'isolated' }, symbols: [], refs: [] },
      ];
      expect(await cache.store(mods.cache.cacheEntries([r, partial, ...transient], v), v, 1 << 20)).toMatchObject({ stored: 2, evicted: 0 });

      const hit = await cache.lookup([ref(r, 'vendor/copy.py')], v, 1 << 20);
      expect(hit.get('vendor/copy.py')).toEqual({ ...r, path: 'vendor/copy.py', parseMs: 0 });
      expect((await cache.lookup([ref(partial)], v, 1 << 20)).get(partial.path)).toEqual({ ...partial, parseMs: 0 });
      expect((await cache.lookup(transient.map((t) => ref(t)), v, 1 << 20)).size).toBe(0);
      expect((await cache.lookup([ref(r)], v + 1, 1 << 20)).size).toBe(0); // extractor version bump
      expect((await cache.lookup([ref(r, r.path, 'rust')], v, 1 << 20)).size).toBe(0); // other language
      expect((await cache.lookup([ref(r)], v, r.size - 1)).size).toBe(0); // over this run's --max-file-size

      // A value under the wrong key (another file's content) is refused, never returned.
      const other = result('other');
      await cache.store(mods.cache.cacheEntries([other], v), v, 1 << 20);
      await redis.set(keys.cache(v, 'python', other.hash), (await redis.getBuffer(keys.cache(v, 'python', r.hash)))!, 'KEEPTTL');
      expect((await cache.lookup([ref(other)], v, 1 << 20)).size).toBe(0);
      // Every entry expires unless used.
      const ttl = await redis.pttl(keys.cache(v, 'python', r.hash));
      expect(ttl).toBeGreaterThan(mods.cache.CACHE_TTL_MS - 60_000);
      expect(ttl).toBeLessThanOrEqual(mods.cache.CACHE_TTL_MS);
    });
  });
});
