/**
 * The start-up permission check covers every command the cluster uses:
 * - ACL users without write rights on the namespace (or on part of it), without BZPOPMIN or without INFO are
 *   refused by the coordinator and the worker with one line and exit 2 (before: a worker without BZPOPMIN said
 *   "worker started" and then logged NOPERM in a loop; a coordinator without INFO died with a stack trace);
 * - every command a real cluster sends (coordinator runs, worker, status, runs list/cancel/purge, a failed run's
 *   clean-up, the dashboard and its actions), as MONITOR sees it, is in the list the check derives from the code.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, freshNamespace, RedisServer, redisAvailability } from '../helpers/redis-server.js';
import { freePort } from '../helpers/redis-server.js';
import { cleanupTemp, killLeftoversAfterEach, REPO_ROOT, runCli, snapshotBuild, spawnCli, startWorkerProc, tempDir, type Build, type Proc } from './helpers.js';

type CommandsMod = typeof import('../../src/transport/redis/commands.js');

const avail = redisAvailability();
const lines = (s: string) => s.split('\n').filter((l) => l.trim().length > 0);

let build: Build;
let tmp: string;
let tree: string;
let acl: RedisServer;
let plain: RedisServer;
const procs: Proc[] = [];

describeWithRedis(avail, 'permission preflight (real Redis ACLs, real processes)', () => {
  beforeAll(async () => {
    build = await snapshotBuild();
    tmp = tempDir('permissions');
    tree = join(tmp, 'repo');
    cpSync(join(REPO_ROOT, 'fixtures/mixed'), tree, { recursive: true });
    [acl, plain] = await Promise.all([
      RedisServer.start({
        users: [
          { name: 'readonly', password: 'pw-ro', rules: '%R~* &* +@all' },
          { name: 'nobzpopmin', password: 'pw-nb', rules: '~* &* +@all -bzpopmin' },
          { name: 'noinfo', password: 'pw-ni', rules: '~* &* +@all -info' },
          { name: 'noresults', password: 'pw-nr', rules: '~perm-*:blob:* ~perm-*:run* ~perm-*:worker* ~perm-*:cache:* ~perm-*:batches:* &* +@all' },
        ],
      }),
      RedisServer.start(),
    ]);
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(async () => {
    await Promise.all([acl?.stop(), plain?.stop()]);
    cleanupTemp();
  }, 120_000);

  const refusals = [
    { user: 'readonly', password: 'pw-ro', message: /^mcp-index: Redis user "readonly" may not read and write keys mcp-index uses \(NOPERM\): perm-\w+:blob:\*, perm-\w+:result:\*, .*perm-\w+:batches:\*; grant them: ACL SETUSER readonly ~perm-\w+:\*$/ },
    // Rights on most of the namespace, but not on results: the worker could take batches and never store one.
    { user: 'noresults', password: 'pw-nr', message: /^mcp-index: Redis user "noresults" may not read and write keys mcp-index uses \(NOPERM\): perm-\w+:result:\*; grant them/ },
    { user: 'nobzpopmin', password: 'pw-nb', message: /^mcp-index: Redis user "nobzpopmin" lacks permissions mcp-index needs \(NOPERM\): bzpopmin; grant them: ACL SETUSER nobzpopmin \+bzpopmin$/ },
    { user: 'noinfo', password: 'pw-ni', message: /^mcp-index: Redis user "noinfo" lacks permissions mcp-index needs \(NOPERM\): info; grant them: ACL SETUSER noinfo \+info$/ },
  ];
  for (const f of refusals) {
    it(`refuses an ACL user "${f.user}" at start-up with one line: coordinator and worker`, async () => {
      const ns = freshNamespace('perm');
      const url = acl.url({ user: f.user, password: f.password });
      const runs = {
        coordinator: await runCli(build.bin, [tree, '--cluster', '--redis', url, '--namespace', ns, '--out', join(tmp, `${ns}.db`)], 120_000),
        worker: await runCli(build.bin, ['worker', '--redis', url, '--namespace', ns, '--threads', '1'], 120_000),
      };
      for (const [who, r] of Object.entries(runs)) {
        expect(r.code, `${who}: ${r.stderr}`).toBe(2);
        expect(lines(r.stderr), who).toEqual([expect.stringMatching(f.message)]);
      }
    }, 300_000);
  }

  it('every command a real cluster sends, as MONITOR sees it, is in the derived list', async () => {
    const { neededCommands } = await build.load<CommandsMod>('transport/redis/commands.js');
    const needed = new Set(neededCommands());
    const seen = new Map<string, string>();
    const monitorConn = new Redis(plain.url());
    const monitor = await monitorConn.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const name = args[0].toLowerCase();
      const full = name === 'client' && args[1] ? `${name}|${args[1].toLowerCase()}` : name;
      if (!seen.has(full)) seen.set(full, `${args.slice(0, 3).join(' ')} (from ${source})`);
    });
    try {
      const ns = freshNamespace('mon');
      const url = plain.url();
      const cli = (args: string[]) => runCli(build.bin, [...args, '--redis', url, '--namespace', ns], 120_000);
      const w = await startWorkerProc(build.bin, ['--redis', url, '--namespace', ns, '--threads', '1', '--root', tree], { name: 'mon' });
      procs.push(w);
      const port = await freePort();
      const dashboard = spawnCli(build.bin, ['dashboard', '--redis', url, '--namespace', ns, '--port', String(port)], { name: 'dashboard' });
      procs.push(dashboard);
      await dashboard.waitFor(/dashboard at/, 60_000);
      const act = (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status);
      const index = (out: string, extra: string[] = []) =>
        runCli(build.bin, [tree, '--cluster', '--redis', url, '--namespace', ns, '--out', join(tmp, out), '--batch-files', '4', '--stall-warning', '1', '--quiet', ...extra], 120_000);
      // A run that parses (and fills the result cache), one answered from the cache, and the read-only commands.
      expect((await index(`${ns}-a.db`)).code).toBe(0);
      expect((await index(`${ns}-b.db`)).code).toBe(0);
      expect((await cli(['status'])).code).toBe(0);
      expect((await cli(['runs', 'list'])).code).toBe(0);
      // The dashboard's actions; a graceful worker stop (a drain it asks for); then a run nobody serves: interrupted,
      // resumed into a deadline failure (clean-up).
      for (const path of ['/api/queue/pause', '/api/queue/resume', '/api/queue/retry-failed', '/api/workers/mon/drain']) expect(await act(path)).toBe(200);
      expect((await w.done).code).toBe(0);
      const alone = spawnCli(build.bin, [tree, '--cluster', '--redis', url, '--namespace', ns, '--out', join(tmp, `${ns}-c.db`), '--batch-files', '4', '--no-cache', '--progress', 'plain'], { timeoutMs: 120_000 });
      procs.push(alone);
      await alone.waitFor(/planned/, 60_000);
      await new Promise((r) => setTimeout(r, 1500));
      alone.child.kill('SIGINT');
      expect((await alone.done).code).toBe(130);
      expect((await index(`${ns}-c.db`, ['--no-cache', '--deadline', '2'])).code).toBe(75);
      // Cancelling and purging runs.
      expect((await cli(['runs', 'cancel', '0123456789abcdef'])).code).toBe(2);
      expect((await cli(['runs', 'purge', '--older-than', '0'])).code).toBe(0);
      await dashboard.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500)); // the last commands reach the monitor
    } finally {
      monitorConn.disconnect();
    }
    // The monitor saw the cluster at work (the worker's wait, scripts, the version check)...
    for (const c of ['bzpopmin', 'evalsha', 'info', 'xread', 'scan']) expect([...seen.keys()]).toContain(c);
    // ...and nothing the start-up check does not cover.
    const missing = [...seen.entries()].filter(([c]) => !needed.has(c)).map(([c, example]) => `${c}: ${example}`);
    expect(missing).toEqual([]);
  }, 300_000);
});
