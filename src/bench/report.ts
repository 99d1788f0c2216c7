/**
 * The shape of a `mcp-index bench` report (what `--json` prints), and the arithmetic on it: medians, ratios and
 * targets are all computed here from the recorded runs, so the table, the HTML page and the JSON always agree.
 */
import type { CorpusStats } from './corpus.js';
import type { ReplayReport } from './replay.js';

/** Repeated measurements of one quantity; `median` is what every ratio uses. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  /** Every timed run, in order (the warm-up is not included). */
  runs: number[];
}

export function stat(runs: readonly number[]): Stat {
  if (runs.length === 0) throw new Error('stat of no runs');
  const s = [...runs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median: round(median, 3), min: s[0], max: s[s.length - 1], runs: [...runs] };
}

export const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** a / b, or null when either side is missing (a configuration that was not run). */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || b === 0) return null;
  return round(a / b, 4);
}

/** Medians of the phases the indexer reports itself, plus `otherMs`: wall time outside runIndex (Node start,
 * module load, thread start-up, exit). */
export interface Phases {
  discoverMs: number;
  hashMs: number;
  planMs: number;
  indexMs: number;
  commitMs: number;
  totalMs: number;
  otherMs: number;
}

export const PHASE_KEYS = ['otherMs', 'discoverMs', 'hashMs', 'planMs', 'indexMs', 'commitMs'] as const;

/** One configuration of `mcp-index TREE ...` run in fresh child processes. */
export interface IndexConfig {
  /** Process wall time: spawn to exit, as a user would see it. */
  wallMs: Stat;
  /** RunSummary.timings.totalMs: the pipeline alone. */
  totalMs: Stat;
  /** CPU time of the process, all threads (user + system); null where it cannot be read. Unlike wall time it
   * hardly moves when other work shares the machine. */
  cpuMs: Stat | null;
  phases: Phases;
  /** The coordinator's peak RSS (RunSummary.peakRssMb: the whole process, pool threads included). */
  peakRssMb: Stat;
  filesParsed: number;
  bytesParsed: number;
  batches: number;
  /** The index after the run (RunSummary.index). */
  files: number;
  symbols: number;
  refs: number;
  fileErrors: number;
  /** Throughput from the median wall time: parsed files, parsed bytes, and the index's symbols per second. */
  filesPerSec: number;
  mbPerSec: number;
  symbolsPerSec: number;
  discovery: 'git' | 'walk';
  /** The index file the runs wrote (kept only with --work-dir). */
  index: string;
}

export interface ParseOnlyConfig {
  threads: number;
  wallMs: Stat;
  /** CPU time of the bench process while dispatching (the pool threads, plus an idle main thread). */
  cpuMs: Stat;
  files: number;
  bytes: number;
  batches: number;
  filesPerSec: number;
  mbPerSec: number;
}

export interface WorkerMemory {
  name: string;
  pid: number;
  /** /proc/PID/status VmHWM at the end of the configuration (Linux only). */
  vmHwmMb: number | null;
  /** Largest `rssMb` the worker reported in its Redis heartbeat while the configuration ran. */
  heartbeatRssMb: number | null;
}

export interface RedisTraffic {
  /** Deltas of INFO commandstats over the timed runs, per run (median over runs), by command. */
  commandsPerRun: Record<string, number>;
  callsPerRun: number;
  callsPerBatch: number;
  /** INFO stats total_net_input_bytes / total_net_output_bytes deltas, per batch. */
  bytesInPerBatch: number;
  bytesOutPerBatch: number;
}

export interface ClusterConfig extends IndexConfig {
  workers: number;
  /** Total worker threads (1 per worker). */
  threadsTotal: number;
  workerMemory: WorkerMemory[];
  redis: RedisTraffic;
}

export interface IncrementalReport {
  threads: number;
  /** Where the copy lives (kept only with --work-dir). */
  copy: string;
  noChange: IndexConfig;
  oneChange: IndexConfig & { changedFile: string };
}

export interface CtagsReport {
  wallMs: Stat;
  cpuMs: Stat | null;
  /** Tag lines written (pseudo-tags excluded). */
  tags: number;
  command: string[];
}

/** ast-grep: native tree-sitter parse plus one match per language over the same files, at each thread count. */
export interface AstGrepReport {
  version: string;
  /** The command of the last thread count, with the file list shortened. */
  command: string[];
  runs: { threads: number; wallMs: Stat; cpuMs: Stat | null; matches: number }[];
}

/** The store's merge alone, on this tree's real batch fragments, and the per-batch costs of the cluster path. */
export interface MergeRate {
  results: number;
  files: number;
  symbols: number;
  refs: number;
  /** files + symbols + refs: the rows the merge copies (search rows are added apart: deferred work). */
  rows: number;
  /** Every fragment merged, one transaction each, on the calling thread. */
  applyMs: number;
  /** At commit: the deferred search rows, secondary indexes, rename. */
  commitMs: number;
  resultsPerSec: number;
  rowsPerSec: number;
  /** Worker side, per batch: a pool thread's whole part (read, parse, extract, build the fragment), mean. */
  workerMsPerBatch: number;
  /** A fragment's size, and the result as it travels through Redis (compressed), with its encode and decode. */
  fragmentBytesPerResult: number;
  encodedBytesPerResult: number;
  encodeMsPerResult: number;
  decodeMsPerResult: number;
}

