// The dashboard page: follows /api/events (a snapshot a second) and renders it; actions are POSTs to /api/....
// Plain DOM, no framework. Every text from the cluster (paths, messages, ids) goes in through textContent.
/* global uPlot */
'use strict';

const $ = (id) => document.getElementById(id);
const PRIORITIES = ['urgent', 'high', 'normal', 'low'];
const PRIO_COLORS = { urgent: '#f85149', high: '#d29922', normal: '#4c8dff', low: '#6e7681' };

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
}

const fmt = {
  int: (n) => (n == null ? '–' : Math.round(n).toLocaleString('en-US')),
  rate: (n) => (n == null ? '–' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2)),
  mb: (bytes) => (bytes / 1e6 >= 100 ? Math.round(bytes / 1e6) : (bytes / 1e6).toFixed(1)) + ' MB',
  dur(s) {
    if (s == null || !isFinite(s)) return '–';
    s = Math.round(s);
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + String(s % 60).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
  },
  ago(ms) {
    if (ms == null) return '–';
    if (ms < 10_000) return (ms / 1000).toFixed(1) + ' s ago';
    return fmt.dur(ms / 1000) + ' ago';
  },
  clock: (t) => new Date(t).toLocaleTimeString('en-GB', { hour12: false }),
};

/**
 * Keeps one row per item, keyed: existing rows are updated in place (a button being clicked is never replaced
 * under the pointer), new ones made, rows of items gone removed.
 */
function syncRows(tbody, items, key, make, update) {
  const rows = new Map([...tbody.children].map((tr) => [tr.dataset.key, tr]));
  let prev = null;
  for (const item of items) {
    const k = key(item);
    let tr = rows.get(k);
    if (!tr) {
      tr = make(item);
      tr.dataset.key = k;
    }
    rows.delete(k);
    update(tr, item);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
  }
  for (const tr of rows.values()) tr.remove();
}

const setText = (el, text) => {
  if (el.textContent !== text) el.textContent = text;
};

function bar(el, fraction, label, cls) {
  el.className = 'bar' + (cls ? ' ' + cls : '');
  if (!el.firstChild) el.append(h('i'), h('span'));
  el.firstChild.style.width = Math.max(0, Math.min(1, fraction)) * 100 + '%';
  setText(el.lastChild, label);
}

// ---- actions ----------------------------------------------------------------------------------------------------

let toastTimer = null;
function toast(text, error) {
  const t = $('toast');
  t.textContent = text;
  t.className = error ? 'error' : '';
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), error ? 8000 : 4000);
}

async function act(path, describe) {
  try {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || res.status + ' ' + res.statusText);
    toast(describe(body));
  } catch (err) {
    toast('Failed: ' + err.message, true);
  }
}

$('pause').addEventListener('click', () => {
  const paused = $('pause').dataset.paused === 'true';
  void act(paused ? '/api/queue/resume' : '/api/queue/pause', () => (paused ? 'Queue resumed: workers take batches again' : 'Queue paused: workers finish the batches they hold and take no new ones'));
});
$('retry').addEventListener('click', () =>
  act('/api/queue/retry-failed', (r) => `Retried ${r.retried} failed job${r.retried === 1 ? '' : 's'}` + (r.skipped ? `; left ${r.skipped} of runs still going (their coordinator has split them)` : '')),
);

function drain(id) {
  if (!confirm(`Drain worker ${id}? It finishes the batches it holds, takes no new ones, and exits.`)) return;
  void act(`/api/workers/${encodeURIComponent(id)}/drain`, () => `Worker ${id} will drain at its next heartbeat`);
}
function cancel(runId) {
  if (!confirm(`Cancel run ${runId}? Its coordinator stops without committing, and its queued batches are removed.`)) return;
  void act(`/api/runs/${runId}/cancel`, (r) => `Run ${runId} cancelled: removed ${r.jobs} jobs, ${r.blobs} blobs` + (r.busy ? `; ${r.busy} held by workers finish first` : ''));
}

// ---- throughput chart (uPlot) ------------------------------------------------------------------------------------

