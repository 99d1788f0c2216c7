import { existsSync, rmSync } from 'node:fs';
import { discover, type DiscoverOptions, type SkippedFile } from '../discover/discover.js';
import type { IndexOptions } from '../config/options.js';
import { EXTRACTOR_VERSION } from '../extract/version.js';
import { IndexStore, type IndexStats, type PriorRow } from '../index-store/store.js';
import { damagedMarker, damagedProblem, integrityProblem, isCorruption } from '../index-store/reader.js';
import { hashFiles, sha1 } from '../plan/hash.js';
import { plan, type Batch } from '../plan/plan.js';
import type { FileRef, JobRequest } from '../protocol/types.js';
import { LANGUAGES, PROTOCOL_VERSION } from '../protocol/types.js';
import { type Transport } from '../transport/types.js';
import { dispatch, noCounters, type DispatchCounters } from './dispatch.js';
import { RunFailedError } from '../errors.js';
import type { EventSink, RunSummary } from './events.js';

export interface RunHooks {
  onEvent?: EventSink;
  /** Aborting stops handing out batches; in-flight ones finish; the previous index stays in place. */
  signal?: AbortSignal;
  /** The transport to run batches on; the caller owns it (creates and closes it). */
  transport: Transport;
  /** Restrict the run to these repo-relative paths (from --files / --changed-since); others keep their rows. */
  only?: ReadonlySet<string> | null;
  /**
   * Keep an interrupted build and pick it up on the next identical run (cluster mode). The run id is derived from
   * the plan, so the same command over the same tree finds the same run.
   */
  resumable?: boolean;
}

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/**
 * discover -> hash -> plan -> transport -> merge -> commit. The one pipeline every mode runs. An incremental run
 * that finds the previous index damaged (SQLite reports corruption, and PRAGMA quick_check confirms it) rebuilds
 * from scratch instead, and says so in the summary.
 */
/** What discovery gets from a run's options; `only`: the paths of a partial run. */
export function discoverOptions(o: IndexOptions, only: ReadonlySet<string> | null = null): DiscoverOptions {
  return {
    root: o.root,
    include: [...o.include],
    exclude: [...o.exclude],
    defaultExcludes: o.defaultExcludes,
    maxFileBytes: o.maxFileBytes,
    languages: o.languages.length < LANGUAGES.length ? new Set(o.languages) : null,
    only,
  };
}

/** A batch as the job a transport runs, with the run's limits. */
export function jobRequest(o: IndexOptions, runId: string, b: { id: string; files: FileRef[] }): JobRequest {
  return { v: PROTOCOL_VERSION, runId, batchId: b.id, files: b.files, limits: { maxFileBytes: o.maxFileBytes, parseTimeoutMs: o.parseTimeoutMs }, root: o.root };
}

export async function runIndex(o: IndexOptions, hooks: RunHooks): Promise<RunSummary> {
  const marked = damagedProblem(o.out);
  let problem: string | null = null;
  let summary: RunSummary;
  try {
    summary = await runOnce(marked ? { ...o, full: true } : o, hooks);
  } catch (err) {
    if (o.full || marked || !isCorruption(err) || !existsSync(o.out)) throw err;
    problem = integrityProblem(o.out);
    if (problem === null) throw err;
    summary = await runOnce({ ...o, full: true }, hooks);
  }
  problem ??= marked;
  if (problem === null || summary.interrupted) return summary;
  rmSync(damagedMarker(o.out), { force: true });
  return { ...summary, rebuilt: `the previous index was damaged (${problem}) and was rebuilt from scratch` };
}

