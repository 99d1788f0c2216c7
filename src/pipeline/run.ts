import { existsSync } from 'node:fs';
import { discover, type SkippedFile } from '../discover/discover.js';
import type { IndexOptions } from '../config/options.js';
import { EXTRACTOR_VERSION } from '../extract/version.js';
import { openIndex, priorFiles } from '../index-store/reader.js';
import { IndexWriter, isCompatible } from '../index-store/writer.js';
import { hashFiles, sha1, type PriorFile } from '../plan/hash.js';
import { plan, type Batch } from '../plan/plan.js';
import type { FileRef, JobRequest } from '../protocol/types.js';
import { PROTOCOL_VERSION } from '../protocol/types.js';
import type { Transport } from '../transport/types.js';
import { dispatch } from './dispatch.js';
import type { EventSink, RunSummary } from './events.js';
import { indexStats } from './stats.js';

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

/** discover -> hash -> plan -> transport -> merge -> commit. The one pipeline every mode runs. */
export async function runIndex(o: IndexOptions, hooks: RunHooks): Promise<RunSummary> {
  const emit = hooks.onEvent ?? (() => {});
  const signal = hooks.signal ?? new AbortController().signal;
  const t0 = performance.now();
  const mark = () => performance.now();

  emit({ type: 'phase', phase: 'discover' });
  const disc = await discover({
    root: o.root,
    include: [...o.include],
    exclude: [...o.exclude],
    defaultExcludes: o.defaultExcludes,
    maxFileBytes: o.maxFileBytes,
    only: hooks.only,
  });
  emit({
    type: 'discovered',
    files: disc.files.length,
    bytes: disc.files.reduce((n, f) => n + f.size, 0),
    skipped: disc.skipped.length,
    source: disc.source,
  });
  const tDiscover = mark();

  // The previous index, when compatible, lets unchanged files skip both the read and the parse.
  let prior: Map<string, PriorFile & { status: string }> | undefined;
  if (!o.full && existsSync(o.out) && isCompatible(o.out, EXTRACTOR_VERSION)) {
    const db = openIndex(o.out);
    try {
      prior = priorFiles(db);
    } finally {
      db.close();
    }
  }

  emit({ type: 'phase', phase: 'hash' });
  const hashed = await hashFiles(o.root, disc.files, prior);
  const tHash = mark();

  emit({ type: 'phase', phase: 'plan' });
  const mtimes = new Map(disc.files.map((f) => [f.path, f.mtimeMs]));
  const toParse: FileRef[] = [];
  const unchanged: FileRef[] = [];
  for (const ref of hashed.refs) {
    const p = prior?.get(ref.path);
    if (p && p.hash === ref.hash) unchanged.push(ref);
    else toParse.push(ref);
  }
  const batches = plan(toParse, { targetBytes: o.batchBytes, maxFiles: o.batchFiles });
  const bytesParsed = toParse.reduce((n, f) => n + f.size, 0);
  const runId = sha1([o.root, o.out, ...batches.map((b) => b.id)].join('\n')).slice(0, 16);
  emit({ type: 'planned', runId, batches: batches.length, files: toParse.length, bytes: bytesParsed, reused: unchanged.length });
  const tPlan = mark();

  const resumeKey = hooks.resumable ? runId : undefined;
  const writer = new IndexWriter(o.out, { incremental: !!prior, extractorVersion: EXTRACTOR_VERSION, resumeKey });
  try {
    const skipped: SkippedFile[] = [...disc.skipped, ...hashed.skipped];
    writer.applySkipped(skipped);
    writer.touch(unchanged.map((f) => [f.path, mtimes.get(f.path) ?? 0]));

    emit({ type: 'phase', phase: 'index' });
    const toRequest = (b: Batch | { id: string; files: FileRef[] }): JobRequest => ({
      v: PROTOCOL_VERSION,
      runId,
      batchId: b.id,
      files: b.files,
      limits: { maxFileBytes: o.maxFileBytes, parseTimeoutMs: o.parseTimeoutMs, maxDepth: o.maxDepth },
      root: o.root,
    });
    // A resumed build already holds some batches: acknowledge them (the transport may still keep their results) and skip them.
    const merged = writer.mergedBatches();
    const requests = batches.map(toRequest);
    for (const r of requests) if (merged.has(r.batchId)) await hooks.transport.ack?.(r).catch(() => {});
    const counters = await dispatch(requests.filter((r) => !merged.has(r.batchId)), {
      transport: hooks.transport,
      signal,
      emit,
      priority: o.priority,
      apply: (res) => writer.applyResult(res, mtimes),
      applyFileError: (file, message) =>
        writer.applySkipped([{ path: file.path, size: file.size, language: file.language, error: { code: 'worker-crash', message } }]),
      toRequest,
    });
    const tIndex = mark();

    const present = new Set([...hashed.refs.map((f) => f.path), ...skipped.map((s) => s.path)]);
    let removed = 0;
    if (!signal.aborted) {
      emit({ type: 'phase', phase: 'commit' });
      removed = writer.removeAllExcept(present, hooks.only ?? null);
    }
    const index = indexStats(writer.db);
    const summary: RunSummary = {
      root: o.root,
      out: o.out,
      runId,
      resumed: writer.resumed,
      transport: hooks.transport.name,
      threads: hooks.transport.capacity,
      interrupted: signal.aborted,
      discovery: disc.source,
      run: {
        filesSeen: disc.files.length + disc.skipped.length,
        filesParsed: toParse.length,
        filesReused: unchanged.length,
        filesRemoved: removed,
        bytesParsed,
        batches: batches.length,
        ...counters,
      },
      index,
      timings: {
        discoverMs: Math.round(tDiscover - t0),
        hashMs: Math.round(tHash - tDiscover),
        planMs: Math.round(tPlan - tHash),
        indexMs: Math.round(tIndex - tPlan),
        commitMs: 0,
        totalMs: 0,
      },
      throughput: { filesPerSec: 0, mbPerSec: 0, symbolsPerSec: 0 },
      peakRssMb: 0,
    };
    if (signal.aborted) {
      writer.abort(!!resumeKey);
    } else {
      writer.setMeta({ root: o.root, last_run: new Date().toISOString(), last_summary: JSON.stringify({ run: summary.run, index: summary.index }) });
      writer.commit();
    }
    const tEnd = mark();
    const secs = (tEnd - t0) / 1000;
    summary.timings.commitMs = Math.round(tEnd - tIndex);
    summary.timings.totalMs = Math.round(tEnd - t0);
    summary.throughput = {
      filesPerSec: round(toParse.length / secs),
      mbPerSec: round(bytesParsed / 1e6 / secs),
      symbolsPerSec: round(index.symbols / secs),
    };
    summary.peakRssMb = peakRssMb();
    emit({ type: 'phase', phase: 'done' });
    emit({ type: 'done', summary });
    return summary;
  } catch (err) {
    writer.abort(!!resumeKey);
    throw err;
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