const series = { t: [], files: [], mb: [] };
let chart = null;
const HISTORY_S = 15 * 60;

function chartSize() {
  const el = $('chart');
  return { width: Math.max(300, el.clientWidth), height: 230 };
}

function makeChart() {
  const axis = { stroke: '#8b94a5', grid: { stroke: '#222832', width: 1 }, ticks: { stroke: '#222832', width: 1 } };
  chart = new uPlot(
    {
      ...chartSize(),
      cursor: { drag: { x: false, y: false } },
      // At least the last minute, so that a young history does not stretch a few seconds across the chart.
      scales: { x: { time: true, range: (u, min, max) => [Math.min(min, max - 60), max] }, files: { auto: true, range: (u, min, max) => [0, Math.max(1, max * 1.1)] }, mb: { auto: true, range: (u, min, max) => [0, Math.max(0.1, max * 1.1)] } },
      // The legend shows the point under the cursor, or the latest one.
      series: [
        { value: (u, v, si, idx) => (idx == null ? 'now' : fmt.clock(v * 1000)) },
        { label: 'files/s', scale: 'files', stroke: '#4c8dff', width: 2, fill: 'rgba(76,141,255,0.12)', value: (u, v, si, idx) => fmt.rate(idx == null ? u.data[si].at(-1) : v), points: { show: false } },
        { label: 'MB/s', scale: 'mb', stroke: '#3fb950', width: 2, value: (u, v, si, idx) => fmt.rate(idx == null ? u.data[si].at(-1) : v), points: { show: false } },
      ],
      axes: [
        { ...axis, space: 70, values: (u, splits) => splits.map((v) => fmt.clock(v * 1000)) },
        { ...axis, scale: 'files', label: 'files/s', labelSize: 18, size: 56 },
        { ...axis, scale: 'mb', side: 1, label: 'MB/s', labelSize: 18, size: 56, grid: { show: false } },
      ],
      legend: { live: true },
    },
    [series.t, series.files, series.mb],
    $('chart'),
  );
  new ResizeObserver(() => chart.setSize(chartSize())).observe($('chart'));
}

function addPoint(p) {
  if (series.t.length && p.t <= series.t.at(-1)) return; // a poll Redis did not answer repeats the last point
  series.t.push(p.t);
  series.files.push(p.filesPerSec);
  series.mb.push(p.mbPerSec);
  while (series.t.length && p.t - series.t[0] > HISTORY_S) {
    series.t.shift();
    series.files.shift();
    series.mb.shift();
  }
}

// ---- rendering ---------------------------------------------------------------------------------------------------

let lastAt = 0;
let live = false;

function renderHeader(s) {
  setText($('ns'), s.namespace);
  const conn = $('conn');
  const asOf = s.readAt ? ` (showing the cluster as of ${fmt.clock(s.readAt)})` : '';
  if (!live) (conn.className = 'pill bad'), (conn.dataset.state = 'disconnected'), setText(conn, 'dashboard offline' + asOf);
  else if (s.redisError) (conn.className = 'pill bad'), (conn.dataset.state = 'redis-error'), setText(conn, `Redis: ${s.redisError}${asOf}`);
  else (conn.className = 'pill ok'), (conn.dataset.state = 'ok'), setText(conn, 'Redis connected');
  // What is shown is no longer live: say so by fading it.
  document.body.classList.toggle('stale-view', !live || !!s.redisError);
  const q = $('queue-state');
  q.dataset.paused = String(s.queue.paused);
  q.className = 'pill ' + (s.queue.paused ? 'warn' : 'ok');
  setText(q, s.queue.paused ? 'queue paused' : 'queue running');
  const pause = $('pause');
  pause.disabled = !live;
  pause.dataset.paused = String(s.queue.paused);
  pause.className = 'btn' + (s.queue.paused ? ' primary' : '');
  setText(pause, s.queue.paused ? 'Resume queue' : 'Pause queue');
  const retry = $('retry');
  retry.disabled = !live || s.queue.counts.failed === 0;
  setText(retry, s.queue.counts.failed ? `Retry failed (${s.queue.counts.failed})` : 'Retry failed');
}

