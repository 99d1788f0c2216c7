/**
 * `mcp-index bench` end to end: the real CLI on a generated corpus. Asserts the report's structure and internal
 * consistency (counts equal the indexes it built, ratios equal what the medians give, medians within min-max,
 * every configuration present), never its speed. Build first (`npx tsc -p .`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCorpus } from '../../src/bench/corpus.js';
import { formatReport } from '../../src/bench/format.js';
import type { BenchReport, IndexConfig, Stat, TreeReport } from '../../src/bench/report.js';
import { renderHtml } from '../../src/bench/html.js';
import { cleanupTemp, snapshotBuild, spawnCli, tempDir, type Build } from '../cluster/helpers.js';
import { RedisServer, redisAvailability } from '../helpers/redis-server.js';

const WARMUP = 1;

let build: Build;
beforeAll(async () => {
  build = await snapshotBuild();
}, 120_000);
afterAll(() => cleanupTemp());

async function bench(args: string[], repeat: number): Promise<{ report: BenchReport; html: string; work: string }> {
  const work = tempDir('bench-work');
  const htmlPath = join(work, 'report.html');
  const p = spawnCli(build.bin, ['bench', '--json', '--files', '40', '--repeat', String(repeat), '--no-ctags', '--work-dir', work, '--report', htmlPath, ...args], { timeoutMs: 900_000 });
  const r = await p.done;
  if (r.code !== 0) throw new Error(`bench exited ${r.code ?? r.signal}:\n${r.stderr}`);
  expect(r.stderr).toMatch(/bench: generated: full index/); // progress on stderr, the report alone on stdout
  return { report: JSON.parse(r.stdout) as BenchReport, html: readFileSync(htmlPath, 'utf8'), work };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function checkStat(s: Stat, runs: number): void {
  expect(s.runs).toHaveLength(runs);
  expect(s.min).toBe(Math.min(...s.runs));
  expect(s.max).toBe(Math.max(...s.runs));
  expect(s.median).toBeGreaterThanOrEqual(s.min);
  expect(s.median).toBeLessThanOrEqual(s.max);
  expect(s.median).toBeCloseTo(median(s.runs), 2);
}

/** files, symbols and refs as the index file itself holds them. */
function counts(index: string): { files: number; symbols: number; refs: number } {
  const db = new Database(index, { readonly: true, fileMustExist: true });
  try {
    const n = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    return { files: n('files'), symbols: n('symbols'), refs: n('refs') };
  } finally {
    db.close();
  }
}

function checkConfig(c: IndexConfig, repeat: number): void {
  checkStat(c.wallMs, repeat);
  checkStat(c.totalMs, repeat);
  checkStat(c.peakRssMb, repeat);
  if (c.cpuMs) checkStat(c.cpuMs, repeat);
  if (process.platform === 'linux') expect(c.cpuMs?.median).toBeGreaterThan(0);
  expect(existsSync(c.index)).toBe(true);
  expect(counts(c.index)).toEqual({ files: c.files, symbols: c.symbols, refs: c.refs });
  const secs = c.wallMs.median / 1000;
  expect(c.filesPerSec).toBeCloseTo(c.filesParsed / secs, 1);
  expect(c.mbPerSec).toBeCloseTo(c.bytesParsed / 1e6 / secs, 2);
  expect(c.symbolsPerSec).toBeCloseTo(c.symbols / secs, 1);
  for (const k of ['discoverMs', 'hashMs', 'planMs', 'indexMs', 'commitMs', 'totalMs', 'otherMs'] as const) expect(c.phases[k]).toBeGreaterThanOrEqual(0);
  expect(c.phases.totalMs).toBe(c.totalMs.median);
}

