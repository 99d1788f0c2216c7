/**
 * `mcp-index bench`: every configuration of every tree, measured the same way (one warm-up run, then `repeat`
 * timed runs, median with min-max), and the ratios between them computed from the medians.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Redis } from 'ioredis';
import { buildOptions, type IndexOptions } from '../config/options.js';
import { DEFAULT_EXCLUDES, discover, type Discovery } from '../discover/discover.js';
import { EXTRACTOR_VERSION } from '../extract/version.js';
import { discardFragment, spoolFragment } from '../index-store/fragment.js';
import { IndexStore } from '../index-store/store.js';
import { dispatch } from '../pipeline/dispatch.js';
import { discoverOptions, jobRequest } from '../pipeline/run.js';
import type { RunSummary } from '../pipeline/events.js';
import { hashFiles, sha1 } from '../plan/hash.js';
import { plan } from '../plan/plan.js';
import type { FileRef, JobRequest, Language } from '../protocol/types.js';
import type { BatchResult } from '../transport/types.js';
import { LocalTransport } from '../transport/local.js';
import { decompressFragment, encodeBatch, readBatch } from '../transport/redis/codec.js';
import { createRedis, preflight } from '../transport/redis/connection.js';
import { Keys } from '../transport/redis/keys.js';
import { astGrepBinary, astGrepRules } from './ast-grep.js';
import { generateCorpus, type CorpusStats } from './corpus.js';
import { dropNamespace, replayFanIn, type ReplayBatch, type ReplayReport } from './replay.js';
import { BIN, childEnv, cpuModel, ctagsVersion, runIndexChild, runProcess, stopChild, vmHwmMb } from './proc.js';
import {
  computeRatios,
  computeTargets,
  round,
  stat,
  type AstGrepReport,
  type BenchReport,
  type ClusterConfig,
  type CtagsReport,
  type IncrementalReport,
  type IndexConfig,
  type MergeRate,
  type ParseOnlyConfig,
  type RedisTraffic,
  type ScaleModel,
  type Stat,
  type TreeReport,
  type WorkerMemory,
} from './report.js';
import { UsageError } from '../errors.js';

export interface BenchOptions {
  /** Trees to measure; empty: a generated corpus. */
  paths: string[];
  threadsList: number[];
  workersList: number[];
  repeat: number;
  files?: number;
  mb?: number;
  seed: number;
  redis: string | null;
  /** Simulated worker threads of the fan-in replay (with redis). */
  replayThreads: number[];
  ctags: boolean;
  astGrep: boolean;
  exclude: string[];
  /** The indexer's default excludes (node_modules, vendor, ...), on both sides; false indexes them too. */
  defaultExcludes: boolean;
  /** Keep every corpus, copy and index here; default: a temp folder removed at the end. */
  workDir: string | null;
  log: (line: string) => void;
}

const WARMUP = 1;
/** Assumptions of the scale-out model (docs/BENCHMARKS.md explains them). */
export const ASSUMED_REDIS_CALLS_PER_SEC = 100_000;
export const ASSUMED_NETWORK_BYTES_PER_SEC = 125e6;

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  if (o.redis) await preflight({ url: o.redis }, 'bench');
  const loadBefore = loadavg().map((n) => round(n));
  const work = o.workDir ? mkdirP(o.workDir) : realpathSync(mkdtempSync(join(tmpdir(), 'mcp-index-bench-')));
  const notes: string[] = [];
  const ctags = o.ctags ? ctagsVersion() : ({ ok: false, reason: 'skipped (--no-ctags)' } as const);
  if (!ctags.ok) notes.push(`ctags: ${ctags.reason}`);
  const astGrep = o.astGrep ? astGrepBinary() : ({ ok: false, reason: 'skipped (--no-ast-grep)' } as const);
  if (!astGrep.ok) notes.push(`ast-grep: ${astGrep.reason}`);
  try {
    const trees: { name: string; root: string; generated: CorpusStats | null }[] = [];
    if (o.paths.length === 0) {
      const dir = join(work, 'corpus');
      rmSync(dir, { recursive: true, force: true });
      o.log(`bench: generating corpus (${o.files !== undefined ? `${o.files} files` : ''}${o.files !== undefined && o.mb !== undefined ? ', ' : ''}${o.mb !== undefined ? `${o.mb} MB` : ''}${o.files === undefined && o.mb === undefined ? 'default size' : ''}, seed ${o.seed}) in ${dir}`);
      const generated = generateCorpus(dir, { files: o.files, mb: o.mb, seed: o.seed });
      trees.push({ name: 'generated', root: realpathSync(dir), generated });
    } else {
      const used = new Set<string>();
      for (const p of o.paths) {
        let name = basename(realpathSync(p)) || 'root';
        for (let i = 2; used.has(name); i++) name = `${basename(p)}-${i}`;
        used.add(name);
        trees.push({ name, root: realpathSync(p), generated: null });
      }
    }
    const reports: TreeReport[] = [];
    for (const t of trees) reports.push(await benchTree(o, t, join(work, 'runs', t.name), ctags.ok ? ctags.version : null));
    return {
      version: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: {
        cpuModel: cpuModel() === 'unknown' ? (cpus()[0]?.model ?? 'unknown') : cpuModel(),
        cores: availableParallelism(),
        memMb: Math.round(totalmem() / 2 ** 20),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        loadBefore,
        loadAfter: loadavg().map((n) => round(n)),
      },
      settings: {
        threadsList: o.threadsList,
        workersList: o.redis ? o.workersList : [],
        repeat: o.repeat,
        warmup: WARMUP,
        redis: !!o.redis,
        ctags: ctags.ok ? ctags.version : null,
        astGrep: astGrep.ok ? astGrep.version : null,
        replayThreads: o.redis ? o.replayThreads : [],
        exclude: o.exclude,
        defaultExcludes: o.defaultExcludes,
        corpus: o.paths.length ? null : { files: o.files, mb: o.mb, seed: o.seed },
      },
      trees: reports,
      notes,
    };
  } finally {
    if (!o.workDir) rmSync(work, { recursive: true, force: true });
  }
}