function renderTiles(s) {
  const alive = s.workers.filter((w) => w.status === 'alive' || w.status === 'draining');
  setText($('t-workers'), fmt.int(alive.length));
  const threads = alive.reduce((n, w) => n + Number(w.threads || 0), 0);
  const dead = s.workers.length - alive.length;
  setText($('t-threads'), `${threads} thread${threads === 1 ? '' : 's'}` + (dead ? ` · ${dead} not answering` : ''));
  setText($('t-waiting'), fmt.int(s.queue.counts.waiting));
  setText($('t-delayed'), s.queue.counts.delayed ? `${s.queue.counts.delayed} delayed (backoff)` : 'batches queued');
  setText($('t-active'), fmt.int(s.queue.counts.active));
  setText($('t-failed'), fmt.int(s.queue.counts.failed));
  $('t-failed').classList.toggle('bad', s.queue.counts.failed > 0);
  setText($('t-fps'), fmt.rate(s.rate.filesPerSec));
  setText($('t-mbps'), fmt.rate(s.rate.mbPerSec));
  const running = s.runs.filter((r) => r.state === 'running').length;
  setText($('t-runs'), `${running} run${running === 1 ? '' : 's'} in progress`);
}

function renderQueue(s) {
  const el = $('queue');
  if (!el.firstChild) {
    const states = h('div', { class: 'qstates' });
    for (const k of ['waiting', 'active', 'delayed', 'failed', 'completed']) states.append(h('div', { 'data-state': k }, h('b', { text: '0' }), h('span', { text: k })));
    const prio = h('div', { class: 'prio' }, h('div', { class: 'h', text: 'Waiting by priority' }));
    for (const p of PRIORITIES) prio.append(h('div', { class: 'prio-' + p, text: p }), h('div', { class: 'track' }, h('i', { style: `background:${PRIO_COLORS[p]};width:0` })), h('div', { class: 'n', 'data-priority': p, text: '0' }));
    el.append(states, prio);
  }
  for (const div of el.querySelectorAll('.qstates > div')) setText(div.firstChild, fmt.int(s.queue.counts[div.dataset.state]));
  const max = Math.max(1, ...PRIORITIES.map((p) => s.queue.byPriority[p] || 0));
  for (const n of el.querySelectorAll('.prio .n')) {
    const v = s.queue.byPriority[n.dataset.priority] || 0;
    setText(n, fmt.int(v));
    n.previousSibling.firstChild.style.width = (v / max) * 100 + '%';
  }
}