/** The model predicts the batch loop (the index phase); fixed costs (start, discover, hash, commit) are measured. */
export interface ModelCheck {
  workers: number;
  predictedIndexMs: number;
  /** The cluster run's own index phase (median). */
  measuredIndexMs: number;
  /** measured / predicted. */
  ratio: number;
}

/** Scaling out: the fan-in replay's measurement, and the paper model beside it (see docs/BENCHMARKS.md). */
export interface ScaleModel {
  batches: number;
  filesPerBatch: number;
  bytesPerBatch: number;
  rowsPerBatch: number;
  /** What one cluster worker thread spends on a batch (its whole part, and encoding the result). */
  workerMsPerBatch: number;
  /**
   * Worker threads one coordinator keeps busy: from the replay when it ran (its highest rate x the worker's time,
   * `source` 'replay'), else the paper model's (`source` 'paper').
   */
  coordinatorLimitThreads: number;
  coordinatorLimitSource: 'replay' | 'paper';
  /** The paper model: the merge alone (measured on the calling thread) against the worker's time. */
  paperCoordinatorMsPerBatch: number;
  paperCoordinatorLimitThreads: number;
  /** Top-level Redis commands per batch counted from the code (see docs), and the measured count. */
  paperCallsPerBatch: number;
  measuredCallsPerBatch: number | null;
  /** Bytes through Redis per batch for workers with a checkout: job + result, in and out. */
  paperBytesPerBatch: number;
  measuredBytesPerBatch: number | null;
  /** Assumed capacity of one Redis instance and one network link (see docs). */
  assumed: { redisCallsPerSec: number; networkBytesPerSec: number };
  redisLimitThreads: number;
  networkLimitThreads: number;
  saturatesFirst: 'coordinator' | 'redis commands' | 'network';
  checks: ModelCheck[];
}

export interface Ratios {
  /** Thread count the speedups are relative to (1 when measured). */
  base: number;
  /** median wall(base) / median wall(T). */
  speedup: { threads: number; value: number | null }[];
  /** speedup / (T / base). */
  efficiency: { threads: number; value: number | null }[];
  /** End-to-end throughput / parse-only throughput at the same thread count = parse-only median / wall median. */
  endToEndOverParseOnly: { threads: number; value: number | null }[];
  /** What extraction costs: parse + extract median wall / parse-only median wall at the same thread count. */
  parseExtractOverParseOnly: { threads: number; value: number | null }[];
  /**
   * What the measurements themselves allow.
   * - `speedup`: cores x wall(base) / CPU(base), at most T / base. No run is shorter than its CPU time spread over
   *   every core, and more threads spend more CPU, not less.
   * - `endToEndOverParseOnly`: parse-only / (parse-only + the run's wall time outside its index phase), the ratio
   *   if extraction and merge were free.
   */
  ceilings: { speedup: { threads: number; value: number | null }[]; endToEndOverParseOnly: { threads: number; value: number | null }[] };
  /** Re-run median wall / ctags median wall. */
  noChangeOverCtags: number | null;
  oneChangeOverCtags: number | null;
  /** Cluster median wall / local median wall at the same total threads. */
  clusterOverLocal: { workers: number; value: number | null }[];
  /** Full index median wall / ast-grep median wall at the same thread count, and / `ctags -R` median wall. */
  fullIndexOverAstGrep: { threads: number; value: number | null }[];
  fullIndexOverCtags: { threads: number; value: number | null }[];
}

export interface Target {
  name: string;
  op: '>=' | '<=';
  target: number;
  value: number | null;
  met: boolean | null;
}

export interface TreeReport {
  name: string;
  root: string;
  /** The generated corpus, when this tree is one. */
  generated: CorpusStats | null;
  corpus: { files: number; bytes: number; skipped: number; batches: number; byLanguage: Record<string, number>; discovery: 'git' | 'walk' };
  parseOnly: ParseOnlyConfig[];
  /** Same warm pool, parse and extract, results dropped (no merge). */
  parseExtract: ParseOnlyConfig[];
  local: (IndexConfig & { threads: number })[];
  /** null: no --redis. */
  cluster: ClusterConfig[] | null;
  incremental: IncrementalReport;
  ctags: CtagsReport | { skipped: string };
  astGrep: AstGrepReport | { skipped: string };
  merge: MergeRate;
  /** The fan-in replay (with --redis). */
  replay: ReplayReport | null;
  model: ScaleModel | null;
  ratios: Ratios;
  targets: Target[];
  /** 1-minute load average when this tree's measurements started and ended (other work on the machine skews them). */
  load: { start: number; end: number };
  notes: string[];
}

