/** The terminal form of a bench report: one block per tree, plain text, fixed columns. */
import type { BenchReport, IndexConfig, Stat, Target, TreeReport } from './report.js';

const secs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const range = (s: Stat) => `${secs(s.min)} – ${secs(s.max)}`;
const num = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2));
const x = (v: number | null, digits = 2) => (v == null ? '–' : v.toFixed(digits));
const round1 = (v: number) => Math.round(v * 10) / 10;

function pad(cells: string[], widths: number[], right: boolean[]): string {
  return cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
}

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [pad(head, widths, right), pad(widths.map((w) => '-'.repeat(w)), widths, right), ...rows.map((r) => pad(r, widths, right))];
}

const cpu = (s: Stat | null) => (s ? secs(s.median) : '–');

function configRow(label: string, c: IndexConfig, extraRss = ''): string[] {
  return [label, secs(c.wallMs.median), range(c.wallMs), cpu(c.cpuMs), num(c.filesPerSec), c.mbPerSec.toFixed(2), num(c.symbolsPerSec), `${c.peakRssMb.median}${extraRss}`];
}

function target(t: Target): string {
  const mark = t.met == null ? '[n/a] ' : t.met ? '[met] ' : '[MISS]';
  const by = t.met === false && t.value != null ? `  (missed by ${Math.abs(t.value - t.target).toFixed(2)})` : '';
  return `  ${mark} ${t.name} ${t.op} ${t.target}: ${x(t.value)}${by}`;
}