/** Everything that holds for any tree, with or without Redis. */
function checkTree(t: TreeReport, threads: number[], repeat: number, cores: number): void {
  expect(t.name).toBe('generated');
  expect(t.generated?.files).toBe(40);
  expect(t.corpus.files).toBe(40);
  expect(t.corpus.bytes).toBe(t.generated?.bytes);
  expect(Object.values(t.corpus.byLanguage).reduce((a, b) => a + b, 0)).toBe(40);
  expect(t.load.start).toBeGreaterThanOrEqual(0);
  expect(t.load.end).toBeGreaterThanOrEqual(0);

  // Every configuration present.
  expect(t.parseOnly.map((p) => p.threads)).toEqual(threads);
  expect(t.parseExtract.map((p) => p.threads)).toEqual(threads);
  expect(t.local.map((c) => c.threads)).toEqual(threads);
  expect(t.ctags).toEqual({ skipped: '--no-ctags' });

  for (const p of [...t.parseOnly, ...t.parseExtract]) {
    checkStat(p.wallMs, repeat);
    checkStat(p.cpuMs, repeat);
    expect(p.files).toBe(40);
    expect(p.bytes).toBe(t.corpus.bytes);
    expect(p.batches).toBe(t.corpus.batches);
    expect(p.filesPerSec).toBeCloseTo(p.files / (p.wallMs.median / 1000), 1);
  }

  // Full index: the counts are those of the index it built, the same at every thread count; the generated
  // corpus parses cleanly.
  const ref = t.local[0];
  for (const c of t.local) {
    checkConfig(c, repeat);
    expect(c.filesParsed).toBe(40);
    expect(c.bytesParsed).toBe(t.corpus.bytes);
    expect(c.batches).toBe(t.corpus.batches);
    expect(c.fileErrors).toBe(0);
    expect({ files: c.files, symbols: c.symbols, refs: c.refs }).toEqual({ files: ref.files, symbols: ref.symbols, refs: ref.refs });
  }
  expect(ref.files).toBe(40);
  expect(ref.symbols).toBeGreaterThan(200);

  // Incremental: nothing parsed, then exactly the changed file; each change appended one function.
  const inc = t.incremental;
  expect(inc.threads).toBe(Math.max(...threads));
  checkConfig(inc.noChange, repeat);
  checkConfig(inc.oneChange, repeat);
  expect(inc.noChange.filesParsed).toBe(0);
  expect(inc.oneChange.filesParsed).toBe(1);
  expect(inc.noChange.symbols).toBe(ref.symbols);
  expect(inc.oneChange.symbols).toBe(ref.symbols + WARMUP + repeat);
  expect(t.notes).toEqual([]); // every run of a configuration built the same index; re-runs parsed 0, then 1 file
  expect(readFileSync(join(inc.copy, inc.oneChange.changedFile), 'utf8')).toMatch(/bench_added_|benchAdded/);

  // Merge measured on the same results.
  const m = t.merge;
  expect(m.results).toBe(t.corpus.batches);
  expect({ files: m.files, symbols: m.symbols, refs: m.refs }).toEqual({ files: ref.files, symbols: ref.symbols, refs: ref.refs });
  expect(m.rows).toBe(m.files + m.symbols + m.refs);
  expect(m.resultsPerSec).toBeCloseTo(m.results / (m.applyMs / 1000), -1);
  expect(m.encodedBytesPerResult).toBeLessThan(m.fragmentBytesPerResult); // results travel compressed
  expect(m.workerMsPerBatch).toBeGreaterThan(0);

  // ast-grep (a devDependency: under CI it must run) on the same files at every thread count, each run finding the
  // same functions.
  if ('skipped' in t.astGrep) {
    expect(process.env.CI).not.toBe('true');
  } else {
    expect(t.astGrep.runs.map((a) => a.threads)).toEqual(threads);
    for (const a of t.astGrep.runs) {
      checkStat(a.wallMs, repeat);
      expect(a.matches).toBe(t.astGrep.runs[0].matches);
      expect(a.matches).toBeGreaterThan(40);
    }
    for (const x of t.ratios.fullIndexOverAstGrep) expect(x.value).toBeCloseTo(wallOf(t, x.threads) / t.astGrep.runs.find((a) => a.threads === x.threads)!.wallMs.median, 3);
  }
  expect(t.ratios.fullIndexOverCtags.every((x) => x.value === null)).toBe(true); // --no-ctags

  // Ratios from the medians.
  const r = t.ratios;
  const wall = (n: number) => t.local.find((c) => c.threads === n)!.wallMs.median;
  expect(r.base).toBe(threads[0]);
  for (const s of r.speedup) expect(s.value).toBeCloseTo(wall(r.base) / wall(s.threads), 3);
  for (const e of r.efficiency) expect(e.value).toBeCloseTo(wall(r.base) / wall(e.threads) / (e.threads / r.base), 3);
  for (const e of r.endToEndOverParseOnly) expect(e.value).toBeCloseTo(t.parseOnly.find((p) => p.threads === e.threads)!.wallMs.median / wall(e.threads), 3);
  for (const e of r.parseExtractOverParseOnly) {
    expect(e.value).toBeCloseTo(t.parseExtract.find((p) => p.threads === e.threads)!.wallMs.median / t.parseOnly.find((p) => p.threads === e.threads)!.wallMs.median, 3);
  }
  // Ceilings: no configuration beats what its own measurements allow.
  const base = t.local.find((c) => c.threads === r.base)!;
  for (const c of r.ceilings.speedup) {
    expect(c.value).toBeCloseTo(Math.min((cores * base.wallMs.median) / base.cpuMs!.median, c.threads / r.base), 3);
  }
  for (const c of r.ceilings.endToEndOverParseOnly) {
    const po = t.parseOnly.find((p) => p.threads === c.threads)!.wallMs.median;
    const local = t.local.find((l) => l.threads === c.threads)!;
    expect(c.value).toBeCloseTo(po / (po + local.wallMs.median - local.phases.indexMs), 3);
    expect(c.value!).toBeGreaterThanOrEqual(r.endToEndOverParseOnly.find((e) => e.threads === c.threads)!.value!);
  }
  expect(r.noChangeOverCtags).toBeNull();
  expect(r.oneChangeOverCtags).toBeNull();

  // Targets restate the ratios.
  const target = (name: string) => t.targets.find((x) => x.name === name);
  if (threads.includes(2) && threads[0] === 1) expect(target('2-thread speedup')?.value).toBe(r.speedup.find((s) => s.threads === 2)!.value);
  for (const tg of t.targets) if (tg.value != null) expect(tg.met).toBe(tg.op === '>=' ? tg.value >= tg.target : tg.value <= tg.target);

  expect(t.model?.batches).toBe(t.corpus.batches);
}

