/**
 * `--report FILE.html`: one self-contained page (inline CSS and SVG, no script, nothing fetched) that reads the same
 * offline as online: throughput against threads and workers, time by phase, the ratios and the raw table.
 */
import type { BenchReport, IndexConfig, Stat, TreeReport } from './report.js';
import { PHASE_KEYS } from './report.js';

const esc = (s: string | number) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '–');
const secs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

const COLORS = { parse: '#7c3aed', full: '#2563eb', cluster: '#ea580c', ideal: '#9ca3af', astGrep: '#059669' };
const PHASE_COLORS: Record<(typeof PHASE_KEYS)[number], string> = {
  otherMs: '#9ca3af',
  discoverMs: '#0ea5e9',
  hashMs: '#14b8a6',
  planMs: '#a3e635',
  indexMs: '#2563eb',
  commitMs: '#f59e0b',
};
const PHASE_LABELS: Record<(typeof PHASE_KEYS)[number], string> = {
  otherMs: 'start + exit',
  discoverMs: 'discover',
  hashMs: 'hash',
  planMs: 'plan',
  indexMs: 'index (parse + extract + merge)',
  commitMs: 'commit',
};

/** A "nice" axis maximum: 1, 2, 2.5 or 5 times a power of ten, at or above `v`. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: { x: number; y: number; lo?: number; hi?: number }[];
}

/** MB/s from a wall-time Stat: the median point, and the range from the slowest and fastest runs. */
function mbps(bytes: number, s: Stat) {
  return { y: bytes / 1e6 / (s.median / 1000), lo: bytes / 1e6 / (s.max / 1000), hi: bytes / 1e6 / (s.min / 1000) };
}

function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], digits = 2): string {
  const W = 560;
  const legendRows = Math.ceil(series.length / 2);
  const H = 300 + legendRows * 16;
  const m = { l: 56, r: 40, t: 32, b: 52 + legendRows * 16 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const xMax = Math.max(2, ...xs);
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.points.map((p) => Math.max(p.y, p.hi ?? 0)))) * 1.05);
  const px = (x: number) => m.l + ((x - 1) / Math.max(xMax - 1, 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - (y / yMax) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" class="t">${esc(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(y)}" y2="${py(y)}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py(y) + 4}" text-anchor="end" class="a">${esc(+y.toPrecision(3))}</text>`);
  }
  // Every whole x on a short axis; only the measured ones on a long one.
  const ticks = xMax <= 12 ? Array.from({ length: xMax }, (_, i) => i + 1) : [...new Set(xs)].sort((a, b) => a - b);
  for (const x of ticks) parts.push(`<text x="${px(x)}" y="${H - m.b + 16}" text-anchor="middle" class="a">${x}</text>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - m.b + 34}" text-anchor="middle" class="a">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle" class="a">${esc(yLabel)}</text>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" class="ax"/><line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" class="ax"/>`);
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.map((p) => `${px(p.x)},${py(p.y)}`).join(' ')}"/>`);
    for (const p of pts) {
      if (p.lo !== undefined && p.hi !== undefined) parts.push(`<line x1="${px(p.x)}" x2="${px(p.x)}" y1="${py(p.lo)}" y2="${py(p.hi)}" stroke="${s.color}" stroke-width="1.5"/>`);
      parts.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="4" fill="${s.color}"><title>${esc(`${s.name}: ${f(p.y, digits)} at ${p.x}`)}</title></circle>`);
      // Labels alternate above and below their point so neighbouring series stay readable.
      const anchor = p.x === xMax ? 'end' : 'start';
      const dx = anchor === 'end' ? -7 : 7;
      parts.push(`<text x="${px(p.x) + dx}" y="${py(p.y) + (i % 2 ? 15 : -7)}" text-anchor="${anchor}" class="v" fill="${s.color}">${f(p.y, digits)}</text>`);
    }
    const lx = m.l + (i % 2) * 250;
    const ly = H - m.b + 52 + Math.floor(i / 2) * 16;
    parts.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${lx + 28}" y="${ly}" class="a">${esc(s.name)}</text>`);
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

interface Bar {
  label: string;
  segments: { key: (typeof PHASE_KEYS)[number] | 'single'; ms: number; color: string; name: string }[];
}