async function runOnce(o: IndexOptions, hooks: RunHooks): Promise<RunSummary> {
  const emit = hooks.onEvent ?? (() => {});
  const signal = hooks.signal ?? new AbortController().signal;
  const t0 = performance.now();
  const deadline = o.deadlineS ? { at: Date.now() + o.deadlineS * 1000, seconds: o.deadlineS } : undefined;
  const mark = () => performance.now();

  // The previous index, when compatible, lets unchanged files skip both the read and the parse.
  const store = IndexStore.open(o.out, { extractorVersion: EXTRACTOR_VERSION, full: o.full });
  const prior = store.prior ?? undefined;

  // A partial run (--files, --changed-since) needs a previous index to patch; without one it indexes everything.
  const only = prior ? (hooks.only ?? null) : null;

  emit({ type: 'phase', phase: 'discover' });
  const disc = await discover(discoverOptions(o, only));
  emit({
    type: 'discovered',
    files: disc.files.length,
    bytes: disc.files.reduce((n, f) => n + f.size, 0),
    skipped: disc.skipped.length,
    source: disc.source,
  });
  const tDiscover = mark();

  emit({ type: 'phase', phase: 'hash' });
  // A fresh local build needs no hashes up front: each worker hashes the file it reads anyway, and hashing here was a
  // second pass over the whole tree on this thread. Incremental runs need them to see what changed, and cluster runs
  // to address the blobs they upload.
  const hashed =
    prior || hooks.resumable
      ? await hashFiles(o.root, disc.files, prior)
      : { refs: disc.files.map((f): FileRef => ({ path: f.path, hash: '', size: f.size, language: f.language })), skipped: [] };
  const tHash = mark();

  emit({ type: 'phase', phase: 'plan' });
  const mtimes = new Map(disc.files.map((f) => [f.path, f.mtimeMs]));
  const toParse: FileRef[] = [];
  const unchanged: FileRef[] = [];
  // Content already indexed under another path (a rename, a copy): copied from the old rows, never re-parsed.
  const copies: { from: string; to: FileRef }[] = [];
  const byHash = new Map<string, string>();
  if (prior) for (const [path, p] of prior) if (p.status !== 'error') byHash.set(p.hash, path);
  for (const ref of hashed.refs) {
    const p = prior?.get(ref.path);
    const sameContentElsewhere = byHash.get(ref.hash);
    if (p && p.hash === ref.hash) unchanged.push(ref);
    else if (sameContentElsewhere !== undefined) copies.push({ from: sameContentElsewhere, to: ref });
    else toParse.push(ref);
  }
  const batches = plan(toParse, { targetBytes: o.batchBytes, maxFiles: o.batchFiles });
  const bytesParsed = toParse.reduce((n, f) => n + f.size, 0);
  const runId = sha1([o.root, o.out, ...batches.map((b) => b.id)].join('\n')).slice(0, 16);
  emit({ type: 'planned', runId, batches: batches.length, files: toParse.length, bytes: bytesParsed, reused: unchanged.length + copies.length });
  const tPlan = mark();

  const skipped: SkippedFile[] = [...disc.skipped, ...hashed.skipped];
  const present = new Set([...hashed.refs.map((f) => f.path), ...skipped.map((s) => s.path)]);
  const summarize = (extra: { resumed: boolean; removed: number; counters: DispatchCounters; tIndex: number; index: IndexStats }): RunSummary => {
    const index = extra.index;
    const tEnd = mark();
    const secs = Math.max(tEnd - t0, 1) / 1000;
    return {
      root: o.root,
      out: o.out,
      runId,
      resumed: extra.resumed,
      transport: hooks.transport.name,
      threads: hooks.transport.capacity,
      interrupted: signal.aborted,
      discovery: disc.source,
      run: {
        filesSeen: disc.files.length + disc.skipped.length,
        languagesOff: disc.turnedOff,
        filesParsed: toParse.length - extra.counters.filesCached,
        filesReused: unchanged.length + copies.length,
        filesRemoved: extra.removed,
        bytesParsed,
        batches: batches.length,
        ...extra.counters,
      },
      index,
      timings: {
        discoverMs: Math.round(tDiscover - t0),
        hashMs: Math.round(tHash - tDiscover),
        planMs: Math.round(tPlan - tHash),
        indexMs: Math.round(extra.tIndex - tPlan),
        commitMs: Math.round(tEnd - extra.tIndex),
        totalMs: Math.round(tEnd - t0),
      },
      throughput: {
        filesPerSec: round(toParse.length / secs),
        mbPerSec: round(bytesParsed / 1e6 / secs),
        symbolsPerSec: round(index.symbols / secs),
      },
      peakRssMb: peakRssMb(),
    };
  };
  const finish = (summary: RunSummary) => {
    emit({ type: 'phase', phase: 'done' });
    emit({ type: 'done', summary });
    return summary;
  };

  // Nothing changed since the previous index: leave the file alone (no copy, no pool, no write).
  if (prior && !hooks.resumable && isNoop(prior, { batches, copies, unchanged, skipped, present, only, mtimes })) {
    // The index is exactly as the last run left it, so are its totals (counting rows again costs more than the rest).
    return finish(summarize({ resumed: false, removed: 0, counters: noCounters(), tIndex: mark(), index: store.lastStats() }));
  }

  const resumeKey = hooks.resumable ? runId : undefined;
  const patch = bytesParsed <= PATCH_MAX_BYTES;
  // A big build merges on a thread of its own, beside the one that receives results.
  await store.begin({ resumeKey, patch, mtimes, background: !patch });
  try {
    await store.applySkipped(skipped);
    await store.touch(unchanged, mtimes);
    // The source row can be missing only if the index changed under us; such files are parsed after all.
    const missed: FileRef[] = [];
    for (const c of copies) if (!(await store.copyFile(c.from, c.to.path, mtimes.get(c.to.path) ?? 0))) missed.push(c.to);
    if (missed.length) batches.push(...plan(missed, { targetBytes: o.batchBytes, maxFiles: o.batchFiles }));

    emit({ type: 'phase', phase: 'index' });
    const toRequest = (b: Batch | { id: string; files: FileRef[] }): JobRequest => jobRequest(o, runId, b);
    // A resumed build already holds some batches: acknowledge them (the transport may still keep their results) and skip them.
    const merged = await store.mergedBatches();
    const requests = batches.map(toRequest);
    for (const r of requests) if (merged.has(r.batchId)) await hooks.transport.ack?.(r).catch(() => {});
    const crashed = { files: 0, last: '' };
    const crash = (message: string) => {
      crashed.files++;
      crashed.last = message;
    };
    const counters = await dispatch(requests.filter((r) => !merged.has(r.batchId)), {
      transport: hooks.transport,
      signal,
      emit,
      priority: o.priority,
      apply: (res) => {
        // Files a cluster worker quarantined (they killed worker processes) count towards the safety net too.
        for (const f of res.failures) if (f.code === 'worker-crash') crash(f.message);
        return store.apply(res.batchId, res.fragments);
      },
      applyFileError: (file, message) => {
        crash(message);
        return store.applySkipped([{ path: file.path, size: file.size, language: file.language, error: { code: 'worker-crash', message } }]);
      },
      toRequest,
      stallWarnMs: o.stallWarningS * 1000,
      deadline,
    });
    const tIndex = mark();
    // The safety net: files crash their batches one by one, but a large share of them means the machinery failed
    // (workers that cannot run anything, a Redis that loses work), and committing would replace good rows with errors.
    if (!signal.aborted && crashed.files >= CRASH_NET_MIN_FILES && crashed.files > o.maxCrashShare * toParse.length) {
      throw new RunFailedError(
        `${crashed.files} of ${toParse.length} files ended as worker-crash (their batch failed every attempt, or they killed workers), more than the --max-crash-share of ${o.maxCrashShare} allows: the workers are failing, not the files (last error: ${crashed.last.slice(0, 200)})`,
      );
    }

    let removed = 0;
    if (!signal.aborted) {
      emit({ type: 'phase', phase: 'commit' });
      removed = await store.removeAllExcept(present, only);
    }
    const summary = summarize({ resumed: store.resumed, removed, counters, tIndex, index: await store.stats() });
    if (signal.aborted) {
      await store.abort(!!resumeKey);
    } else {
      await store.commit({ root: o.root, summary: { run: summary.run, index: summary.index }, contentIndex: o.contentIndex });
      // What a committed run still holds in the transport (batches that failed and were split) is garbage now.
      await hooks.transport.release?.(runId, null).catch(() => {});
      const tEnd = mark();
      summary.timings.commitMs = Math.round(tEnd - tIndex);
      summary.timings.totalMs = Math.round(tEnd - t0);
    }
    return finish(summary);
  } catch (err) {
    await store.abort(!!resumeKey).catch(() => {});
    // A failed run leaves nothing behind in the transport (the build itself is kept for a rerun when resumable).
    if (err instanceof RunFailedError) {
      // Cleared first: what the run uploaded may be what fills Redis, and the record of the failure needs room.
      await hooks.transport.release?.(runId, err).catch(() => {});
      emit({ type: 'failed', reason: err.message, cancelled: err.cancelled });
    }
    throw err;
  }
}