function mkdirP(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return realpathSync(dir);
}

/** One warm-up, then `repeat` timed runs. `label` feeds the progress line. */
async function repeated<T>(o: BenchOptions, label: string, once: (i: number) => Promise<T>, ms: (r: T) => number): Promise<T[]> {
  const out: T[] = [];
  const total = WARMUP + o.repeat;
  for (let i = 0; i < total; i++) {
    const r = await once(i);
    const warm = i < WARMUP;
    o.log(`bench: ${label} ${warm ? 'warm-up' : `run ${i - WARMUP + 1}/${o.repeat}`}: ${(ms(r) / 1000).toFixed(2)} s`);
    if (!warm) out.push(r);
  }
  return out;
}

interface Prepared {
  opts: IndexOptions;
  disc: Discovery;
  refs: FileRef[];
  requests: JobRequest[];
  mtimes: Map<string, number>;
}

/** discover + hash + plan, exactly as a full run does them (untimed). */
async function prepare(root: string, exclude: string[], defaultExcludes: boolean, out: string): Promise<Prepared> {
  const opts = buildOptions(root, { exclude, defaultExcludes, out });
  const disc = await discover(discoverOptions(opts));
  const hashed = await hashFiles(opts.root, disc.files);
  const batches = plan(hashed.refs, { targetBytes: opts.batchBytes, maxFiles: opts.batchFiles });
  const runId = sha1(['bench', opts.root, ...batches.map((b) => b.id)].join('\n')).slice(0, 16);
  const requests = batches.map((b) => jobRequest(opts, runId, b));
  return { opts, disc, refs: hashed.refs, requests, mtimes: new Map(disc.files.map((f) => [f.path, f.mtimeMs])) };
}

/** Runs every request on `transport` with the pipeline's own dispatcher; `apply` sees each result. */
async function dispatchAll(p: Prepared, transport: LocalTransport, apply: (r: BatchResult) => void): Promise<void> {
  const runId = p.requests[0]?.runId ?? 'bench';
  await dispatch(p.requests, {
    transport,
    signal: new AbortController().signal,
    emit: () => {},
    priority: 'normal',
    apply,
    applyFileError: () => {},
    toRequest: (b) => jobRequest(p.opts, runId, b),
  });
}

