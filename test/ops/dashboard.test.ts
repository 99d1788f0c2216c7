/**
 * `mcp-index dashboard` in real headless Chromium (Debian's chromium, driven by playwright-core) on a real cluster:
 * a redis-server, the dashboard process, two `mcp-index worker` processes and a coordinator run on a tree of real
 * Python with files that fail to parse. The page is read as a person sees it (the DOM it renders, its computed
 * styles); its buttons are clicked. Screenshots go to $TMPDIR/mcp-index-dashboard-screenshots/; with
 * UPDATE_SCREENSHOTS=1 the one taken during the run is copied to docs/dashboard.png (the README's).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/pipeline/events.js';
import { chromiumAvailability, launchChromium, type Browser } from '../helpers/chromium.js';
import { freePort, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import {
  delay,
  killLeftoversAfterEach,
  pythonTree,
  readJson,
  REPO_ROOT,
  runCli,
  spawnCli,
  startSuite,
  startWorkerProc,
  stopSuite,
  waitUntil,
  type Build,
  type Proc,
} from '../cluster/helpers.js';

const redisOk = redisAvailability();
const chromiumOk = chromiumAvailability();
const missing = [redisOk, chromiumOk].find((a) => !a.ok)?.reason;
const SHOTS = join(tmpdir(), 'mcp-index-dashboard-screenshots');

interface WorkerRowView {
  id: string;
  status: string;
  hostPid: string;
  done: number;
  beatMs: number;
  rss: string;
  cpu: string;
  opacity: number;
}
interface RunRowView {
  runId: string;
  state: string;
  filesDone: number;
  files: number;
  chips: string;
  held: string;
}

const workerRows = (page: Page) =>
  page.$$eval('#workers tbody tr', (trs) =>
    trs.map((tr) => ({
      id: (tr as HTMLElement).dataset.worker!,
      status: (tr as HTMLElement).dataset.status!,
      hostPid: tr.children[2].textContent!,
      done: Number(tr.querySelector('.done')!.textContent!.replace(/,/g, '')),
      beatMs: Number((tr.querySelector('.beat') as HTMLElement).dataset.ms),
      rss: tr.querySelector('.rss')!.textContent!,
      cpu: tr.children[4].textContent!,
      opacity: Number(getComputedStyle(tr).opacity),
    })),
  ) as Promise<WorkerRowView[]>;

const runRows = (page: Page) =>
  page.$$eval('#runs tbody tr', (trs) =>
    trs.map((tr) => ({
      runId: (tr as HTMLElement).dataset.run!,
      state: (tr as HTMLElement).dataset.state!,
      filesDone: Number((tr as HTMLElement).dataset.filesDone),
      files: Number((tr as HTMLElement).dataset.files),
      chips: tr.querySelector('.chips')!.textContent!,
      held: tr.querySelector('.held')!.textContent!,
    })),
  ) as Promise<RunRowView[]>;

const tile = async (page: Page, id: string) => Number((await page.textContent(`#${id}`))!.replace(/,/g, ''));

/** Waits until `read` gives a value `ok` accepts, and returns it. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 120_000): Promise<T> {
  let v!: T;
  await waitUntil(async () => ok((v = await read())), `${what} (last seen: ${JSON.stringify(v)})`, timeoutMs);
  return v;
}

/** Files that end as per-file errors, big enough to land in the run's first batches (batches go largest first). */
function addBadFiles(tree: string): void {
  const body = Array.from({ length: 1500 }, (_, i) => `def f${i}(x):\n    """Step ${i}."""\n    return x + ${i}\n\n`).join('');
  writeFileSync(join(tree, 'zz_broken.py'), body + 'def broken(:\n    return 1\n');
  writeFileSync(join(tree, 'zz_blob.py'), Buffer.concat([Buffer.from('x = 1\n'), Buffer.from([0, 0, 0]), Buffer.alloc(64 * 1024, 0x41)]));
}