export interface BenchReport {
  version: 1;
  startedAt: string;
  finishedAt: string;
  machine: { cpuModel: string; cores: number; memMb: number; node: string; platform: string; loadBefore: number[]; loadAfter: number[] };
  settings: {
    threadsList: number[];
    workersList: number[];
    repeat: number;
    warmup: number;
    redis: boolean;
    ctags: string | null;
    astGrep: string | null;
    replayThreads: number[];
    exclude: string[];
    defaultExcludes: boolean;
    corpus: { files?: number; mb?: number; seed: number } | null;
  };
  trees: TreeReport[];
  notes: string[];
}

/** Every ratio, from the medians only. */
export function computeRatios(t: Pick<TreeReport, 'parseOnly' | 'parseExtract' | 'local' | 'cluster' | 'incremental' | 'ctags' | 'astGrep'>, cores: number): Ratios {
  const byThreads = new Map(t.local.map((c) => [c.threads, c]));
  const base = byThreads.has(1) ? 1 : Math.min(...t.local.map((c) => c.threads));
  const baseWall = byThreads.get(base)?.wallMs.median;
  const speedup = t.local.map((c) => ({ threads: c.threads, value: ratio(baseWall, c.wallMs.median) }));
  const efficiency = speedup.map((s) => ({ threads: s.threads, value: s.value == null ? null : round(s.value / (s.threads / base), 4) }));
  const endToEndOverParseOnly = t.local.map((c) => ({
    threads: c.threads,
    value: ratio(t.parseOnly.find((p) => p.threads === c.threads)?.wallMs.median, c.wallMs.median),
  }));
  const parseExtractOverParseOnly = t.parseExtract.map((e) => ({
    threads: e.threads,
    value: ratio(e.wallMs.median, t.parseOnly.find((p) => p.threads === e.threads)?.wallMs.median),
  }));
  const ctagsMs = 'wallMs' in t.ctags ? t.ctags.wallMs.median : null;
  const baseCpu = byThreads.get(base)?.cpuMs?.median;
  const parseOnlyMs = (threads: number) => t.parseOnly.find((p) => p.threads === threads)?.wallMs.median;
  const ceilings = {
    speedup: t.local.map((c) => {
      const v = baseWall == null ? null : ratio(cores * baseWall, baseCpu);
      return { threads: c.threads, value: v == null ? null : Math.min(v, c.threads / base) };
    }),
    endToEndOverParseOnly: t.local.map((c) => {
      const po = parseOnlyMs(c.threads);
      return { threads: c.threads, value: po == null ? null : ratio(po, po + c.wallMs.median - c.phases.indexMs) };
    }),
  };
  return {
    base,
    speedup,
    efficiency,
    endToEndOverParseOnly,
    parseExtractOverParseOnly,
    ceilings,
    noChangeOverCtags: ratio(t.incremental.noChange.wallMs.median, ctagsMs),
    oneChangeOverCtags: ratio(t.incremental.oneChange.wallMs.median, ctagsMs),
    clusterOverLocal: (t.cluster ?? []).map((c) => ({ workers: c.workers, value: ratio(c.wallMs.median, byThreads.get(c.threadsTotal)?.wallMs.median) })),
    fullIndexOverAstGrep: t.local.map((c) => ({
      threads: c.threads,
      value: ratio(c.wallMs.median, 'runs' in t.astGrep ? t.astGrep.runs.find((a) => a.threads === c.threads)?.wallMs.median : null),
    })),
    fullIndexOverCtags: t.local.map((c) => ({ threads: c.threads, value: ratio(c.wallMs.median, ctagsMs) })),
  };
}

/** Worker threads one coordinator must keep busy, and the bytes a batch may cost with a checkout (issue #13). */
export const COORDINATOR_TARGET_THREADS = 16;
/** Half of the 842 KB a batch cost before results became fragments and blobs went on demand. */
export const NETWORK_TARGET_BYTES = 421_000;

/** The targets the brief sets; reported, never asserted. */
export function computeTargets(r: Ratios, model: ScaleModel | null = null): Target[] {
  const t = (name: string, op: '>=' | '<=', target: number, value: number | null): Target => ({
    name,
    op,
    target,
    value,
    met: value == null ? null : op === '>=' ? value >= target : value <= target,
  });
  const out: Target[] = [];
  const s2 = r.speedup.find((s) => s.threads === 2);
  if (s2 && r.base === 1) out.push(t('2-thread speedup', '>=', 1.85, s2.value));
  for (const e of r.endToEndOverParseOnly) out.push(t(`end-to-end / parse-only @${e.threads}t`, '>=', 0.8, e.value));
  out.push(t('no-change re-run / ctags', '<=', 0.5, r.noChangeOverCtags));
  for (const c of r.clusterOverLocal) out.push(t(`cluster / local @${c.workers}w`, '<=', 1.2, c.value));
  if (model?.coordinatorLimitSource === 'replay') out.push(t('coordinator limit, worker threads (replay)', '>=', COORDINATOR_TARGET_THREADS, model.coordinatorLimitThreads));
  if (model?.measuredBytesPerBatch != null) out.push(t('Redis bytes per batch, workers with a checkout', '<=', NETWORK_TARGET_BYTES, model.measuredBytesPerBatch));
  return out;
}
