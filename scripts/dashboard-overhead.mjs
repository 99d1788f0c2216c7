#!/usr/bin/env node
/**
 * What an open dashboard costs a cluster: its Redis calls per second, and a cluster run's wall time with and without
 * it, side by side.
 *
 *   npx tsc -p . && node scripts/dashboard-overhead.mjs [--reps 5] [--tree DIR] [--idle-seconds 30]
 *
 * A private redis-server on a free port, two `mcp-index worker` processes of one thread each (kept for the whole
 * measurement), the tree (default: the Python standard library, 8 MB) indexed with `--cluster --no-cache --full`.
 * 1. Calls: MONITOR, for `--idle-seconds` while idle and again during a run, counting the commands sent by the
 *    dashboard's own connections (found with CLIENT LIST as the ones its start added), and the commands its
 *    scripts (BullMQ's counts) ran inside Redis.
 * 2. Wall time: runs alternate without the dashboard, with its process alone, and with its process plus a headless
 *    Chromium page following it (on this same host), after one warm-up of each; medians, ratios, and the CPU time
 *    the dashboard and the browser used during each run. Needs /usr/bin/chromium (or CHROMIUM_PATH).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { chromium } from 'playwright-core';

const { values: args } = parseArgs({ options: { reps: { type: 'string', default: '5' }, tree: { type: 'string' }, 'idle-seconds': { type: 'string', default: '30' }, 'max-mb': { type: 'string', default: '8' } } });
const REPS = Math.max(1, Number(args.reps));
const IDLE_S = Number(args['idle-seconds']);
const BIN = resolve(import.meta.dirname, '../bin/mcp-index.js');
const tmp = mkdtempSync(join(tmpdir(), 'mcp-index-dashboard-overhead-'));
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

function start(cmd, argv, name, waitFor) {
  const c = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  let err = '';
  c.stderr.on('data', (d) => (err += d));
  c.stdout.on('data', (d) => (err += d));
  c.on('exit', () => children.delete(c));
  const ready = new Promise((res, rej) => {
    const t = setInterval(() => {
      if (waitFor.test(err)) clearInterval(t), res();
      else if (c.exitCode !== null) clearInterval(t), rej(new Error(`${name} exited: ${err}`));
    }, 50);
  });
  return { c, ready, log: () => err };
}

function tree() {
  if (args.tree) return resolve(args.tree);
  const lib = spawnSync('python3', ['-c', 'import sysconfig;print(sysconfig.get_paths()["stdlib"])'], { encoding: 'utf8' }).stdout.trim();
  const dest = join(tmp, 'tree');
  let bytes = 0;
  const max = Number(args['max-mb']) * 1e6;
  const walk = (rel) => {
    for (const e of readdirSync(join(lib, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (bytes >= max) return;
      if (e.isDirectory() && !['test', 'tests', 'site-packages', '__pycache__', 'idle_test'].includes(e.name)) walk(r);
      else if (e.isFile() && e.name.endsWith('.py')) {
        const size = statSync(join(lib, r)).size;
        if (size > 900 * 1024) continue;
        mkdirSync(dirname(join(dest, r)), { recursive: true });
        cpSync(join(lib, r), join(dest, r));
        bytes += size;
      }
    }
  };
  walk('');
  return dest;
}

const root = tree();
const redisPort = await freePort();
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const redisDir = join(tmp, 'redis');
mkdirSync(redisDir);
await start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'], 'redis-server', /Ready to accept/).ready;
const ns = 'overhead';
const admin = new Redis(redisUrl);
for (const i of [0, 1]) await start(process.execPath, [BIN, 'worker', '--redis', redisUrl, '--namespace', ns, '--threads', '1', '--name', `w${i}`, '--root', root], `worker ${i}`, /worker started/).ready;

const clientAddrs = async () => new Set((await admin.client('LIST')).split('\n').filter(Boolean).map((l) => /addr=(\S+)/.exec(l)[1]));

/** The dashboard and a Chromium page following it; `addrs` are the dashboard's Redis connections. */
async function openDashboard({ page: withPage = true } = {}) {
  const before = await clientAddrs();
  const port = await freePort();
  const d = start(process.execPath, [BIN, 'dashboard', '--redis', redisUrl, '--namespace', ns, '--port', String(port), '--log-level', 'warn'], 'dashboard', /dashboard at/);
  const profile = mkdtempSync(join(tmp, 'profile-'));
  await d.ready;
  await sleep(500);
  const addrs = new Set([...(await clientAddrs())].filter((a) => !before.has(a)));
  const browser = withPage
    ? await chromium.launchPersistentContext(profile, {
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      })
    : null;
  if (browser) {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#conn.ok');
  }
  await sleep(3000); // the page's own start (first layout, fonts, compiling its script) is not the run's cost
  return {
    addrs,
    /** CPU ms used so far by the dashboard process and by the browser. */
    cpu: () => ({ dashboard: cpuMs(`dashboard\0--redis\0${redisUrl}\0--namespace\0${ns}\0--port\0${port}`), browser: cpuMs(profile) }),
    async close() {
      await browser?.close();
      d.c.kill('SIGTERM');
      await new Promise((r) => (d.c.exitCode !== null ? r() : d.c.once('exit', r)));
    },
  };
}

