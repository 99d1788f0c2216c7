#!/usr/bin/env node
/**
 * Cluster overhead on one machine: local mode with --threads 2 against cluster mode with 2 worker processes of 1
 * thread each (started before timing, sharing the checkout with --root), on the Python standard library.
 *
 *   npx tsc -p . && node scripts/bench-cluster.mjs [--reps 3] [--max-mb 13] [--tree DIR]
 *
 * Runs alternate (local, cluster, local, cluster, ...) after one warm-up of each, every run with --full and a fresh
 * output file, so both parse everything. Prints each wall time, the medians and the ratio cluster/local (target
 * <= 1.2), and the CPU time each mode used (less sensitive to a loaded machine than wall time).
 * Needs redis-server on PATH (started privately on a free port, AOF everysec) and python3 (to find the stdlib).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'max-mb': { type: 'string', default: '13' },
    tree: { type: 'string' },
    'batch-bytes': { type: 'string' },
  },
});
const REPS = Math.max(1, Number(args.reps));
const BIN = resolve(import.meta.dirname, '../bin/mcp-index.js');
const tmp = mkdtempSync(join(tmpdir(), 'mcp-index-bench-cluster-'));
const children = new Set();
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function die(msg) {
  console.error(`bench-cluster: ${msg}`);
  process.exit(2);
}

/** The standard library's modules without its test suites and installed packages (what the cluster tests use). */
function stdlibTree(dest, maxBytes) {
  const r = spawnSync('python3', ['-c', 'import sysconfig;print(sysconfig.get_paths()["stdlib"])'], { encoding: 'utf8' });
  if (r.status !== 0) die('python3 is needed to find the standard library (or pass --tree DIR)');
  const lib = r.stdout.trim();
  const skip = new Set(['test', 'tests', 'site-packages', '__pycache__', 'idle_test', 'ensurepip', 'lib2to3', 'turtledemo']);
  const names = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(lib, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && !skip.has(e.name) && !e.name.startsWith('config-')) walk(p);
      else if (e.isFile() && e.name.endsWith('.py')) names.push(p);
    }
  };
  walk('');
  let bytes = 0;
  let files = 0;
  for (const n of names) {
    const size = statSync(join(lib, n)).size;
    if (size > 900 * 1024) continue;
    if (bytes + size > maxBytes) break;
    mkdirSync(dirname(join(dest, n)), { recursive: true });
    cpSync(join(lib, n), join(dest, n));
    bytes += size;
    files++;
  }
  return { lib, files, bytes };
}

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

function start(cmd, argv, readyRe) {
  const c = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(c);
  c.once('exit', () => children.delete(c));
  let log = '';
  return new Promise((res, rej) => {
    const on = (d) => {
      log += d;
      if (readyRe.test(log)) res(c);
    };
    c.stdout.on('data', on);
    c.stderr.on('data', on);
    c.once('exit', (code, sig) => rej(new Error(`${cmd} ${argv.join(' ')} exited (${code ?? sig}) before it was ready:\n${log}`)));
  });
}

const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);

/** CPU time (user + system, all threads) a live process has used so far, in ms; null once it is gone. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime (fields 14 and 15)
  } catch {
    return null;
  }
}

/**
 * Runs the CLI to completion; returns wall ms, the run's own totalMs, and the CPU ms of the process (sampled every
 * 20 ms until it exits: wall time moves with the machine's load, CPU time much less).
 */