async function benchTree(o: BenchOptions, t: { name: string; root: string; generated: CorpusStats | null }, dir: string, ctags: string | null): Promise<TreeReport> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const loadStart = round(loadavg()[0]);
  const notes: string[] = [];
  const p = await prepare(t.root, o.exclude, o.defaultExcludes, join(dir, 'prepare.db'));
  if (p.refs.length === 0) {
    throw new UsageError(`no indexable files in ${t.root} (${p.disc.source === 'git' ? 'as git lists them' : 'after ignore rules and excludes'})`);
  }
  const bytes = p.refs.reduce((n, f) => n + f.size, 0);
  const byLanguage: Record<string, number> = {};
  for (const f of p.refs) byLanguage[f.language] = (byLanguage[f.language] ?? 0) + 1;
  o.log(`bench: ${t.name}: ${p.refs.length} files, ${(bytes / 1e6).toFixed(1)} MB, ${p.requests.length} batches (${p.disc.source} discovery, ${p.disc.skipped.length} skipped) at ${t.root}`);

  // 1. The parser's ceiling: warm pool, parse without extraction or storage; then parse + extract on the same kind
  // of pool, results dropped: what extraction costs over parsing, merge left out.
  const parseOnly = await warmPool(o, t.name, p, bytes, 'parse-only', true);
  const parseExtract = await warmPool(o, t.name, p, bytes, 'parse + extract', false);

  // 2. Full index, one fresh process per run.
  const exclude = [...o.exclude.flatMap((g) => ['--exclude', g]), ...(o.defaultExcludes ? [] : ['--no-default-excludes'])];
  const local: TreeReport['local'] = [];
  for (const threads of o.threadsList) {
    const out = join(dir, `index-t${threads}.db`);
    const runs = await repeated(o, `${t.name}: full index, ${threads} thread(s)`, () => runIndexChild([t.root, '--out', out, '--full', '--threads', String(threads), ...exclude]), (r) => r.wallMs);
    local.push({ threads, ...indexConfig(runs, out, notes, `full index, ${threads} thread(s)`) });
  }

  // 3. Cluster: K worker processes of one thread each, started before timing.
  let cluster: ClusterConfig[] | null = null;
  if (o.redis) {
    cluster = [];
    for (const workers of o.workersList) cluster.push(await benchCluster(o, t, dir, workers, exclude, notes));
  }

  // 4. Incremental re-runs on a copy.
  const incremental = await benchIncremental(o, t.name, p, dir, exclude, notes);

  // 5. ctags and ast-grep on the same tree.
  let ctagsReport: CtagsReport | { skipped: string };
  if (ctags) ctagsReport = await benchCtags(o, t, dir);
  else ctagsReport = { skipped: o.ctags ? 'universal-ctags not installed' : '--no-ctags' };
  const astGrep = o.astGrep ? await benchAstGrep(o, t, p, dir) : { skipped: '--no-ast-grep' };

  // 6. The store's merge alone, the per-batch costs of the cluster path, and (with Redis) the fan-in replay.
  const { merge, batches } = await benchMerge(o, t.name, p, dir);
  // A cluster worker thread also compresses the result it stores.
  const clusterWorkerMs = merge.workerMsPerBatch + merge.encodeMsPerResult;
  let replay: ReplayReport | null = null;
  if (o.redis) {
    o.log(`bench: ${t.name}: fan-in replay, worker ${round(clusterWorkerMs, 1)} ms a batch, ${o.replayThreads.join(',')} simulated thread(s)`);
    replay = await replayFanIn({ redis: o.redis, root: t.root, dir: join(dir, 'replay'), batches, mtimes: p.mtimes, workerMs: clusterWorkerMs, ks: o.replayThreads, log: o.log });
  }
  const model = scaleModel(p, bytes, merge, clusterWorkerMs, replay, cluster);

  const base = { parseOnly, parseExtract, local, cluster, incremental, ctags: ctagsReport, astGrep };
  const ratios = computeRatios(base, availableParallelism());
  if (incremental.noChange.discovery !== p.disc.source) notes.push(`the incremental copy is listed by ${incremental.noChange.discovery}, the tree by ${p.disc.source}`);
  if (o.exclude.length) notes.push(`excluded: ${o.exclude.join(' ')}`);
  if (!o.defaultExcludes) notes.push('default excludes off: node_modules, vendor, build output ... indexed too');
  return {
    name: t.name,
    root: t.root,
    generated: t.generated,
    corpus: { files: p.refs.length, bytes, skipped: p.disc.skipped.length, batches: p.requests.length, byLanguage, discovery: p.disc.source },
    ...base,
    merge,
    replay,
    model,
    ratios,
    targets: computeTargets(ratios, model),
    load: { start: loadStart, end: round(loadavg()[0]) },
    notes,
  };
}

/**
 * Medians of a configuration's runs. The counts are those of the last run (the index file left behind); unless
 * `varies` (the one-change re-runs add a function each time), every run must have built the same index, and a
 * difference is reported in `notes` rather than hidden.
 */
function cpuStat(runs: { cpuMs: number | null }[]): Stat | null {
  return runs.every((r) => r.cpuMs !== null) ? stat(runs.map((r) => r.cpuMs!)) : null;
}