/** Commands the dashboard's connections send over `seconds`, and those its scripts run inside Redis. */
async function countCalls(addrs, seconds, during) {
  const mon = new Redis(redisUrl);
  const monitor = await mon.monitor();
  const counts = { calls: 0, inScripts: 0, byCommand: {} };
  let lastWasOurs = false;
  monitor.on('monitor', (_t, argv, source) => {
    if (source === 'lua') {
      if (lastWasOurs) counts.inScripts++;
      return;
    }
    lastWasOurs = addrs.has(source.split(' ').pop());
    if (!lastWasOurs) return;
    counts.calls++;
    const c = argv[0].toLowerCase();
    counts.byCommand[c] = (counts.byCommand[c] ?? 0) + 1;
  });
  const t0 = Date.now();
  await (during ? during() : sleep(seconds * 1000));
  const secs = (Date.now() - t0) / 1000;
  mon.disconnect();
  return { seconds: secs, callsPerSec: counts.calls / secs, inScriptsPerSec: counts.inScripts / secs, byCommandPerSec: Object.fromEntries(Object.entries(counts.byCommand).map(([k, v]) => [k, +(v / secs).toFixed(2)])) };
}

let runNo = 0;
async function run() {
  const out = join(tmp, `index-${runNo++}.db`);
  const t0 = performance.now();
  const c = spawn(process.execPath, [BIN, root, '--cluster', '--redis', redisUrl, '--namespace', ns, '--out', out, '--full', '--no-cache', '--quiet', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  c.stdout.on('data', (d) => (stdout += d));
  c.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((r) => c.once('close', r));
  const wall = performance.now() - t0;
  if (code !== 0) throw new Error(`run failed (${code}): ${stderr}`);
  rmSync(out, { force: true });
  const s = JSON.parse(stdout.trim().split('\n').pop());
  return { wallMs: wall, files: s.run.filesParsed, bytes: s.run.bytesParsed };
}

/** CPU time (user + system, ms) the processes whose command line contains `marker` have used so far. */
function cpuMs(marker) {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) continue;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10; // USER_HZ = 100
}

// 1. Redis calls of an open dashboard: idle, then during a run.
const d = await openDashboard();
const idle = await countCalls(d.addrs, IDLE_S);
let duringRun;
const processed = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))[1]);
const before = await processed();
const busy = await countCalls(d.addrs, 0, async () => (duringRun = await run()));
const clusterPerSec = ((await processed()) - before) / busy.seconds;
await d.close();
console.log(`dashboard Redis calls (2 workers, ${d.addrs.size} connections): idle ${idle.callsPerSec.toFixed(1)}/s (+${idle.inScriptsPerSec.toFixed(1)}/s inside its scripts) over ${idle.seconds.toFixed(0)} s;` +
  ` during a run ${busy.callsPerSec.toFixed(1)}/s (+${busy.inScriptsPerSec.toFixed(1)}/s inside scripts) over ${busy.seconds.toFixed(0)} s`);
console.log(`  idle, by command (/s): ${JSON.stringify(idle.byCommandPerSec)}`);
console.log(`  during a run, by command (/s): ${JSON.stringify(busy.byCommandPerSec)}`);
console.log(`  Redis's total_commands_processed during that run (the whole cluster): ${clusterPerSec.toFixed(0)}/s; the dashboard's share ${(((busy.callsPerSec + busy.inScriptsPerSec) / clusterPerSec) * 100).toFixed(2)} %`);
console.log(`tree: ${duringRun.files} files, ${(duringRun.bytes / 1e6).toFixed(1)} MB`);

// 2. Wall time, alternating: no dashboard; the dashboard process alone; the dashboard with a page following it.
const kinds = ['none', 'server', 'page'];
const walls = { none: [], server: [], page: [] };
const cpu = { server: [], page: [], browser: [] };
for (let i = -1; i < REPS; i++) {
  const line = [];
  for (const kind of kinds) {
    const dd = kind === 'none' ? null : await openDashboard({ page: kind === 'page' });
    const c0 = dd?.cpu();
    const r = await run();
    const c1 = dd?.cpu();
    await dd?.close();
    if (i < 0) continue; // warm-up
    walls[kind].push(r.wallMs);
    if (dd) cpu[kind].push(c1.dashboard - c0.dashboard);
    if (kind === 'page') cpu.browser.push(c1.browser - c0.browser);
    line.push(`${kind} ${(r.wallMs / 1000).toFixed(2)} s` + (dd ? ` (dashboard ${c1.dashboard - c0.dashboard} ms CPU${kind === 'page' ? `, browser ${c1.browser - c0.browser} ms` : ''})` : ''));
  }
  if (i >= 0) console.log(`round ${i + 1}: ${line.join('; ')} (load ${loadavg()[0].toFixed(2)})`);
}
const m = Object.fromEntries(kinds.map((k) => [k, median(walls[k])]));
console.log(`wall time, median of ${REPS}: no dashboard ${(m.none / 1000).toFixed(2)} s; dashboard process ${(m.server / 1000).toFixed(2)} s (x${(m.server / m.none).toFixed(3)}); dashboard + a Chromium page on the same host ${(m.page / 1000).toFixed(2)} s (x${(m.page / m.none).toFixed(3)})`);
console.log(`CPU during a run, median: dashboard process ${median(cpu.server)} ms (alone), ${median(cpu.page)} ms (with a page); the browser ${median(cpu.browser)} ms`);
admin.disconnect();
process.exit(0);