describe.skipIf(!!missing)(`mcp-index dashboard in headless Chromium${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let build: Build;
  let server: RedisServer;
  let tmp: string;
  let browser: Browser;
  const procs: Proc[] = [];

  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('dashboard'));
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium({ shots: SHOTS, viewport: { width: 1400, height: 900 } });
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(async () => {
    await browser?.close();
    await stopSuite(server);
  }, 120_000);

  const dashboard = async (ns: string, extra: string[] = []) => {
    const port = await freePort();
    const d = spawnCli(build.bin, ['dashboard', '--redis', server.url(), '--namespace', ns, '--port', String(port), '--log-format', 'json', ...extra], { name: 'dashboard' });
    procs.push(d);
    await d.waitFor(/dashboard at http/, 120_000);
    return { proc: d, port, origin: `http://127.0.0.1:${port}` };
  };
  const worker = async (ns: string, name: string) => {
    const w = await startWorkerProc(build.bin, ['--redis', server.url(), '--namespace', ns, '--threads', '1', '--lock-ms', '5000', '--log-format', 'json'], { name });
    procs.push(w);
    return w;
  };

  it('shows both workers live, a run rising to done, pause and resume, a killed worker greyed out; drains a worker', async () => {
    const ns = freshNamespace('dash');
    const tree = join(tmp, 'repo');
    pythonTree(tree, { maxBytes: 8_000_000 });
    addBadFiles(tree);
    const { origin } = await dashboard(ns);
    const [wa, wb] = [await worker(ns, 'wa'), await worker(ns, 'wb')];
    const tab = await browser.tab();
    const { page } = tab;
    page.on('dialog', (d) => void d.accept());
    await page.goto(origin + '/');

    // Both workers, with their pids, threads, memory and a heartbeat that keeps being fresh.
    const first = await until(() => workerRows(page), (rows) => rows.length === 2 && rows.every((r) => r.status === 'alive'), 'both workers listed alive');
    expect(first.map((r) => r.id)).toEqual(['wa', 'wb']);
    expect(first[0].hostPid).toMatch(new RegExp(`:${wa.child.pid}$`));
    expect(first[1].hostPid).toMatch(new RegExp(`:${wb.child.pid}$`));
    for (const r of first) expect(r.rss).toMatch(/^[1-9]\d* MB$/);
    for (let i = 0; i < 3; i++) {
      await delay(1500);
      for (const r of await workerRows(page)) expect(r.beatMs, `heartbeat of ${r.id}`).toBeLessThan(5000);
    }
    expect(await page.textContent('#conn')).toBe('Redis connected');

    // A run; as soon as it shows progress, Pause: the batches held finish, then nothing starts, with work waiting.
    const out = join(tmp, 'index.db');
    const coord = spawnCli(build.bin, [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--batch-bytes', '32KiB', '--json', '--progress', 'none', '--no-cache'], { name: 'coordinator' });
    procs.push(coord);
    const started = await until(() => runRows(page), (rows) => rows.length === 1 && rows[0].state === 'running' && rows[0].filesDone > 0, 'the run to show progress');
    const runId = started[0].runId;
    await page.click('#pause');
    await until(() => page.getAttribute('#queue-state', 'data-paused'), (v) => v === 'true', 'the page to say the queue is paused', 30_000);
    expect(await page.textContent('#pause')).toBe('Resume queue');
    await until(() => tile(page, 't-active'), (n) => n === 0, 'the held batches to finish', 60_000);
    await delay(3000); // a heartbeat (every 2 s) and a poll: the workers' counts include those batches
    const atPause = { run: (await runRows(page))[0], workers: await workerRows(page) };
    expect(atPause.run.state).toBe('running');
    expect(atPause.run.filesDone).toBeGreaterThanOrEqual(started[0].filesDone);
    expect(atPause.run.filesDone).toBeLessThan(atPause.run.files);
    expect(await tile(page, 't-waiting')).toBeGreaterThan(0);
    await delay(4000); // four polls, two heartbeats
    const stillPaused = { run: (await runRows(page))[0], workers: await workerRows(page) };
    expect(stillPaused.run.filesDone).toBe(atPause.run.filesDone);
    expect(stillPaused.workers.map((w) => w.done)).toEqual(atPause.workers.map((w) => w.done));
    expect(await tile(page, 't-active')).toBe(0);
    await browser.screenshot(page, 'paused');

    // Resume: progress rises again, both workers' counts with it, and the run shows who holds its batches.
    await page.click('#pause');
    await until(() => page.getAttribute('#queue-state', 'data-paused'), (v) => v === 'false', 'the page to say the queue runs', 30_000);
    const busy = await until(() => runRows(page), (rows) => rows[0].filesDone > atPause.run.filesDone && /w[ab]: \d+ batch/.test(rows[0].held), 'progress after resume, with the workers holding its batches');
    expect(busy[0].held).toMatch(/w[ab]: \d+ batch(es)? \(\d+ files\)/);
    const grown = await until(() => workerRows(page), (rows) => rows.every((r, i) => r.done > atPause.workers[i].done && r.cpu !== '–'), 'both workers to take batches again, with their CPU shown');
    expect(grown.map((r) => r.id)).toEqual(['wa', 'wb']);
    expect(await tile(page, 't-fps')).toBeGreaterThan(0);
    await page.waitForSelector('#toast', { state: 'hidden' }); // "Queue resumed" would cover a tile
    const shot = await browser.screenshot(page, 'run-in-progress');
    if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(shot, join(REPO_ROOT, 'docs/dashboard.png'));

    // A worker killed outright greys out; the other goes on (and, after the lease, reruns what the dead one held).
    await wb.kill('SIGKILL');
    const greyed = await until(() => workerRows(page), (rows) => ['stale', 'gone'].includes(rows.find((r) => r.id === 'wb')?.status ?? ''), 'the killed worker to grey out', 60_000);
    expect(greyed.find((r) => r.id === 'wb')!.opacity).toBeLessThan(0.6);
    expect(greyed.find((r) => r.id === 'wa')!.status).toBe('alive');
    expect(greyed.find((r) => r.id === 'wa')!.opacity).toBe(1);
    await browser.screenshot(page, 'worker-killed');

    // The run goes to done.
    const done = await until(() => runRows(page), (rows) => rows[0].state === 'done', 'the run to be done', 300_000);
    expect(done[0].filesDone).toBe(done[0].files);
    expect(await page.textContent(`#runs tr[data-run="${runId}"] .bar`)).toMatch(/ · 100%$/);
    const c = await coord.done;
    expect(c.code, c.stderr.slice(-2000)).toBe(0);
    const summary = readJson<RunSummary>(c.stdout);
    expect(summary.runId).toBe(runId);
    expect(done[0].files).toBe(summary.run.filesParsed);

    // Errors by cause on the run's row, and the files in the recent errors.
    const byCode = summary.index.errorsByCode;
    expect(byCode.binary).toBe(1);
    expect(byCode.syntax).toBeGreaterThanOrEqual(1);
    for (const [code, n] of Object.entries(byCode)) expect(done[0].chips).toContain(`${code} ${n}`);
    const errors = await page.$$eval('#errors tbody tr', (trs) => trs.map((tr) => [tr.children[2].textContent, tr.children[3].textContent]));
    expect(errors).toEqual(expect.arrayContaining([['syntax', 'zz_broken.py'], ['binary', 'zz_blob.py']]));
    await browser.screenshot(page, 'run-done');

    // Drain: the worker reads the request with a heartbeat, finishes, exits 0, and the page greys it out.
    await page.click('#workers tr[data-worker="wa"] button');
    const exit = await wa.done;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toMatch(/drain requested/);
    await until(() => workerRows(page), (rows) => ['stale', 'gone'].includes(rows.find((r) => r.id === 'wa')?.status ?? ''), 'the drained worker to grey out', 30_000);

    // Everything the page loaded came from the dashboard itself, and nothing went wrong in it.
    expect(tab.requests.length).toBeGreaterThan(4);
    expect(tab.requests.filter((u) => !u.startsWith(origin + '/'))).toEqual([]);
    expect(tab.problems).toEqual([]);
    await page.close();
  }, 900_000);

  it('with --token: every request without it gets 401; the page works with it', async () => {
    const ns = freshNamespace('dash-token');
    // Not loopback without a token: one line, exit 2.
    const refused = await runCli(build.bin, ['dashboard', '--redis', server.url(), '--namespace', ns, '--host', '0.0.0.0', '--port', String(await freePort())], 120_000);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^mcp-index: serving the dashboard on 0\.0\.0\.0 \(not a loopback address\) needs a token: pass --token/);

    const token = 'sesame-0123456789';
    const { origin } = await dashboard(ns, ['--host', '0.0.0.0', '--token', token]);
    await worker(ns, 'tw');
    for (const path of ['/', '/assets/app.js', '/assets/uplot.js', '/api/state', '/api/events']) {
      const r = await fetch(origin + path, { signal: AbortSignal.timeout(10_000) });
      expect(r.status, path).toBe(401);
      const wrong = await fetch(origin + path, { headers: { authorization: 'Bearer sesame-wrong-token' }, signal: AbortSignal.timeout(10_000) });
      expect(wrong.status, path).toBe(401);
    }
    const post = await fetch(origin + '/api/queue/pause', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(401);
    const state = await fetch(origin + '/api/state', { headers: { authorization: `Bearer ${token}` } });
    expect(state.status).toBe(200);
    expect(((await state.json()) as { snapshot: { namespace: string } }).snapshot.namespace).toBe(ns);

    // In the browser: without the token a 401; with it, the page (the token moves to a cookie, out of the URL).
    const bare = (await browser.tab()).page;
    const r401 = await bare.goto(origin + '/');
    expect(r401?.status()).toBe(401);
    expect(await bare.textContent('body')).toMatch(/^unauthorized/);
    await bare.close();
    const tab = await browser.tab();
    const { page } = tab;
    const ok = await page.goto(`${origin}/?token=${token}`);
    expect(ok?.status()).toBe(200);
    expect(page.url()).toBe(origin + '/');
    const rows = await until(() => workerRows(page), (r) => r.length === 1 && r[0].status === 'alive', 'the worker listed');
    expect(rows[0].id).toBe('tw');
    expect(await page.textContent('#ns')).toBe(ns);
    // Its actions carry the token too: pause and resume reach Redis.
    const connection = new Redis(server.url(), { maxRetriesPerRequest: null });
    const queue = new Queue('batches', { connection, prefix: ns });
    try {
      await page.click('#pause');
      await waitUntil(() => queue.isPaused(), 'the queue to be paused', 30_000);
      await until(() => page.textContent('#pause'), (t) => t === 'Resume queue', 'the button to offer resume', 30_000);
      await page.click('#pause');
      await waitUntil(async () => !(await queue.isPaused()), 'the queue to run again', 30_000);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    await browser.screenshot(page, 'with-token');
    expect(tab.problems).toEqual([]);
    await page.close();
  }, 300_000);

  it('cancels a run from its row, and retries failed jobs', async () => {
    const ns = freshNamespace('dash-ctl');
    const { origin } = await dashboard(ns);
    const tab = await browser.tab();
    const { page } = tab;
    page.on('dialog', (d) => void d.accept());
    await page.goto(origin + '/');

    // A run with no worker waits for one; Cancel on its row stops its coordinator, which commits nothing.
    const tree = join(tmp, 'cancel-repo');
    pythonTree(tree, { maxBytes: 300_000 });
    const coord = spawnCli(build.bin, [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', join(tmp, 'cancelled.db'), '--batch-bytes', '32KiB', '--progress', 'none'], { name: 'coordinator' });
    procs.push(coord);
    const [run] = await until(() => runRows(page), (rows) => rows.length === 1 && rows[0].state === 'running', 'the run listed');
    await until(() => tile(page, 't-waiting'), (n) => n > 0, 'its batches queued');
    await page.click(`#runs tr[data-run="${run.runId}"] button`);
    const r = await coord.done;
    expect(r.code).toBe(75);
    expect(r.stderr).toContain(`run ${run.runId} was cancelled (from the dashboard)`);
    await until(() => runRows(page), (rows) => rows[0].state === 'cancelled', 'the row to say cancelled', 30_000);
    await until(() => tile(page, 't-waiting'), (n) => n === 0, 'its batches removed from the queue', 30_000);

    // A job that fails (a malformed one, which a worker refuses at once) is retried from the page: it runs again.
    const w = await worker(ns, 'rw');
    const connection = new Redis(server.url(), { maxRetriesPerRequest: null });
    const queue = new Queue('batches', { connection, prefix: ns });
    try {
      await queue.add('batch', { v: 1, runId: 'f00dfeedf00dfeed', batchId: 'b', files: 42 }, { jobId: 'malformed-1', attempts: 1 });
      await until(() => tile(page, 't-failed'), (n) => n === 1, 'the failed job counted', 60_000);
      expect(await page.textContent('#retry')).toBe('Retry failed (1)');
      await page.click('#retry');
      await until(() => page.textContent('#toast'), (t) => /Retried 1 failed job/.test(t ?? ''), 'the page to say it retried', 30_000);
      await waitUntil(() => (w.stderr().match(/rejected malformed job/g) ?? []).length === 2, 'the worker to run the job a second time', 60_000);
      await until(() => tile(page, 't-failed'), (n) => n === 1, 'the job failed again', 60_000);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    const log = (await runCli(build.bin, ['runs', 'list', '--redis', server.url(), '--namespace', ns], 60_000)).stdout;
    expect(log).toMatch(new RegExp(`${run.runId} cancelled .*cancelled \\(from the dashboard\\)`));
    expect(tab.problems).toEqual([]);
    await page.close();
  }, 300_000);

  it('says so when Redis goes away, keeps the last view, and is live again when Redis is back', async () => {
    const ns = freshNamespace('dash-outage');
    const { origin } = await dashboard(ns);
    await worker(ns, 'ow');
    const tab = await browser.tab();
    const { page } = tab;
    await page.goto(origin + '/');
    await until(() => workerRows(page), (r) => r.length === 1, 'the worker listed');
    await server.kill();
    await until(() => page.getAttribute('#conn', 'data-state'), (s) => s === 'redis-error', 'the page to say Redis is away', 60_000);
    expect(await page.textContent('#conn')).toMatch(/^Redis: .* \(showing the cluster as of \d\d:\d\d:\d\d\)$/);
    expect(await page.$eval('main', (m) => Number(getComputedStyle(m).opacity))).toBeLessThan(1);
    expect((await workerRows(page)).map((r) => r.id)).toEqual(['ow']); // the last view stays
    await browser.screenshot(page, 'redis-away');
    await server.restart();
    await until(() => page.getAttribute('#conn', 'data-state'), (s) => s === 'ok', 'the page to be live again', 60_000);
    await until(() => workerRows(page), (r) => r.length === 1 && r[0].status === 'alive', 'the worker alive again (it reconnected)', 60_000);
    await page.close();
  }, 300_000);
});

describe.skipIf(!redisOk.ok)(`retry of failed jobs${redisOk.ok ? '' : ` (skipped: ${redisOk.reason})`}`, () => {
  let build: Build;
  let server: RedisServer;

  beforeAll(async () => {
    ({ build, server } = await startSuite('dashboard-retry'));
  }, 300_000);
  afterAll(() => stopSuite(server), 120_000);

  it("leaves the failed jobs of a run whose coordinator is alive (it has split them), and retries the others afresh", async () => {
    const ns = freshNamespace('retry');
    const { Keys } = await build.load<typeof import('../../src/transport/redis/keys.js')>('transport/redis/keys.js');
    const runs = await build.load<typeof import('../../src/transport/redis/runs.js')>('transport/redis/runs.js');
    const keys = new Keys(ns);
    const redis = new Redis(server.url(), { maxRetriesPerRequest: null });
    const queue = new Queue(keys.queue, { connection: redis, prefix: keys.prefix });
    const failerConn = new Redis(server.url(), { maxRetriesPerRequest: null });
    const failer = new Worker(keys.queue, async () => {
      throw new UnrecoverableError('fails on purpose');
    }, { connection: failerConn, prefix: keys.prefix });
    try {
      // A live run: its record as a coordinator writes it (recordRun), seen just now.
      const live = 'aaaaaaaaaaaaaaaa';
      const record = runs.recordRun(redis, keys, { root: '/repo', priority: 'normal' });
      record.onEvent({ type: 'planned', runId: live, batches: 2, files: 10, bytes: 1000, reused: 0 });
      await waitUntil(async () => (await redis.hget(keys.run(live), 'state')) === 'running', 'the run record');
      await queue.add('batch', { runId: live }, { jobId: 'of-live-run', attempts: 2 });
      await queue.add('batch', { runId: 'bbbbbbbbbbbbbbbb' }, { jobId: 'of-gone-run', attempts: 2 });
      await waitUntil(async () => (await queue.getFailedCount()) === 2, 'both jobs to fail');
      await failer.close();
      const r = await runs.retryFailedJobs(redis, queue, keys);
      expect(r).toEqual({ retried: 1, skipped: 1 });
      expect(await queue.getJobState('of-live-run')).toBe('failed');
      expect(await queue.getJobState('of-gone-run')).toBe('waiting');
      expect((await queue.getJob('of-gone-run'))!.attemptsMade).toBe(0);
      record.stop();
    } finally {
      await failer.close();
      failerConn.disconnect();
      await queue.close();
      redis.disconnect();
    }
  }, 120_000);
});