function indexConfig(runs: { wallMs: number; cpuMs: number | null; summary: RunSummary }[], index: string, notes: string[], label: string, varies = false): IndexConfig {
  const last = runs[runs.length - 1].summary;
  const wallMs = stat(runs.map((r) => round(r.wallMs, 1)));
  const med = (f: (s: RunSummary) => number) => stat(runs.map((r) => f(r.summary))).median;
  const secs = wallMs.median / 1000;
  for (const r of runs) {
    const s = r.summary;
    if (!varies && (s.index.files !== last.index.files || s.index.symbols !== last.index.symbols || s.index.refs !== last.index.refs)) {
      notes.push(`${label}: runs built different indexes (${s.index.files}/${s.index.symbols}/${s.index.refs} vs ${last.index.files}/${last.index.symbols}/${last.index.refs} files/symbols/refs)`);
      break;
    }
  }
  return {
    wallMs,
    totalMs: stat(runs.map((r) => r.summary.timings.totalMs)),
    cpuMs: cpuStat(runs),
    phases: {
      discoverMs: med((s) => s.timings.discoverMs),
      hashMs: med((s) => s.timings.hashMs),
      planMs: med((s) => s.timings.planMs),
      indexMs: med((s) => s.timings.indexMs),
      commitMs: med((s) => s.timings.commitMs),
      totalMs: med((s) => s.timings.totalMs),
      otherMs: stat(runs.map((r) => Math.max(0, round(r.wallMs - r.summary.timings.totalMs, 1)))).median,
    },
    peakRssMb: stat(runs.map((r) => r.summary.peakRssMb)),
    filesParsed: last.run.filesParsed,
    bytesParsed: last.run.bytesParsed,
    batches: last.run.batches,
    files: last.index.files,
    symbols: last.index.symbols,
    refs: last.index.refs,
    fileErrors: last.index.fileErrors,
    filesPerSec: round(last.run.filesParsed / secs),
    mbPerSec: round(last.run.bytesParsed / 1e6 / secs, 3),
    symbolsPerSec: round(last.index.symbols / secs),
    discovery: last.discovery,
    index,
  };
}

// ------------------------------------------------------------------------------------------------- cluster

async function redisInfo(redis: Redis): Promise<{ calls: Record<string, number>; inBytes: number; outBytes: number }> {
  const [cmd, stats] = await Promise.all([redis.info('commandstats'), redis.info('stats')]);
  const calls: Record<string, number> = {};
  for (const m of cmd.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]] = Number(m[2]);
  const num = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return { calls, inBytes: num('total_net_input_bytes'), outBytes: num('total_net_output_bytes') };
}