const wallOf = (t: TreeReport, threads: number) => t.local.find((c) => c.threads === threads)!.wallMs.median;

function checkOutputs(report: BenchReport, html: string): void {
  // The HTML page is self-contained: inline SVG, no script, nothing fetched.
  expect(html).toMatch(/^<!doctype html>/);
  // throughput, speedup, phases; and the replay's curve with --redis
  expect(html.match(/<svg /g)?.length).toBe(report.trees.reduce((n, t) => n + 3 + (t.replay ? 1 : 0), 0));
  expect(html).not.toMatch(/<script|<link |src="http|href="http|url\(/i);
  expect(renderHtml(report)).toBe(html);
  // The terminal table names every configuration.
  const table = formatReport(report);
  for (const t of report.trees) {
    for (const c of t.local) expect(table).toContain(`full index, ${c.threads} thread`);
    for (const p of t.parseOnly) expect(table).toContain(`parse-only, ${p.threads} thread`);
    for (const p of t.parseExtract) expect(table).toContain(`parse + extract, ${p.threads} thread`);
    expect(table).toContain('re-run, no change');
    expect(table).toContain('re-run, one change');
    expect(table).toContain('full index / ast-grep');
    if (t.replay) expect(table).toContain(`limit: ${t.replay.limitIsLowerBound ? 'at least ' : ''}${t.replay.coordinatorLimitThreads} worker threads`);
  }
}

describe('mcp-index bench (generated corpus)', () => {
  it('the generator is deterministic: same seed, same bytes; another seed, other bytes', () => {
    const digest = (dir: string) => {
      const h = createHash('sha1');
      for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name)).sort()) {
        h.update(e.slice(dir.length)).update(readFileSync(e));
      }
      return h.digest('hex');
    };
    const [a, b, c] = [tempDir('corpus'), tempDir('corpus'), tempDir('corpus')];
    const sa = generateCorpus(a, { files: 30, seed: 7 });
    const sb = generateCorpus(b, { files: 30, seed: 7 });
    generateCorpus(c, { files: 30, seed: 8 });
    expect(sa).toEqual(sb);
    expect(digest(a)).toBe(digest(b));
    expect(digest(a)).not.toBe(digest(c));
    expect(Object.values(sa.byLanguage).every((l) => l.files > 0)).toBe(true);
    // --mb sizes the total.
    const sized = generateCorpus(tempDir('corpus'), { mb: 0.5, seed: 3 });
    expect(sized.bytes / 1e6).toBeGreaterThan(0.45);
    expect(sized.bytes / 1e6).toBeLessThan(0.55);
  });

  it('bench --json --files 40 --repeat 1 --threads-list 1,2 --no-ctags: a consistent report', async () => {
    const { report, html } = await bench(['--threads-list', '1,2'], 1);
    expect(report.version).toBe(1);
    expect(report.settings).toMatchObject({ threadsList: [1, 2], workersList: [], repeat: 1, warmup: WARMUP, redis: false, ctags: null, corpus: { files: 40, seed: 1 } });
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.version);
    expect(report.trees).toHaveLength(1);
    const t = report.trees[0];
    checkTree(t, [1, 2], 1, report.machine.cores);
    expect(t.cluster).toBeNull();
    expect(t.replay).toBeNull();
    expect(t.ratios.clusterOverLocal).toEqual([]);
    expect(t.model?.checks).toEqual([]);
    // Without the replay, the coordinator's limit is the paper model's.
    expect(t.model?.coordinatorLimitSource).toBe('paper');
    expect(t.model?.coordinatorLimitThreads).toBe(t.model?.paperCoordinatorLimitThreads);
    checkOutputs(report, html);
  }, 900_000);

  const avail = redisAvailability();
  it.skipIf(!avail.ok)(`with --redis --repeat 2: cluster configurations, worker memory, Redis traffic${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, async () => {
    const redis = await RedisServer.start();
    try {
      const { report, html } = await bench(['--threads-list', '1', '--redis', redis.url(), '--workers', '1', '--replay-threads', '1,2'], 2);
      const t = report.trees[0];
      checkTree(t, [1], 2, report.machine.cores);
      expect(report.settings.workersList).toEqual([1]);
      expect(t.cluster?.map((c) => c.workers)).toEqual([1]);
      const c = t.cluster![0];
      checkConfig(c, 2);
      expect(c.threadsTotal).toBe(1);
      // The cluster built the same index as the local runs.
      expect({ files: c.files, symbols: c.symbols, refs: c.refs }).toEqual({ files: t.local[0].files, symbols: t.local[0].symbols, refs: t.local[0].refs });
      expect(c.workerMemory).toHaveLength(1);
      expect((c.workerMemory[0].vmHwmMb ?? c.workerMemory[0].heartbeatRssMb ?? 0) > 0).toBe(true);
      expect(c.redis.callsPerRun).toBeGreaterThan(0);
      expect(c.redis.callsPerBatch).toBeCloseTo(c.redis.callsPerRun / c.batches, 0);
      // A worker with the checkout fetches no blob, and none is uploaded: the result in and out, and the job.
      expect(c.redis.bytesInPerBatch).toBeGreaterThan(t.merge.encodedBytesPerResult);
      expect(c.redis.bytesOutPerBatch).toBeGreaterThan(t.merge.encodedBytesPerResult);
      expect(t.ratios.clusterOverLocal).toHaveLength(1);
      expect(t.ratios.clusterOverLocal[0].value).toBeCloseTo(c.wallMs.median / t.local[0].wallMs.median, 3);
      expect(t.model?.checks.map((k) => k.workers)).toEqual([1]);
      expect(t.model?.checks[0].measuredIndexMs).toBe(Math.round(c.phases.indexMs));
      // The fan-in replay at 1 and 2 simulated threads, and the coordinator's limit taken from it.
      const rp = t.replay!;
      expect(report.settings.replayThreads).toEqual([1, 2]);
      expect(rp.points.map((p) => p.k)).toEqual([1, 2]);
      expect(rp.workerMsPerBatch).toBeCloseTo(t.merge.workerMsPerBatch + t.merge.encodeMsPerResult, 3);
      for (const p of rp.points) {
        expect(p.batches).toBe(Math.max(24, 12 * p.k));
        expect(p.batchesPerSec).toBeGreaterThan(0);
      }
      expect(rp.maxBatchesPerSec).toBe(Math.max(...rp.points.map((p) => p.batchesPerSec)));
      expect(t.model?.coordinatorLimitSource).toBe('replay');
      expect(t.model?.coordinatorLimitThreads).toBe(rp.coordinatorLimitThreads);
      expect(t.targets.find((x) => x.name.startsWith('coordinator limit'))?.value).toBe(rp.coordinatorLimitThreads);
      expect(t.targets.find((x) => x.name.startsWith('Redis bytes per batch'))?.value).toBe(c.redis.bytesInPerBatch + c.redis.bytesOutPerBatch);
      checkOutputs(report, html);
    } finally {
      await redis.stop();
    }
  }, 900_000);
});