function renderRuns(s) {
  const tbody = $('runs').tBodies[0];
  $('runs-empty').hidden = s.runs.length > 0;
  $('runs').classList.toggle('empty-table', !s.runs.length);
  syncRows(
    tbody,
    s.runs,
    (r) => r.runId,
    (r) =>
      h(
        'tr',
        { 'data-run': r.runId },
        h('td', { class: 'mono', title: r.runId, text: r.runId.slice(0, 8) }),
        h('td', {}, h('span', { class: 'badge' })),
        h('td', { class: 'path', title: r.root }, h('bdi')),
        h('td'),
        h('td', {}, h('div', { class: 'bar progress' })),
        h('td', { class: 'num mbps' }),
        h('td', { class: 'num eta' }),
        h('td', {}, h('div', { class: 'chips' })),
        h('td', { class: 'held' }),
        h('td', { class: 'num started' }),
        h('td', { class: 'num' }, h('button', { class: 'btn small danger', type: 'button', text: 'Cancel', onclick: () => cancel(r.runId) })),
      ),
    (tr, r) => {
      tr.dataset.state = r.state;
      tr.dataset.filesDone = String(r.filesDone);
      tr.dataset.files = String(r.files);
      const [, state, root, prio, progress, mbps, eta, errs, held, started, ctl] = tr.children;
      const badge = state.firstChild;
      badge.className = 'badge ' + r.state;
      setText(badge, r.state);
      badge.title = r.reason || '';
      setText(root.firstChild, r.root);
      prio.className = 'prio-' + r.priority;
      setText(prio, r.priority);
      const frac = r.files ? r.filesDone / r.files : r.total ? r.merged / r.total : 0;
      bar(progress.firstChild, r.state === 'done' ? 1 : frac, `${fmt.int(r.filesDone)} / ${fmt.int(r.files)} files · ${Math.floor((r.state === 'done' ? 1 : frac) * 100)}%`, r.state === 'done' ? 'done' : r.state);
      progress.title = `${fmt.mb(r.bytesDone)} of ${fmt.mb(r.bytes)}; ${r.merged} of ${r.total} batches merged; coordinator ${r.host}:${r.pid}`;
      setText(mbps, r.state === 'running' || r.state === 'done' ? fmt.rate(r.mbPerSec) : '–');
      setText(eta, r.state === 'running' ? (r.etaS == null ? '…' : fmt.dur(r.etaS)) : '–');
      const chips = errs.firstChild;
      const codes = Object.entries(r.errorsByCode).sort((a, b) => b[1] - a[1]);
      const sig = JSON.stringify(codes);
      if (chips.dataset.sig !== sig) {
        chips.dataset.sig = sig;
        chips.replaceChildren(...(codes.length ? codes.map(([code, n]) => h('span', { class: 'chip ' + code, title: `${n} file(s): ${code}`, text: `${code} ${n}` })) : [h('span', { class: 'chip none', text: 'none' })]));
      }
      const statusOf = new Map(s.workers.map((w) => [w.id, w.status]));
      const heldSig = JSON.stringify(r.held.map((x) => [x.worker, statusOf.get(x.worker), x.batches.map((b) => b.batch)]));
      if (held.dataset.sig !== heldSig) {
        held.dataset.sig = heldSig;
        held.replaceChildren(
          ...(r.held.length
            ? r.held.map((x) =>
                h('div', { title: x.batches.map((b) => `batch ${b.batch}: ${b.files} files, ${fmt.mb(b.bytes)}`).join('\n') }, h('b', { text: x.worker }), statusOf.get(x.worker) === 'stale' ? ' (not answering)' : '', `: ${x.batches.length} batch${x.batches.length === 1 ? '' : 'es'} (${x.batches.reduce((n, b) => n + b.files, 0)} files)`),
              )
            : [r.state === 'running' ? '–' : '']),
        );
      }
      setText(started, fmt.ago(s.at - r.startedAt));
      ctl.firstChild.hidden = !(r.state === 'running' || r.state === 'interrupted');
      ctl.firstChild.disabled = !live;
    },
  );
}