export function formatTree(t: TreeReport): string {
  const out: string[] = [];
  out.push(`${t.name}: ${t.corpus.files} files, ${(t.corpus.bytes / 1e6).toFixed(2)} MB, ${t.corpus.batches} batches, ${t.corpus.discovery} discovery, ${t.corpus.skipped} skipped`);
  out.push(`  ${t.root} (load average ${t.load.start} at start, ${t.load.end} at end)`);
  const last = t.local[t.local.length - 1];
  if (last) out.push(`  index: ${last.files} files, ${last.symbols} symbols, ${last.refs} refs, ${last.fileErrors} files with errors`);
  out.push('');
  const rows: string[][] = [];
  const pool = (label: string, p: TreeReport['parseOnly'][number]) =>
    rows.push([`${label}, ${p.threads} thread${p.threads > 1 ? 's' : ''}`, secs(p.wallMs.median), range(p.wallMs), cpu(p.cpuMs), num(p.filesPerSec), p.mbPerSec.toFixed(2), '', '']);
  for (const p of t.parseOnly) pool('parse-only', p);
  for (const p of t.parseExtract) pool('parse + extract', p);
  for (const c of t.local) rows.push(configRow(`full index, ${c.threads} thread${c.threads > 1 ? 's' : ''}`, c));
  for (const c of t.cluster ?? []) {
    const w = c.workerMemory.map((m) => m.vmHwmMb ?? m.heartbeatRssMb ?? '?').join('+');
    rows.push(configRow(`cluster, ${c.workers} worker${c.workers > 1 ? 's' : ''}`, c, ` (+${w})`));
  }
  rows.push(configRow(`re-run, no change (${t.incremental.threads}t)`, t.incremental.noChange));
  rows.push(configRow(`re-run, one change (${t.incremental.threads}t)`, t.incremental.oneChange));
  if ('wallMs' in t.ctags) rows.push(['ctags -R', secs(t.ctags.wallMs.median), range(t.ctags.wallMs), cpu(t.ctags.cpuMs), '', '', `${t.ctags.tags} tags`, '']);
  else rows.push(['ctags -R', 'skipped', t.ctags.skipped, '', '', '', '', '']);
  if ('runs' in t.astGrep) for (const a of t.astGrep.runs) rows.push([`ast-grep, ${a.threads} thread${a.threads > 1 ? 's' : ''}`, secs(a.wallMs.median), range(a.wallMs), cpu(a.cpuMs), '', '', `${a.matches} matches`, '']);
  else rows.push(['ast-grep', 'skipped', t.astGrep.skipped, '', '', '', '', '']);
  out.push('  wall time: median and min – max; CPU: median user + system time of all threads');
  out.push(...table(['configuration', 'median', 'min – max', 'CPU', 'files/s', 'MB/s', 'symbols/s', 'peak RSS MB'], rows, [false, true, true, true, true, true, true, true]).map((l) => '  ' + l));
  out.push('');

  const phaseRows: string[][] = [];
  const phase = (label: string, c: IndexConfig) =>
    phaseRows.push([label, ...[c.phases.otherMs, c.phases.discoverMs, c.phases.hashMs, c.phases.planMs, c.phases.indexMs, c.phases.commitMs].map((v) => String(Math.round(v))), String(Math.round(c.wallMs.median))]);
  for (const c of t.local) phase(`full, ${c.threads}t`, c);
  for (const c of t.cluster ?? []) phase(`cluster, ${c.workers}w`, c);
  phase('re-run, no change', t.incremental.noChange);
  phase('re-run, one change', t.incremental.oneChange);
  out.push('  time by phase (median ms; "start+exit" is wall time outside the pipeline: Node start, module load, thread start, exit)');
  out.push(...table(['configuration', 'start+exit', 'discover', 'hash', 'plan', 'index', 'commit', 'wall'], phaseRows, [false, true, true, true, true, true, true, true]).map((l) => '  ' + l));
  out.push('');

  const r = t.ratios;
  out.push('  ratios (from medians)');
  out.push(`    speedup vs ${r.base} thread:       ${r.speedup.map((s) => `${s.threads}t ${x(s.value)}x`).join('   ')}`);
  out.push(`    parallel efficiency:        ${r.efficiency.map((s) => `${s.threads}t ${x(s.value)}`).join('   ')}`);
  out.push(`    end-to-end / parse-only:    ${r.endToEndOverParseOnly.map((s) => `${s.threads}t ${x(s.value)}`).join('   ')}`);
  out.push(`    parse+extract / parse-only: ${r.parseExtractOverParseOnly.map((s) => `${s.threads}t ${x(s.value)}`).join('   ')}   (what extraction costs)`);
  out.push(`    ceiling, speedup:           ${r.ceilings.speedup.map((s) => `${s.threads}t ${x(s.value)}x`).join('   ')}   (cores x 1-thread wall / 1-thread CPU)`);
  out.push(`    ceiling, e2e / parse-only:  ${r.ceilings.endToEndOverParseOnly.map((s) => `${s.threads}t ${x(s.value)}`).join('   ')}   (extraction and merge free; fixed costs stay)`);
  out.push(`    no-change re-run / ctags:   ${x(r.noChangeOverCtags)}`);
  out.push(`    one-change re-run / ctags:  ${x(r.oneChangeOverCtags)}`);
  if (r.clusterOverLocal.length) out.push(`    cluster / local:            ${r.clusterOverLocal.map((c) => `${c.workers}w ${x(c.value)}`).join('   ')}`);
  out.push(`    full index / ast-grep:      ${r.fullIndexOverAstGrep.map((c) => `${c.threads}t ${x(c.value)}`).join('   ')}   (same thread count)`);
  out.push(`    full index / ctags -R:      ${r.fullIndexOverCtags.map((c) => `${c.threads}t ${x(c.value)}`).join('   ')}`);
  out.push('  targets (reported, not enforced)');
  for (const tg of t.targets) out.push(target(tg));
  out.push('');

  const m = t.merge;
  out.push(`  merge (one SQLite writer): ${num(m.resultsPerSec)} batches/s, ${num(m.rowsPerSec)} rows/s (${m.results} batches, ${m.rows} rows in ${secs(m.applyMs)}; commit ${secs(m.commitMs)})`);
  out.push(`  per batch: worker ${m.workerMsPerBatch} ms; fragment ${num(m.fragmentBytesPerResult)} B, ${num(m.encodedBytesPerResult)} B compressed, encode ${m.encodeMsPerResult} ms, decode ${m.decodeMsPerResult} ms`);
  if (t.replay) {
    const rp = t.replay;
    out.push(`  fan-in replay (worker ${round1(rp.workerMsPerBatch)} ms a batch; ${rp.cores} cores shared by Redis, the coordinator and the simulated workers)`);
    const rrows = rp.points.map((p) => [String(p.k), String(p.batches), num(p.batchesPerSec), num(p.idealBatchesPerSec), `${Math.round(p.efficiency * 100)} %`, `${Math.round(p.mainBusy * 100)} %`, `${Math.round(p.writerBusy * 100)} %`, `${p.writerMsPerBatch} / ${p.writerCpuMsPerBatch ?? '–'}`, String(p.coordinatorCpuMsPerBatch), String(p.redisCpuMsPerBatch), String(p.redisCallsPerBatch), secs(p.commitMs)]);
    out.push(...table(['threads', 'batches', 'batches/s', 'ideal', 'of ideal', 'main busy', 'writer busy', 'writer ms/b busy / CPU', 'coord CPU ms/b', 'Redis CPU ms/b', 'calls/b', 'commit'], rrows, Array(12).fill(true)).map((l) => '    ' + l));
    out.push(`    limit: ${rp.limitIsLowerBound ? 'at least ' : ''}${rp.coordinatorLimitThreads} worker threads (${num(rp.maxBatchesPerSec)} batches/s x ${round1(rp.workerMsPerBatch)} ms)${rp.saturationK ? `; below 90 % of ideal from ${rp.saturationK} threads` : ''}; limited by ${rp.limitedBy}`);
  }
  if (t.model) {
    const md = t.model;
    out.push(`  scale-out: ${md.filesPerBatch} files, ${num(md.bytesPerBatch)} B per batch; worker ${md.workerMsPerBatch} ms per batch`);
    out.push(
      `    limits in worker threads: coordinator ${md.coordinatorLimitThreads} (${md.coordinatorLimitSource}; paper model, merge alone ${md.paperCoordinatorMsPerBatch} ms: ${md.paperCoordinatorLimitThreads}), Redis ${md.redisLimitThreads} (${md.measuredCallsPerBatch ?? md.paperCallsPerBatch} calls/batch), network ${md.networkLimitThreads} (${num(md.measuredBytesPerBatch ?? md.paperBytesPerBatch)} B/batch) -> ${md.saturatesFirst} saturates first`,
    );
    for (const c of md.checks) out.push(`    check ${c.workers} worker(s): index phase predicted ${secs(c.predictedIndexMs)}, measured ${secs(c.measuredIndexMs)} (x${c.ratio})`);
  }
  for (const c of t.cluster ?? []) {
    out.push(`  redis, ${c.workers}w: ${c.redis.callsPerBatch} calls/batch, ${num(c.redis.bytesInPerBatch)} B in + ${num(c.redis.bytesOutPerBatch)} B out per batch; top: ${Object.entries(c.redis.commandsPerRun).slice(0, 6).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  for (const n of t.notes) out.push(`  note: ${n}`);
  return out.join('\n');
}

export function formatReport(r: BenchReport): string {
  const m = r.machine;
  const head = [
    `mcp-index bench: ${m.cpuModel}, ${m.cores} cores, ${m.memMb} MB, Node ${m.node}, ${m.platform}`,
    `  load average before ${m.loadBefore.join(' ')}, after ${m.loadAfter.join(' ')}; ${r.settings.warmup} warm-up + ${r.settings.repeat} timed run(s) per configuration; threads ${r.settings.threadsList.join(',')}${r.settings.redis ? `; workers ${r.settings.workersList.join(',')}` : ''}; ctags: ${r.settings.ctags ?? 'skipped'}`,
  ];
  for (const n of r.notes) head.push(`  note: ${n}`);
  return [head.join('\n'), ...r.trees.map(formatTree)].join('\n\n') + '\n';
}
