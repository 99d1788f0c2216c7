/**
 * Credentials and TLS, against real servers: a wrong password, an ACL user without the rights mcp-index needs, and
 * a TLS server without its CA must each stop both the coordinator (`--cluster`) and `worker` with exit 2 and one
 * stderr line naming the problem; the right password, an ACL user with rights, and rediss:// with --tls-ca work.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshNamespace, freePort, RedisServer, redisAvailability, describeWithRedis } from '../helpers/redis-server.js';
import { cleanupTemp, exportIndex, localIndex, REPO_ROOT, runCli, snapshotBuild, spawnCli, startWorkerProc, tempDir, killLeftoversAfterEach, type Build, type Proc } from './helpers.js';

const avail = redisAvailability({ tls: true });

let build: Build;
let tmp: string;
let tree: string;
let reference: string;
let pw: RedisServer;
let acl: RedisServer;
let tls: RedisServer;
const procs: Proc[] = [];

const lines = (s: string) => s.split('\n').filter((l) => l.trim().length > 0);

interface Failure {
  name: string;
  url: () => string;
  extra?: () => string[];
  message: RegExp;
}

describeWithRedis(avail, 'cluster auth and TLS (real servers)', () => {
  beforeAll(async () => {
    build = await snapshotBuild();
    tmp = tempDir('auth');
    tree = join(tmp, 'repo');
    cpSync(join(REPO_ROOT, 'fixtures/mixed'), tree, { recursive: true });
    await localIndex(build.bin, tree, join(tmp, 'local.db'));
    reference = await exportIndex(build.bin, join(tmp, 'local.db'));
    [pw, acl, tls] = await Promise.all([
      RedisServer.start({ password: 'correct-horse' }),
      RedisServer.start({
        users: [
          { name: 'limited', password: 'pw-limited', rules: '~* -@all +ping' },
          { name: 'indexer', password: 'pw-indexer', rules: '~* &* +@all' },
        ],
      }),
      RedisServer.start({ tls: true }),
    ]);
  }, 300_000);
  killLeftoversAfterEach(procs);
  afterAll(async () => {
    await Promise.all([pw?.stop(), acl?.stop(), tls?.stop()]);
    cleanupTemp();
  }, 120_000);

  const failures: Failure[] = [
    { name: 'a wrong password', url: () => pw.url({ password: 'bad-pass-7f3e' }), message: /rejected the credentials/ },
    // An '@' the user did not encode: the message must not show what follows it either.
    { name: "a wrong password with an unencoded '@'", url: () => `redis://:bad-pass@tail-5c1d@127.0.0.1:${pw.port}`, message: /rejected the credentials/ },
    { name: 'no password where one is required', url: () => pw.url({ password: '' }), message: /requires a password/ },
    { name: 'an ACL user without rights', url: () => acl.url({ user: 'limited', password: 'pw-limited' }), message: /lacks permission.*NOPERM/ },
    { name: 'an ACL user with a wrong password', url: () => acl.url({ user: 'indexer', password: 'bad-pass-91ac' }), message: /rejected the credentials/ },
    { name: 'rediss:// without --tls-ca', url: () => tls.url(), message: /TLS to rediss:\/\/localhost:\d+ failed: .*--tls-ca/ },
    { name: 'rediss:// to an IP without --tls-ca', url: () => tls.url({ host: '127.0.0.1' }), message: /TLS to rediss:\/\/127\.0\.0\.1:\d+ failed: .*--tls-ca/ },
    { name: 'plain redis:// to a TLS-only port', url: () => tls.url().replace('rediss:', 'redis:'), message: /Redis at redis:\/\/localhost:\d+/ },
  ];

  for (const f of failures) {
    it(`exits 2 with one line naming the problem: ${f.name}`, async () => {
      const ns = freshNamespace('auth');
      const url = f.url();
      const runs = {
        coordinator: await runCli(build.bin, [tree, '--cluster', '--redis', url, '--namespace', ns, '--out', join(tmp, `${ns}.db`)], 120_000),
        worker: await runCli(build.bin, ['worker', '--redis', url, '--namespace', ns, '--threads', '1'], 120_000),
      };
      for (const [who, r] of Object.entries(runs)) {
        expect(r.code, `${who}: ${r.stderr}`).toBe(2);
        const ls = lines(r.stderr);
        expect(ls, `${who} stderr:\n${r.stderr}`).toHaveLength(1);
        expect(ls[0]).toMatch(/^mcp-index: /);
        expect(ls[0]).toMatch(f.message);
        // Never echo the password.
        expect(ls[0]).not.toMatch(/bad-pass|tail-5c1d|correct-horse|pw-limited/);
        expect(r.stdout).toBe('');
      }
    }, 300_000);
  }

  it("a password with '@', '/', '#' and ':' works in the URL as written (compose does not encode it)", async () => {
    const nasty = await RedisServer.start({ password: 'p@ss/w#rd:x' });
    try {
      for (const url of [`redis://:p@ss/w#rd:x@127.0.0.1:${nasty.port}`, nasty.url()]) {
        const r = await runCli(build.bin, ['status', '--redis', url], 120_000);
        expect(r.code, `${url}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(/^cluster mcp-index/);
      }
    } finally {
      await nasty.stop();
    }
  }, 300_000);

  it('exits 2 with one line when Redis is unreachable', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    for (const args of [[tree, '--cluster', '--redis', url, '--out', join(tmp, 'unreachable.db')], ['worker', '--redis', url]]) {
      const r = await runCli(build.bin, args, 120_000);
      expect(r.code, r.stderr).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(/^mcp-index: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    }
  }, 300_000);

  const successes: { name: string; url: () => string; extra?: () => string[] }[] = [
    { name: 'the password in the URL', url: () => pw.url() },
    { name: 'an ACL user name and password in the URL', url: () => acl.url({ user: 'indexer', password: 'pw-indexer' }) },
    { name: 'rediss:// with --tls-ca', url: () => tls.url(), extra: () => ['--tls-ca', tls.tlsFiles!.ca] },
  ];
  for (const s of successes) {
    it(`indexes through the cluster with ${s.name}`, async () => {
      const ns = freshNamespace('auth-ok');
      const extra = s.extra?.() ?? [];
      const w = await startWorkerProc(build.bin, ['--redis', s.url(), '--namespace', ns, '--threads', '1', ...extra], { name: 'auth-ok' });
      procs.push(w);
      const out = join(tmp, `${ns}.db`);
      const coord = spawnCli(build.bin, [tree, '--cluster', '--redis', s.url(), '--namespace', ns, '--out', out, '--quiet', ...extra], { timeoutMs: 300_000 });
      procs.push(coord);
      const r = await coord.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe(''); // no warnings either (e.g. none about TLS server names)
      expect(await exportIndex(build.bin, out)).toBe(reference);
      await w.kill('SIGTERM');
      expect((await w.done).code).toBe(0);
    }, 300_000);
  }
});