function renderWorkers(s) {
  const tbody = $('workers').tBodies[0];
  $('workers-empty').hidden = s.workers.length > 0;
  $('workers').classList.toggle('empty-table', !s.workers.length);
  syncRows(
    tbody,
    s.workers,
    (w) => w.id,
    (w) =>
      h(
        'tr',
        { 'data-worker': w.id },
        h('td', {}, h('span', { class: 'dot' })),
        h('td', { class: 'mono', text: w.id }),
        h('td', { class: 'mono muted' }),
        h('td', { class: 'num threads' }),
        h('td', {}, h('div', { class: 'bar cpu' })),
        h('td', { class: 'num rss' }),
        h('td', { class: 'num done' }),
        h('td', { class: 'num failed' }),
        h('td', { class: 'held' }),
        h('td', { class: 'num beat' }),
        h('td', { class: 'num' }, h('button', { class: 'btn small', type: 'button', text: 'Drain', onclick: () => drain(w.id) })),
      ),
    (tr, w) => {
      tr.dataset.status = w.status;
      const [dot, , hostPid, threads, cpu, rss, done, failed, held, beat, ctl] = tr.children;
      dot.title = { alive: 'alive', draining: 'draining: finishing what it holds, then it exits', stale: 'not answering: no heartbeat', gone: 'gone: its heartbeat expired or it stopped' }[w.status];
      setText(hostPid, `${w.host}:${w.pid}`);
      setText(threads, String(w.threads));
      const cap = Math.max(1, Number(w.threads)) * 100;
      bar(cpu.firstChild, (w.cpuPct || 0) / cap, w.cpuPct == null ? '–' : `${Math.round(w.cpuPct)} %`, 'cpu');
      cpu.title = `load average ${w.load1 ?? '?'}; 100 % is one core`;
      setText(rss, `${w.rssMb} MB`);
      setText(done, fmt.int(Number(w.done)));
      setText(failed, fmt.int(Number(w.failed)));
      failed.classList.toggle('bad', Number(w.failed) > 0);
      const runs = [...new Set(w.jobs.map((j) => j.run))];
      const holding = runs.map((run) => {
        const jobs = w.jobs.filter((j) => j.run === run);
        return `run ${run.slice(0, 8)}: ${jobs.length} batch${jobs.length === 1 ? '' : 'es'}, ${jobs.reduce((n, j) => n + j.files, 0)} files`;
      });
      const idle = w.status === 'alive' ? (w.run ? `idle (last: run ${w.run.slice(0, 8)})` : 'idle') : '';
      setText(held, (w.status === 'draining' ? 'draining' + (holding.length ? ': ' : '') : '') + (holding.join('; ') || idle));
      held.title = w.jobs.map((j) => `run ${j.run} batch ${j.batch}: ${j.files} files, ${fmt.mb(j.bytes)}, for ${fmt.dur((s.at - j.since) / 1000)}`).join('\n');
      setText(beat, w.status === 'gone' ? 'gone' : fmt.ago(w.sinceBeatMs));
      beat.dataset.ms = String(w.sinceBeatMs);
      ctl.firstChild.hidden = w.status !== 'alive';
      ctl.firstChild.disabled = !live;
    },
  );
}

function renderErrors(s) {
  const tbody = $('errors').tBodies[0];
  $('errors-empty').hidden = s.errors.length > 0;
  $('errors').classList.toggle('empty-table', !s.errors.length);
  syncRows(
    tbody,
    s.errors.slice(0, 25),
    (e) => `${e.runId}\0${e.path}\0${e.at}`,
    (e) =>
      h(
        'tr',
        {},
        h('td', { class: 'num muted', text: fmt.clock(e.at) }),
        h('td', { class: 'mono', title: e.runId, text: e.runId.slice(0, 8) }),
        h('td', {}, h('span', { class: 'chip ' + e.code, text: e.code })),
        h('td', { class: 'path', title: e.path }, h('bdi', { text: e.path })),
        h('td', { class: 'msg', title: e.message, text: e.message }),
      ),
    () => {},
  );
}

let snapshot = null;
function render() {
  if (!snapshot) return;
  renderHeader(snapshot);
  renderTiles(snapshot);
  renderQueue(snapshot);
  renderRuns(snapshot);
  renderWorkers(snapshot);
  renderErrors(snapshot);
  if (chart) chart.setData([series.t, series.files, series.mb]);
}

setInterval(() => {
  if (!lastAt) return;
  const ago = (Date.now() - lastAt) / 1000;
  setText($('updated'), live ? (ago < 2 ? 'live' : `updated ${ago.toFixed(0)} s ago`) : `offline for ${ago.toFixed(0)} s`);
}, 500);

// ---- the stream --------------------------------------------------------------------------------------------------

function connect() {
  const es = new EventSource('/api/events');
  es.addEventListener('hello', (ev) => {
    const m = JSON.parse(ev.data);
    series.t.length = series.files.length = series.mb.length = 0;
    for (const p of m.history) addPoint(p);
    live = true;
    snapshot = m.snapshot;
    lastAt = Date.now();
    if (!chart) makeChart();
    render();
  });
  es.addEventListener('state', (ev) => {
    const m = JSON.parse(ev.data);
    addPoint(m.point);
    snapshot = m.snapshot;
    live = true;
    lastAt = Date.now();
    render();
  });
  es.onerror = () => {
    // EventSource reconnects by itself; until then the page says it is not live.
    live = false;
    render();
  };
}
connect();