/** The safety net applies from this many worker-crash files on: one or two bad files in a small run are just that. */
const CRASH_NET_MIN_FILES = 5;

/** Up to this much to parse, an incremental run patches the index in place (see WriterOptions.patch). */
const PATCH_MAX_BYTES = 4 * 1024 * 1024;

/** True when applying this run would not change a single row of the previous index. */
function isNoop(
  prior: ReadonlyMap<string, PriorRow>,
  r: {
    batches: readonly Batch[];
    copies: readonly unknown[];
    unchanged: readonly FileRef[];
    skipped: readonly SkippedFile[];
    present: ReadonlySet<string>;
    only: ReadonlySet<string> | null;
    mtimes: ReadonlyMap<string, number>;
  },
): boolean {
  if (r.batches.length || r.copies.length) return false;
  for (const f of r.unchanged) if (prior.get(f.path)?.mtimeMs !== r.mtimes.get(f.path)) return false;
  for (const s of r.skipped) {
    const p = prior.get(s.path);
    if (!p || p.hash !== '' || p.errorCode !== s.error.code || p.size !== s.size) return false;
  }
  for (const path of prior.keys()) if (!r.present.has(path) && (!r.only || r.only.has(path))) return false;
  return true;
}

const round = (n: number) => Math.round(n * 100) / 100;