async function benchCluster(o: BenchOptions, t: { name: string; root: string }, dir: string, workers: number, exclude: string[], notes: string[]): Promise<ClusterConfig> {
  const ns = `bench-${randomBytes(4).toString('hex')}`;
  const keys = new Keys(ns);
  const redis = createRedis({ url: o.redis! });
  redis.on('error', () => {});
  const children: { name: string; proc: ChildProcess; stderr: string[] }[] = [];
  const label = `${t.name}: cluster, ${workers} worker(s)`;
  try {
    for (let i = 0; i < workers; i++) {
      const name = `bench-${process.pid}-${i}`;
      const proc = spawn(process.execPath, [BIN, 'worker', '--redis', o.redis!, '--namespace', ns, '--threads', '1', '--root', t.root, '--name', name, '--log-level', 'warn'], {
        env: childEnv(),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const stderr: string[] = [];
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
      children.push({ name, proc, stderr });
    }
    // Started before timing: wait for every heartbeat.
    const deadline = Date.now() + 60_000;
    while ((await redis.zcard(keys.workers)) < workers) {
      const dead = children.find((c) => c.proc.exitCode !== null);
      if (dead) throw new Error(`worker ${dead.name} exited (${dead.proc.exitCode}): ${dead.stderr.join('').trim()}`);
      if (Date.now() > deadline) throw new Error(`${workers} worker(s) did not report a heartbeat within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const heartbeat = new Map<string, number>();
    const sampleHeartbeats = async () => {
      for (const c of children) {
        const v = Number(await redis.hget(keys.worker(c.name), 'rssMb'));
        if (Number.isFinite(v) && v > 0) heartbeat.set(c.name, Math.max(heartbeat.get(c.name) ?? 0, v));
      }
    };
    const out = join(dir, `cluster-w${workers}.db`);
    const traffic: { calls: Record<string, number>; inBytes: number; outBytes: number; batches: number }[] = [];
    const runs = await repeated(o, label, async () => {
      const before = await redisInfo(redis);
      const sampler = setInterval(() => void sampleHeartbeats().catch(() => {}), 1000);
      try {
        // --no-cache: every run must parse; the shared result cache would answer repeats without a worker.
        const r = await runIndexChild([t.root, '--cluster', '--redis', o.redis!, '--namespace', ns, '--out', out, '--full', '--no-cache', ...exclude]);
        const after = await redisInfo(redis);
        const calls: Record<string, number> = {};
        for (const [k, v] of Object.entries(after.calls)) if (v - (before.calls[k] ?? 0) > 0) calls[k] = v - (before.calls[k] ?? 0);
        traffic.push({ calls, inBytes: after.inBytes - before.inBytes, outBytes: after.outBytes - before.outBytes, batches: r.summary.run.batches });
        return r;
      } finally {
        clearInterval(sampler);
        await sampleHeartbeats().catch(() => {});
      }
    }, (r) => r.wallMs);
    const timed = traffic.slice(WARMUP);
    const commands = new Set(timed.flatMap((x) => Object.keys(x.calls)));
    const commandsPerRun = Object.fromEntries(
      [...commands].map((k) => [k, stat(timed.map((x) => x.calls[k] ?? 0)).median] as const).sort((a, b) => b[1] - a[1]),
    );
    const batches = timed[0]?.batches || 1;
    const callsPerRun = stat(timed.map((x) => Object.values(x.calls).reduce((n, v) => n + v, 0))).median;
    const redisTraffic: RedisTraffic = {
      commandsPerRun,
      callsPerRun,
      callsPerBatch: round(callsPerRun / batches, 1),
      bytesInPerBatch: Math.round(stat(timed.map((x) => x.inBytes)).median / batches),
      bytesOutPerBatch: Math.round(stat(timed.map((x) => x.outBytes)).median / batches),
    };
    const workerMemory: WorkerMemory[] = children.map((c) => ({ name: c.name, pid: c.proc.pid ?? 0, vmHwmMb: c.proc.pid ? vmHwmMb(c.proc.pid) : null, heartbeatRssMb: heartbeat.get(c.name) ?? null }));
    return { workers, threadsTotal: workers, ...indexConfig(runs, out, notes, label), workerMemory, redis: redisTraffic };
  } finally {
    await Promise.all(children.map((c) => stopChild(c.proc)));
    // Leave nothing behind in a shared Redis: BullMQ's queue keys, events stream, run records.
    await dropNamespace(redis, ns).catch(() => {});
    redis.disconnect();
  }
}

// --------------------------------------------------------------------------------------------- incremental

const ADDITIONS: Record<Language, (i: number) => string> = {
  python: (i) => `\n\ndef bench_added_${i}(value):\n    """Added by mcp-index bench."""\n    return value + ${i}\n`,
  javascript: (i) => `\nfunction benchAdded${i}(value) {\n  return value + ${i};\n}\n`,
  typescript: (i) => `\nfunction benchAdded${i}(value: number): number {\n  return value + ${i};\n}\n`,
  tsx: (i) => `\nfunction benchAdded${i}(value: number): number {\n  return value + ${i};\n}\n`,
  rust: (i) => `\npub fn bench_added_${i}(value: u64) -> u64 {\n    value + ${i}\n}\n`,
  go: (i) => `\nfunc benchAdded${i}(value int) int {\n\treturn value + ${i}\n}\n`,
  java: (i) => `\nclass BenchAdded${i} {\n  static int value(int v) { return v + ${i}; }\n}\n`,
  c: (i) => `\nint bench_added_${i}(int value) {\n  return value + ${i};\n}\n`,
  cpp: (i) => `\nint bench_added_${i}(int value) {\n  return value + ${i};\n}\n`,
  csharp: (i) => `\nclass BenchAdded${i} {\n  static int Value(int v) { return v + ${i}; }\n}\n`,
  ruby: (i) => `\n\ndef bench_added_${i}(value)\n  value + ${i}\nend\n`,
  php: (i) => `\nfunction bench_added_${i}($value) {\n  return $value + ${i};\n}\n`,
};

async function benchIncremental(o: BenchOptions, name: string, p: Prepared, dir: string, exclude: string[], notes: string[]): Promise<IncrementalReport> {
  const threads = Math.max(...o.threadsList);
  // The copy holds exactly the files discovery listed (and the ones it recorded as skipped): its own discovery
  // then finds the same set, whatever else the tree holds.
  const copy = join(dir, 'copy');
  for (const f of [...p.disc.files, ...p.disc.skipped]) {
    const dest = join(copy, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(join(p.opts.root, f.path), dest);
  }
  if (existsSync(join(p.opts.root, 'mcp-index.config.json'))) cpSync(join(p.opts.root, 'mcp-index.config.json'), join(copy, 'mcp-index.config.json'));
  const out = join(dir, 'incremental.db');
  const args = [copy, '--out', out, '--threads', String(threads), ...exclude];
  o.log(`bench: ${name}: incremental: initial index of the copy`);
  await runIndexChild([...args, '--full']);

  const noChange = await repeated(o, `${name}: re-run, no change`, () => runIndexChild(args), (r) => r.wallMs);
  const parsedNoChange = noChange.find((r) => r.summary.run.filesParsed !== 0);
  if (parsedNoChange) notes.push(`a no-change re-run parsed ${parsedNoChange.summary.run.filesParsed} file(s)`);
  // The index as the no-change runs left it (the one-change runs modify it next).
  const unchangedIndex = join(dir, 'incremental-nochange.db');
  cpSync(out, unchangedIndex);

  // The median-size file: a function appended to it before every run.
  const candidates = [...p.refs].sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : 1));
  const target = candidates[Math.floor(candidates.length / 2)];
  const abs = join(copy, target.path);
  const oneChange = await repeated(o, `${name}: re-run, one file changed`, async (i) => {
    appendFileSync(abs, ADDITIONS[target.language](i));
    return runIndexChild(args);
  }, (r) => r.wallMs);
  const parsedOneChange = oneChange.find((r) => r.summary.run.filesParsed !== 1);
  if (parsedOneChange) notes.push(`a one-change re-run parsed ${parsedOneChange.summary.run.filesParsed} file(s)`);
  return {
    threads,
    copy,
    noChange: indexConfig(noChange, unchangedIndex, notes, 're-run, no change'),
    oneChange: { ...indexConfig(oneChange, out, notes, 're-run, one change', true), changedFile: target.path },
  };
}

// --------------------------------------------------------------------------------------------------- ctags

/** `**\/node_modules/**` -> node_modules, `**\/*.min.js` -> *.min.js: ctags matches excludes on names and paths. */
export function ctagsExcludes(globs: readonly string[]): string[] {
  const out = new Set<string>(['.git']);
  for (const g of globs) {
    const m = /^(?:\*\*\/)?([^*/]+)\/\*\*$/.exec(g);
    if (m) out.add(m[1]);
    else out.add(g.replace(/^\*\*\//, ''));
  }
  return [...out].map((x) => `--exclude=${x}`);
}

/** ctags' name of each language: ctags reads the same languages as the index. */
const CTAGS_LANGUAGE: Readonly<Record<Language, string>> = {
  python: 'Python',
  javascript: 'JavaScript',
  typescript: 'TypeScript',
  tsx: 'TypeScript',
  rust: 'Rust',
  go: 'Go',
  java: 'Java',
  c: 'C',
  cpp: 'C++',
  csharp: 'C#',
  ruby: 'Ruby',
  php: 'PHP',
};

async function benchCtags(o: BenchOptions, t: { name: string; root: string }, dir: string): Promise<CtagsReport> {
  const tags = join(dir, 'tags');
  const command = ['ctags', '-R', '-f', tags, `--languages=${[...new Set(Object.values(CTAGS_LANGUAGE))].join(',')}`, ...ctagsExcludes([...(o.defaultExcludes ? DEFAULT_EXCLUDES : []), ...o.exclude]), t.root];
  const runs = await repeated(o, `${t.name}: ctags -R`, async () => {
    rmSync(tags, { force: true });
    const r = await runProcess(command[0], command.slice(1));
    if (r.code !== 0) throw new Error(`ctags exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 500)}`);
    return r;
  }, (r) => r.wallMs);
  const count = readFileSync(tags, 'utf8').split('\n').filter((l) => l && !l.startsWith('!_')).length;
  return { wallMs: stat(runs.map((r) => round(r.wallMs, 1))), cpuMs: cpuStat(runs), tags: count, command };
}

/**
 * ast-grep over exactly the files discovery listed (given by path, so ignore rules cannot differ), at each thread
 * count: `ast-grep scan --inline-rules` with one function-definition rule per language, JSON lines to a file.
 */
async function benchAstGrep(o: BenchOptions, t: { name: string; root: string }, p: Prepared, dir: string): Promise<AstGrepReport | { skipped: string }> {
  const bin = astGrepBinary();
  if (!bin.ok) return { skipped: bin.reason };
  const rules = astGrepRules(p.refs.map((f) => f.language));
  const paths = p.refs.map((f) => f.path).sort();
  const out = join(dir, 'ast-grep.jsonl');
  const runs: AstGrepReport['runs'] = [];
  let command: string[] = [];
  for (const threads of o.threadsList) {
    const args = ['scan', '--inline-rules', rules, '--json=stream', '-j', String(threads), ...paths];
    command = [bin.bin, ...args.slice(0, 6), `<${paths.length} files>`];
    const timed = await repeated(o, `${t.name}: ast-grep, ${threads} thread(s)`, async () => {
      const r = await runProcess(bin.bin, args, { cwd: t.root, stdoutFile: out });
      if (r.code !== 0) throw new Error(`ast-grep exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 500)}`);
      return r;
    }, (r) => r.wallMs);
    const matches = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    runs.push({ threads, wallMs: stat(timed.map((r) => round(r.wallMs, 1))), cpuMs: cpuStat(timed), matches });
  }
  rmSync(out, { force: true });
  return { version: bin.version, command, runs };
}

/** Each thread count on a warm local pool: dispatch every batch, drop the results (`parseOnly`: no extraction). */
async function warmPool(o: BenchOptions, name: string, p: Prepared, bytes: number, label: string, parseOnly: boolean): Promise<ParseOnlyConfig[]> {
  const out: ParseOnlyConfig[] = [];
  for (const threads of o.threadsList) {
    const transport = new LocalTransport({ threads, parseOnly });
    try {
      const runs = await repeated(o, `${name}: ${label}, ${threads} thread(s)`, async () => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await dispatchAll(p, transport, () => {});
        const c = process.cpuUsage(c0);
        return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
      }, (r) => r.ms);
      const wallMs = stat(runs.map((r) => round(r.ms, 1)));
      out.push({
        threads,
        wallMs,
        cpuMs: stat(runs.map((r) => Math.round(r.cpuMs))),
        files: p.refs.length,
        bytes,
        batches: p.requests.length,
        filesPerSec: round(p.refs.length / (wallMs.median / 1000)),
        mbPerSec: round(bytes / 1e6 / (wallMs.median / 1000), 3),
      });
    } finally {
      await transport.close();
    }
  }
  return out;
}

// --------------------------------------------------------------------------------------------------- merge

async function benchMerge(o: BenchOptions, name: string, p: Prepared, dir: string): Promise<{ merge: MergeRate; batches: ReplayBatch[] }> {
  o.log(`bench: ${name}: merge rate: extracting every batch in-process (1 thread)`);
  const batches: ReplayBatch[] = [];
  const byId = new Map(p.requests.map((r) => [r.batchId, r]));
  // One thread: its per-batch durations are what a worker thread with a core of its own spends (the model's w).
  const transport = new LocalTransport({ threads: 1 });
  try {
    await dispatchAll(p, transport, (r) => {
      const [path] = r.fragments;
      const { fragments: _f, delivery: _d, ...header } = r;
      batches.push({ request: byId.get(r.batchId)!, header, fragment: readFileSync(path) });
      discardFragment(path);
    });
  } finally {
    await transport.close();
  }
  let encodeMs = 0;
  let decodeMs = 0;
  let encoded = 0;
  let raw = 0;
  for (const b of batches) {
    let t0 = performance.now();
    const buf = encodeBatch(b.header, b.fragment);
    encodeMs += performance.now() - t0;
    t0 = performance.now();
    const { body, fragmentBytes, crc } = readBatch(buf);
    decompressFragment(body, fragmentBytes, crc);
    decodeMs += performance.now() - t0;
    encoded += buf.length;
    raw += b.fragment.length;
  }

  const path = join(dir, 'merge.db');
  const runs = await repeated(o, `${name}: merge (one SQLite writer, this thread)`, async () => {
    rmSync(path, { force: true });
    const store = IndexStore.open(path, { extractorVersion: EXTRACTOR_VERSION, full: true });
    await store.begin({ mtimes: p.mtimes });
    const files = batches.map((b) => spoolFragment(b.header.batchId, b.fragment));
    const t1 = performance.now();
    for (const [i, b] of batches.entries()) await store.apply(b.header.batchId, [files[i]]);
    const t2 = performance.now();
    await store.commit({ root: p.opts.root, summary: {}, contentIndex: false });
    return { applyMs: t2 - t1, commitMs: performance.now() - t2, ms: performance.now() - t1 };
  }, (r) => r.ms);
  const applyMs = stat(runs.map((r) => r.applyMs)).median;
  const commitMs = stat(runs.map((r) => r.commitMs)).median;
  const sum = (f: (b: ReplayBatch) => number) => batches.reduce((n, b) => n + f(b), 0);
  const files = sum((b) => b.header.counts.files);
  const symbols = sum((b) => b.header.counts.symbols);
  const refs = sum((b) => b.header.counts.refs);
  const rows = files + symbols + refs;
  const n = Math.max(batches.length, 1);
  return {
    batches,
    merge: {
      results: batches.length,
      files,
      symbols,
      refs,
      rows,
      applyMs: round(applyMs, 1),
      commitMs: round(commitMs, 1),
      resultsPerSec: round(batches.length / (applyMs / 1000), 1),
      rowsPerSec: Math.round(rows / (applyMs / 1000)),
      workerMsPerBatch: round(sum((b) => b.header.durationMs) / n, 2),
      fragmentBytesPerResult: Math.round(raw / n),
      encodedBytesPerResult: Math.round(encoded / n),
      encodeMsPerResult: round(encodeMs / n, 3),
      decodeMsPerResult: round(decodeMs / n, 3),
    },
  };
}

/**
 * Top-level Redis commands per batch, counted from the code (coordinator.ts, worker.ts, BullMQ 5): coordinator: at
 * submit one MULTI (MULTI, EXISTS job, GETRANGE result, EXEC) and the add (EVALSHA); on completion the result GET;
 * at the ack one DEL. Worker: moveToActive and moveToFinished (EVALSHA, the latter also fetches the next job) and the
 * result SET. Only a worker without a matching checkout (the bench's have one) asks for blobs: MGET, RPUSH, BLPOP,
 * MGET; the coordinator's BLPOP, one SET per file, LPUSH and EXPIRE answer it.
 */
export function paperCallsPerBatch(filesPerBatch: number, blobsFetched = false): number {
  const coordinator = 4 + 1 + 1 + 1 + (blobsFetched ? filesPerBatch + 3 : 0);
  const worker = 2 + 1 + (blobsFetched ? 4 : 0);
  return coordinator + worker;
}

function scaleModel(p: Prepared, bytes: number, m: MergeRate, w: number, replay: ReplayReport | null, cluster: ClusterConfig[] | null): ScaleModel | null {
  const B = p.requests.length;
  if (B === 0) return null;
  const filesPerBatch = p.refs.length / B;
  const bytesPerBatch = bytes / B;
  const paperC = m.applyMs / Math.max(m.results, 1);
  const jobBytes = Buffer.byteLength(JSON.stringify(p.requests[0])) * (filesPerBatch / Math.max(p.requests[0].files.length, 1));
  // The job in and out, the result in and out.
  const paperBytes = 2 * jobBytes + 2 * m.encodedBytesPerResult;
  const measuredCalls = cluster?.length ? stat(cluster.map((x) => x.redis.callsPerBatch)).median : null;
  const measuredBytes = cluster?.length ? stat(cluster.map((x) => x.redis.bytesInPerBatch + x.redis.bytesOutPerBatch)).median : null;
  const paperCalls = paperCallsPerBatch(filesPerBatch);
  const calls = measuredCalls ?? paperCalls;
  const netBytes = measuredBytes ?? paperBytes;
  const paperLimit = w / paperC;
  const coordinatorLimit = replay ? replay.coordinatorLimitThreads : paperLimit;
  // The coordinator's time per batch, as the replay measured it at its best (for the checks below).
  const c = replay ? 1000 / replay.maxBatchesPerSec : paperC;
  const redisLimit = (ASSUMED_REDIS_CALLS_PER_SEC * (w / 1000)) / calls;
  const networkLimit = (ASSUMED_NETWORK_BYTES_PER_SEC * (w / 1000)) / netBytes;
  const min = Math.min(coordinatorLimit, redisLimit, networkLimit);
  const cores = availableParallelism();
  const checks = (cluster ?? []).map((k) => {
    // The batch loop is bound by the slowest of: the workers, the coordinator, and (on one host) the cores all of
    // them share.
    const predicted = Math.max((B * w) / k.workers, B * c, (B * (w + c)) / Math.min(cores, k.workers + 1));
    return { workers: k.workers, predictedIndexMs: Math.round(predicted), measuredIndexMs: Math.round(k.phases.indexMs), ratio: round(k.phases.indexMs / predicted, 3) };
  });
  return {
    batches: B,
    filesPerBatch: round(filesPerBatch, 1),
    bytesPerBatch: Math.round(bytesPerBatch),
    rowsPerBatch: round(m.rows / Math.max(m.results, 1), 1),
    workerMsPerBatch: round(w, 2),
    coordinatorLimitThreads: round(coordinatorLimit, 1),
    coordinatorLimitSource: replay ? 'replay' : 'paper',
    paperCoordinatorMsPerBatch: round(paperC, 3),
    paperCoordinatorLimitThreads: round(paperLimit, 1),
    paperCallsPerBatch: round(paperCalls, 1),
    measuredCallsPerBatch: measuredCalls,
    paperBytesPerBatch: Math.round(paperBytes),
    measuredBytesPerBatch: measuredBytes,
    assumed: { redisCallsPerSec: ASSUMED_REDIS_CALLS_PER_SEC, networkBytesPerSec: ASSUMED_NETWORK_BYTES_PER_SEC },
    redisLimitThreads: round(redisLimit, 1),
    networkLimitThreads: round(networkLimit, 1),
    saturatesFirst: min === coordinatorLimit ? 'coordinator' : min === redisLimit ? 'redis commands' : 'network',
    checks,
  };
}