function timed(argv) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const c = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    let out = '';
    let err = '';
    let cpu = 0;
    const sampler = setInterval(() => (cpu = cpuMs(c.pid) ?? cpu), 20);
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.once('exit', (code) => {
      clearInterval(sampler);
      children.delete(c);
      const wallMs = performance.now() - t0;
      if (code !== 0) return rej(new Error(`mcp-index ${argv.join(' ')} exited ${code}:\n${err}`));
      const summary = JSON.parse(out.trim().split('\n').pop());
      res({ wallMs, cpuMs: cpu, totalMs: summary.timings.totalMs, indexMs: summary.timings.indexMs, batches: summary.run.batches, files: summary.index.files });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  if (spawnSync('redis-server', ['--version']).error) die('redis-server is not on PATH');
  let tree = args.tree ? resolve(args.tree) : join(tmp, 'stdlib');
  let desc = tree;
  if (!args.tree) {
    const t = stdlibTree(tree, Number(args['max-mb']) * 1e6);
    desc = `${t.lib} (${t.files} modules, ${(t.bytes / 1e6).toFixed(1)} MB, tests excluded)`;
  }
  const extra = ['--full', '--quiet', '--json', ...(args['batch-bytes'] ? ['--batch-bytes', args['batch-bytes']] : [])];

  const port = await freePort();
  const rdir = join(tmp, 'redis');
  mkdirSync(rdir);
  const redisProc = await start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', rdir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction', '--logfile', ''], /Ready to accept connections/);
  const url = `redis://127.0.0.1:${port}`;
  const ns = `bench-${process.pid}`;
  const workers = await Promise.all(
    [0, 1].map((i) => start(process.execPath, [BIN, 'worker', '--redis', url, '--namespace', ns, '--threads', '1', '--root', tree, '--name', `bench-${i}`, '--log-level', 'info'], /worker started/)),
  );

  // Cluster CPU = the coordinator's + what the two workers and Redis used during the run.
  const serverCpu = () => [redisProc, ...workers].reduce((n, c) => n + (cpuMs(c.pid) ?? 0), 0);
  const run = async (mode, i) => {
    if (mode === 'local') return timed([tree, '--out', join(tmp, `local-${i}.db`), '--threads', '2', ...extra]);
    const before = serverCpu();
    const r = await timed([tree, '--cluster', '--redis', url, '--namespace', ns, '--out', join(tmp, `cluster-${i}.db`), ...extra]);
    return { ...r, cpuMs: r.cpuMs + serverCpu() - before };
  };

  console.log(`tree:     ${desc}`);
  console.log(`machine:  ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`local:    --threads 2 (one process)`);
  console.log(`cluster:  2 worker processes x 1 thread, --root shared checkout, Redis 127.0.0.1 (AOF everysec)`);
  const w1 = await run('local', 'warm');
  const w2 = await run('cluster', 'warm');
  console.log(`warm-up:  local ${fmt(w1.wallMs)}, cluster ${fmt(w2.wallMs)} (${w1.files} files, ${w1.batches} batches)`);
  const times = { local: [], cluster: [] };
  const cpu = { local: [], cluster: [] };
  for (let i = 0; i < REPS; i++) {
    for (const mode of ['local', 'cluster']) {
      const r = await run(mode, i);
      times[mode].push(r.wallMs);
      cpu[mode].push(r.cpuMs);
      console.log(`rep ${i + 1} ${mode.padEnd(8)} wall ${fmt(r.wallMs)}  cpu ${fmt(r.cpuMs)}  (run total ${fmt(r.totalMs)}, index phase ${fmt(r.indexMs)})`);
    }
  }
  // Same tree, same answer: compare one export of each.
  const exp = (db) => spawnSync(process.execPath, [BIN, 'export', '--index', db], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout;
  const equal = exp(join(tmp, 'local-0.db')) === exp(join(tmp, 'cluster-0.db'));
  const ml = median(times.local);
  const mc = median(times.cluster);
  console.log(`median:   local ${fmt(ml)}, cluster ${fmt(mc)}`);
  console.log(`ratio:    cluster/local = ${(mc / ml).toFixed(2)} (target <= 1.20)${mc / ml <= 1.2 ? '' : '  ABOVE TARGET'}`);
  const cl = median(cpu.local);
  const cc = median(cpu.cluster);
  console.log(`cpu:      local ${fmt(cl)}, cluster ${fmt(cc)} (coordinator + workers + redis), ratio ${(cc / cl).toFixed(2)}`);
  console.log(`spread:   local ${fmt(Math.min(...times.local))}..${fmt(Math.max(...times.local))}, cluster ${fmt(Math.min(...times.cluster))}..${fmt(Math.max(...times.cluster))}; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`exports:  ${equal ? 'byte-equal' : 'DIFFERENT (bug!)'}`);
  process.exitCode = equal ? 0 : 1;
}

/** Workers first (they drain through Redis), then Redis; whatever hangs is killed after 30 s. */
async function shutdown() {
  const stop = async (list) => {
    await Promise.all(
      list.map((c) => {
        if (c.exitCode !== null || c.signalCode !== null) return null;
        const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
        return new Promise((r) => c.once('exit', () => (clearTimeout(t), r())));
      }),
    );
  };
  const all = [...children];
  const workers = all.filter((c) => c.spawnargs.includes('worker'));
  for (const c of workers) c.kill('SIGTERM');
  await stop(workers);
  for (const c of all) if (!workers.includes(c)) c.kill('SIGTERM');
  await stop(all);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(shutdown);