function phaseChart(title: string, bars: Bar[]): string {
  const W = 760;
  const rowH = 26;
  const m = { l: 190, r: 70, t: 32, b: 62 };
  const H = m.t + m.b + rowH * bars.length;
  const total = (b: Bar) => b.segments.reduce((n, s) => n + s.ms, 0);
  const max = niceMax(Math.max(...bars.map(total), 1));
  const sx = (ms: number) => (ms / max) * (W - m.l - m.r);
  const parts: string[] = [`<text x="${W / 2}" y="18" text-anchor="middle" class="t">${esc(title)}</text>`];
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    parts.push(`<line x1="${m.l + sx(v)}" x2="${m.l + sx(v)}" y1="${m.t}" y2="${H - m.b}" class="grid"/>`);
    parts.push(`<text x="${m.l + sx(v)}" y="${H - m.b + 14}" text-anchor="middle" class="a">${esc(secs(v))}</text>`);
  }
  bars.forEach((b, i) => {
    const y = m.t + i * rowH + 4;
    parts.push(`<text x="${m.l - 8}" y="${y + 13}" text-anchor="end" class="a">${esc(b.label)}</text>`);
    let x = m.l;
    for (const s of b.segments) {
      if (s.ms <= 0) continue;
      const w = Math.max(sx(s.ms), 0.5);
      parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${rowH - 8}" fill="${s.color}"><title>${esc(`${b.label}: ${s.name} ${secs(s.ms)}`)}</title></rect>`);
      x += w;
    }
    parts.push(`<text x="${x + 5}" y="${y + 13}" class="v">${esc(secs(total(b)))}</text>`);
  });
  PHASE_KEYS.forEach((k, i) => {
    const lx = 20 + (i % 3) * 250;
    const ly = H - 30 + Math.floor(i / 3) * 16;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${PHASE_COLORS[k]}"/><text x="${lx + 18}" y="${ly}" class="a">${esc(PHASE_LABELS[k])}</text>`);
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

function phaseBar(label: string, c: IndexConfig): Bar {
  return { label, segments: PHASE_KEYS.map((k) => ({ key: k, ms: c.phases[k], color: PHASE_COLORS[k], name: PHASE_LABELS[k] })) };
}

function row(cells: (string | number)[], head = false): string {
  const tag = head ? 'th' : 'td';
  return `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
}

function treeSection(t: TreeReport): string {
  const series: Series[] = [
    { name: 'parse-only ceiling (warm pool)', color: COLORS.parse, dashed: true, points: t.parseOnly.map((p) => ({ x: p.threads, ...mbps(p.bytes, p.wallMs) })) },
    { name: 'full index (fresh process)', color: COLORS.full, points: t.local.map((c) => ({ x: c.threads, ...mbps(c.bytesParsed, c.wallMs) })) },
  ];
  const one = t.local.find((c) => c.threads === 1);
  if (one) {
    const y1 = one.bytesParsed / 1e6 / (one.wallMs.median / 1000);
    series.push({ name: 'linear scaling of 1 thread', color: COLORS.ideal, dashed: true, points: t.local.map((c) => ({ x: c.threads, y: y1 * c.threads })) });
  }
  if (t.cluster?.length) series.push({ name: 'cluster (x = workers, 1 thread each)', color: COLORS.cluster, points: t.cluster.map((c) => ({ x: c.workers, ...mbps(c.bytesParsed, c.wallMs) })) });

  // Speedup over each mode's own 1-thread (1-worker) run, against perfect scaling.
  const speedSeries: Series[] = [{ name: 'linear', color: COLORS.ideal, dashed: true, points: t.local.map((c) => ({ x: c.threads, y: c.threads })) }];
  const rel = (pts: { x: number; ms: number }[]) => {
    const b = pts.find((p) => p.x === 1)?.ms;
    return b ? pts.map((p) => ({ x: p.x, y: b / p.ms })) : [];
  };
  speedSeries.push({ name: 'parse-only', color: COLORS.parse, dashed: true, points: rel(t.parseOnly.map((p) => ({ x: p.threads, ms: p.wallMs.median }))) });
  speedSeries.push({ name: 'full index', color: COLORS.full, points: rel(t.local.map((c) => ({ x: c.threads, ms: c.wallMs.median }))) });
  if (t.cluster?.length) speedSeries.push({ name: 'cluster (workers)', color: COLORS.cluster, points: rel(t.cluster.map((c) => ({ x: c.workers, ms: c.wallMs.median }))) });
  const speedChart = speedSeries.every((s) => s.points.length) ? lineChart('Speedup over 1 thread / 1 worker (medians)', 'threads (local) / workers (cluster)', 'speedup (x)', speedSeries) : '';

  const bars: Bar[] = [
    ...t.parseOnly.map((p) => ({ label: `parse-only ${p.threads}t`, segments: [{ key: 'single' as const, ms: p.wallMs.median, color: COLORS.parse, name: 'parse only' }] })),
    ...t.local.map((c) => phaseBar(`full index ${c.threads}t`, c)),
    ...(t.cluster ?? []).map((c) => phaseBar(`cluster ${c.workers}w`, c)),
    phaseBar('re-run, no change', t.incremental.noChange),
    phaseBar('re-run, one change', t.incremental.oneChange),
  ];
  if ('wallMs' in t.ctags) bars.push({ label: 'ctags -R', segments: [{ key: 'single', ms: t.ctags.wallMs.median, color: '#6b7280', name: 'ctags' }] });
  if ('runs' in t.astGrep) for (const a of t.astGrep.runs) bars.push({ label: `ast-grep ${a.threads}t`, segments: [{ key: 'single', ms: a.wallMs.median, color: COLORS.astGrep, name: 'ast-grep' }] });

  const rows: string[] = [row(['configuration', 'wall median', 'min – max', 'CPU', 'files/s', 'MB/s', 'symbols/s', 'peak RSS MB'], true)];
  const cpu = (s: Stat | null) => (s ? secs(s.median) : '–');
  const cfg = (label: string, c: IndexConfig, rss = '') =>
    rows.push(row([label, secs(c.wallMs.median), `${secs(c.wallMs.min)} – ${secs(c.wallMs.max)}`, cpu(c.cpuMs), f(c.filesPerSec, 1), f(c.mbPerSec), f(c.symbolsPerSec, 0), `${c.peakRssMb.median}${rss}`]));
  const pool = (label: string, p: TreeReport['parseOnly'][number]) =>
    rows.push(row([`${label}, ${p.threads}t`, secs(p.wallMs.median), `${secs(p.wallMs.min)} – ${secs(p.wallMs.max)}`, cpu(p.cpuMs), f(p.filesPerSec, 1), f(p.mbPerSec), '', '']));
  for (const p of t.parseOnly) pool('parse-only', p);
  for (const p of t.parseExtract) pool('parse + extract', p);
  for (const c of t.local) cfg(`full index, ${c.threads}t`, c);
  for (const c of t.cluster ?? []) cfg(`cluster, ${c.workers}w`, c, ` + workers ${c.workerMemory.map((w) => w.vmHwmMb ?? w.heartbeatRssMb ?? '?').join(', ')}`);
  cfg('re-run, no change', t.incremental.noChange);
  cfg('re-run, one change', t.incremental.oneChange);
  if ('wallMs' in t.ctags) rows.push(row(['ctags -R', secs(t.ctags.wallMs.median), `${secs(t.ctags.wallMs.min)} – ${secs(t.ctags.wallMs.max)}`, cpu(t.ctags.cpuMs), '', '', `${t.ctags.tags} tags`, '']));
  if ('runs' in t.astGrep) for (const a of t.astGrep.runs) rows.push(row([`ast-grep, ${a.threads}t`, secs(a.wallMs.median), `${secs(a.wallMs.min)} – ${secs(a.wallMs.max)}`, cpu(a.cpuMs), '', '', `${a.matches} matches`, '']));

  const r = t.ratios;
  const ratioRows = [
    row(['ratio (from medians)', 'value'], true),
    ...r.speedup.map((s) => row([`speedup ${s.threads}t vs ${r.base}t`, s.value == null ? '–' : `${f(s.value)}x`])),
    ...r.efficiency.map((s) => row([`parallel efficiency ${s.threads}t`, s.value == null ? '–' : f(s.value)])),
    ...r.endToEndOverParseOnly.map((s) => row([`end-to-end / parse-only ${s.threads}t`, s.value == null ? '–' : f(s.value)])),
    ...r.parseExtractOverParseOnly.map((s) => row([`parse+extract / parse-only ${s.threads}t`, s.value == null ? '–' : f(s.value)])),
    ...r.ceilings.speedup.map((s) => row([`ceiling: speedup ${s.threads}t (cores x 1t wall / 1t CPU)`, s.value == null ? '–' : `${f(s.value)}x`])),
    ...r.ceilings.endToEndOverParseOnly.map((s) => row([`ceiling: end-to-end / parse-only ${s.threads}t (extraction, merge free)`, s.value == null ? '–' : f(s.value)])),
    row(['no-change re-run / ctags', r.noChangeOverCtags == null ? '–' : f(r.noChangeOverCtags)]),
    row(['one-change re-run / ctags', r.oneChangeOverCtags == null ? '–' : f(r.oneChangeOverCtags)]),
    ...r.clusterOverLocal.map((c) => row([`cluster / local ${c.workers}w`, c.value == null ? '–' : f(c.value)])),
    ...r.fullIndexOverAstGrep.map((c) => row([`full index / ast-grep ${c.threads}t`, c.value == null ? '–' : f(c.value)])),
    ...r.fullIndexOverCtags.map((c) => row([`full index ${c.threads}t / ctags -R`, c.value == null ? '–' : f(c.value)])),
  ];
  const targetRows = [
    row(['target', 'goal', 'measured', ''], true),
    ...t.targets.map((tg) => `<tr class="${tg.met == null ? '' : tg.met ? 'ok' : 'miss'}"><td>${esc(tg.name)}</td><td>${esc(`${tg.op} ${tg.target}`)}</td><td>${tg.value == null ? '–' : f(tg.value)}</td><td>${tg.met == null ? 'n/a' : tg.met ? 'met' : 'missed'}</td></tr>`),
  ];
  const m = t.merge;
  const md = t.model;
  const rp = t.replay;
  const replayChart = rp
    ? lineChart('Fan-in replay: batches merged per second against worker threads', 'simulated worker threads', 'batches / s (steady state)', [
        { name: `ideal: threads / ${f(rp.workerMsPerBatch, 1)} ms`, color: COLORS.ideal, dashed: true, points: rp.points.map((p) => ({ x: p.k, y: p.idealBatchesPerSec })) },
        { name: 'one coordinator (measured)', color: COLORS.cluster, points: rp.points.map((p) => ({ x: p.k, y: p.batchesPerSec })) },
      ], 1)
    : '';
  const replayRows = rp
    ? [
        row(['threads', 'batches', 'batches/s', 'ideal', 'of ideal', 'main busy', 'writer busy', 'writer ms/batch busy / CPU', 'coordinator CPU ms/batch', 'Redis CPU ms/batch', 'commit'], true),
        ...rp.points.map((p) => row([p.k, p.batches, f(p.batchesPerSec, 1), f(p.idealBatchesPerSec, 1), `${Math.round(p.efficiency * 100)} %`, `${Math.round(p.mainBusy * 100)} %`, `${Math.round(p.writerBusy * 100)} %`, `${f(p.writerMsPerBatch)} / ${p.writerCpuMsPerBatch == null ? '–' : f(p.writerCpuMsPerBatch)}`, f(p.coordinatorCpuMsPerBatch), f(p.redisCpuMsPerBatch), secs(p.commitMs)])),
      ]
    : [];
  const replay = rp
    ? `<p>Fan-in replay: one coordinator keeps <b>${rp.limitIsLowerBound ? 'at least ' : ''}${esc(rp.coordinatorLimitThreads)}</b> worker threads busy (${esc(f(rp.maxBatchesPerSec, 1))} batches/s × ${esc(f(rp.workerMsPerBatch, 1))} ms)${rp.saturationK ? `, below 90 % of ideal from ${esc(rp.saturationK)} threads` : ''}; limited by ${esc(rp.limitedBy)}.</p>
<div class="charts">${replayChart}<table>${replayRows.join('')}</table></div>`
    : '';
  const model = md
    ? `<p>Scale-out: ${esc(md.filesPerBatch)} files and ${esc(Math.round(md.bytesPerBatch / 1024))} KiB per batch; a worker thread spends ${esc(md.workerMsPerBatch)} ms on one.
       Limits, in worker threads: coordinator <b>${esc(md.coordinatorLimitThreads)}</b> (${esc(md.coordinatorLimitSource)}; the paper model, merge alone at ${esc(md.paperCoordinatorMsPerBatch)} ms a batch, says ${esc(md.paperCoordinatorLimitThreads)}), Redis <b>${esc(md.redisLimitThreads)}</b> (${esc(md.measuredCallsPerBatch ?? md.paperCallsPerBatch)} calls per batch at ${esc(md.assumed.redisCallsPerSec.toLocaleString('en-US'))}/s), network <b>${esc(md.networkLimitThreads)}</b> (${esc(Math.round((md.measuredBytesPerBatch ?? md.paperBytesPerBatch) / 1024))} KiB per batch at 1 Gb/s): <b>${esc(md.saturatesFirst)}</b> saturates first.
       ${md.checks.map((c) => `With ${c.workers} worker(s), index phase: predicted ${esc(secs(c.predictedIndexMs))}, measured ${esc(secs(c.measuredIndexMs))} (×${esc(c.ratio)}).`).join(' ')}</p>`
    : '';
  const last = t.local[t.local.length - 1];
  return `<section>
<h2>${esc(t.name)}</h2>
<p class="sub">${esc(t.root)} — ${esc(t.corpus.files)} files, ${esc(f(t.corpus.bytes / 1e6))} MB, ${esc(t.corpus.batches)} batches, ${esc(t.corpus.discovery)} discovery${last ? `; index: ${esc(last.symbols)} symbols, ${esc(last.refs)} refs` : ''}; load average ${esc(t.load.start)} at start, ${esc(t.load.end)} at end</p>
<div class="charts">${lineChart('Throughput against threads and workers', 'threads (local) / workers (cluster)', 'MB/s parsed (median, bar = min–max)', series)}
${speedChart}
${phaseChart('Time by phase (medians of the timed runs, stacked)', bars)}</div>
<div class="tables"><table>${rows.join('')}</table>
<table>${ratioRows.join('')}</table>
<table>${targetRows.join('')}</table></div>
<p>Merge (one SQLite writer): <b>${esc(f(m.resultsPerSec, 1))}</b> batches/s, <b>${esc(m.rowsPerSec.toLocaleString('en-US'))}</b> rows/s; a batch's fragment is ${esc(Math.round(m.fragmentBytesPerResult / 1024))} KiB, ${esc(Math.round(m.encodedBytesPerResult / 1024))} KiB compressed, decoded in ${esc(m.decodeMsPerResult)} ms.</p>
${replay}
${model}
${t.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}
</section>`;
}

export function renderHtml(r: BenchReport): string {
  const mc = r.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcp-index bench</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#111827;background:#fff;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 2px;border-top:1px solid #e5e7eb;padding-top:14px}
.sub{color:#4b5563;margin:0 0 10px}.note{color:#92400e}
.charts{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}.tables{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start;margin-top:10px}
svg{background:#fafafa;border:1px solid #e5e7eb;border-radius:6px}
svg .t{font-size:14px;font-weight:600;fill:#111827}svg .a{font-size:11px;fill:#374151}svg .v{font-size:10px;fill:#111827}
svg .grid{stroke:#e5e7eb}svg .ax{stroke:#6b7280}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:right}th{background:#f3f4f6}
td:first-child,th:first-child{text-align:left}tr.ok td:last-child{color:#15803d;font-weight:600}tr.miss td:last-child{color:#b91c1c;font-weight:600}
</style></head><body>
<h1>mcp-index bench</h1>
<p class="sub">${esc(mc.cpuModel)}, ${esc(mc.cores)} cores, ${esc(mc.memMb)} MB, Node ${esc(mc.node)} (${esc(mc.platform)}); load average ${esc(mc.loadBefore.join(' '))} before, ${esc(mc.loadAfter.join(' '))} after.
${esc(r.settings.warmup)} warm-up + ${esc(r.settings.repeat)} timed run(s) per configuration; medians, with min–max. ctags: ${esc(r.settings.ctags ?? 'skipped')}. ${esc(r.startedAt)} – ${esc(r.finishedAt)}.</p>
${r.notes.map((n) => `<p class="note">${esc(n)}</p>`).join('')}
${r.trees.map(treeSection).join('\n')}
</body></html>
`;
}
