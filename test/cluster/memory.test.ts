/**
 * --max-memory with real processes: a deeply nested 5 MB Python file whose parse needs over 1 GB of native memory, and
 * worker processes under `up` that pass their cap between batches (real redis-server, real tree-sitter).
 */
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { vmHwmMb } from '../../src/bench/proc.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, freshNamespace, redisAvailability, type RedisServer } from '../helpers/redis-server.js';
import { exportIndex, killLeftoversAfterEach, localIndex, REPO_ROOT, runCli, spawnCli, startSuite, stopSuite, type Build, type Proc } from './helpers.js';

const avail = redisAvailability();

/** 5 MB of `x = [[[...1...]]]`, 2,000 deep: tree-sitter's tree for it takes about 1.2 GB. */
function deepPython(): string {
  const line = `x = ${'['.repeat(2000)}1${']'.repeat(2000)}\n`;
  return line.repeat(Math.ceil((5 * 1024 * 1024) / line.length));
}

const fileLines = (jsonl: string) => jsonl.split('\n').filter((l) => l.startsWith('{"type":"file"')).map((l) => JSON.parse(l) as { path: string; status: string; error_code: string | null });

describeWithRedis(avail, '--max-memory (real processes)', () => {
  let build: Build;
  let server: RedisServer;
  let tmp: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    ({ build, server, tmp } = await startSuite('memory'));
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(() => stopSuite(server), 120_000);

  it('a file whose parse needs more than the cap is an "oom" file error; the run completes near its cap', async () => {
    const tree = join(tmp, 'deep');
    cpSync(join(REPO_ROOT, 'fixtures/mixed'), tree, { recursive: true });
    writeFileSync(join(tree, 'deep.py'), deepPython());
    const out = join(tmp, 'deep.db');
    const r = await runCli(build.bin, [tree, '--out', out, '--threads', '1', '--max-file-size', '8MiB', '--max-memory', '256MiB']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/errors: +\d+ files \(.*oom 1/);
    const peak = Number(/peak RSS (\d+) MB/.exec(r.stderr)?.[1]);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(600); // uncapped, this file takes the process to about 1.3 GB
    const files = fileLines(await exportIndex(build.bin, out));
    expect(files.find((f) => f.path === 'deep.py')).toMatchObject({ status: 'error', error_code: 'oom' });
    // Every other file indexed as without the cap.
    const ref = join(tmp, 'deep-ref.db');
    await localIndex(build.bin, tree, ref, ['--exclude', 'deep.py']);
    expect(files.filter((f) => f.path !== 'deep.py')).toEqual(fileLines(await exportIndex(build.bin, ref)));
  }, 300_000);

  it('a worker past its cap between batches hands back what it has not started and exits 76; up restarts it; the run is complete', async () => {
    const ns = freshNamespace('mem');
    const tree = join(tmp, 'mixed');
    cpSync(join(REPO_ROOT, 'fixtures/mixed'), tree, { recursive: true });
    // A cap below what a worker process needs at rest: it passes it after every batch.
    const up = spawnCli(build.bin, ['up', '--workers', '1', '--redis', server.url(), '--namespace', ns, '--root', tree, '--max-memory', '96MiB', '--restart-delay-ms', '100', '--log-level', 'info'], { name: 'up' });
    procs.push(up);
    await up.waitFor(/worker ready/, 120_000);
    const out = join(tmp, 'mem.db');
    const coord = spawnCli(build.bin, [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--batch-files', '2', '--no-cache', '--progress', 'none'], { name: 'coordinator', timeoutMs: 300_000 });
    procs.push(coord);
    const cr = await coord.done;
    expect(cr.code, cr.stderr + up.stderr()).toBe(0);
    await localIndex(build.bin, tree, join(tmp, 'mem-local.db'));
    expect(await exportIndex(build.bin, out)).toBe(await exportIndex(build.bin, join(tmp, 'mem-local.db')));
    const log = up.stderr();
    expect(log).toMatch(/over its memory cap between batches: handing back the batches not started and stopping/);
    expect(log).toMatch(/worker process passed its memory cap: restarting/);
    expect(log).toMatch(/"code":76/);
    expect(log).not.toMatch(/worker process died/);
    await up.kill('SIGTERM');
  }, 300_000);

  it('a file that gets its worker process killed (an OOM kill from outside) is quarantined after two deaths; the rest of the run is exact', async () => {
    const ns = freshNamespace('killer');
    const tree = join(tmp, 'killer');
    cpSync(join(REPO_ROOT, 'fixtures/mixed'), tree, { recursive: true });
    writeFileSync(join(tree, 'deep.py'), deepPython());
    // No --max-memory: the worker grows until the "kernel" (this test, as a container's memory limit would) kills it.
    const up = spawnCli(build.bin, ['up', '--workers', '1', '--threads-per-worker', '1', '--redis', server.url(), '--namespace', ns, '--root', tree, '--max-file-size', '8MiB', '--lock-ms', '2000', '--restart-delay-ms', '100', '--log-level', 'info'], { name: 'up' });
    procs.push(up);
    await up.waitFor(/worker ready/, 120_000);
    const killed: number[] = [];
    const oomKiller = setInterval(() => {
      for (const m of up.stderr().matchAll(/"workerPid":(\d+)/g)) {
        const pid = Number(m[1]);
        if (killed.includes(pid) || (vmHwmMb(pid) ?? 0) < 600) continue;
        killed.push(pid);
        process.kill(pid, 'SIGKILL');
      }
    }, 20);
    try {
      const out = join(tmp, 'killer.db');
      const coord = spawnCli(build.bin, [tree, '--cluster', '--redis', server.url(), '--namespace', ns, '--out', out, '--batch-files', '4', '--no-cache', '--max-file-size', '8MiB', '--progress', 'none'], { name: 'coordinator', timeoutMs: 240_000 });
      procs.push(coord);
      const cr = await coord.done;
      expect(cr.code, cr.stderr + up.stderr()).toBe(0);
      expect(killed).toHaveLength(2); // BullMQ alone re-delivers a batch 10 times, then retries and splits it
      const files = fileLines(await exportIndex(build.bin, out));
      expect(files.find((f) => f.path === 'deep.py')).toMatchObject({ status: 'error', error_code: 'worker-crash' });
      const ref = join(tmp, 'killer-ref.db');
      await localIndex(build.bin, tree, ref, ['--exclude', 'deep.py']);
      expect(files.filter((f) => f.path !== 'deep.py')).toEqual(fileLines(await exportIndex(build.bin, ref)));
      expect(up.stderr()).toMatch(/"path":"deep.py","deaths":2,"msg":"quarantined a file that killed its worker process"/);
      const redis = new Redis(server.url());
      try {
        expect(await redis.keys(`${ns}:result:*`)).toEqual([]); // the deaths recorded went with the batch's result
      } finally {
        redis.disconnect();
      }
    } finally {
      clearInterval(oomKiller);
    }
    await up.kill('SIGTERM');
  }, 300_000);
});
