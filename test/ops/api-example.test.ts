/**
 * The README's programmatic API example, verbatim, run as a program: `import ... from 'mcp-index'` resolves to the
 * built package (a snapshot of dist/ linked as node_modules/mcp-index), against a real redis-server. It must print
 * its results and exit by itself (nothing left open). It also type-checks as TypeScript against dist/api.d.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, cliEnv, pythonTree, REPO_ROOT, snapshotBuild, tempDir, type Build } from '../cluster/helpers.js';
import { RedisServer, redisAvailability, describeWithRedis } from '../helpers/redis-server.js';

/** README.md, section "Programmatic API": keep the two identical. */
export const README_EXAMPLE = `import { indexRepository, createCoordinator, createWorker } from 'mcp-index';

// Local mode: a pool of threads in this process.
const local = await indexRepository('./my-repo', {
  threads: 2,
  onProgress: (p) => process.stderr.write(\`\${p.phase}: \${p.filesDone}/\${p.filesTotal} files\\n\`),
});
console.log(\`local: \${local.index.files} files, \${local.index.symbols} symbols\`);

// Cluster mode: workers (on any host; here one in this process) pull batches from Redis.
const redis = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const worker = await createWorker({ redis, threads: 2, root: './my-repo' });
worker.on('batch-completed', (b) => console.log(\`worker: \${b.files} files, \${b.symbols} symbols\`));

const coordinator = await createCoordinator({ redis });
coordinator.on('worker-lost', (w) => console.error(\`lost worker \${w.id}\`));
const summary = await coordinator.index('./my-repo', { out: './my-repo.index.db', priority: 'high' });
console.log(\`cluster: \${summary.index.files} files, \${summary.index.symbols} symbols\`);

await coordinator.close();
await worker.close();
`;

const avail = redisAvailability();

describe('README programmatic API example', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

  // Fails, not skips, when the section or the example is gone: the README promises this API.
  it('is in README.md verbatim, under "## Programmatic API"', () => {
    const section = readme.split(/^## /m).find((s) => s.startsWith('Programmatic API\n'));
    expect(section, 'README.md has no "## Programmatic API" section').toBeDefined();
    expect(section).toContain('```js\n' + README_EXAMPLE + '```');
  });

  describeWithRedis(avail, 'runs', () => {
    let build: Build;
    let server: RedisServer;
    let dir: string;

    beforeAll(async () => {
      build = await snapshotBuild();
      server = await RedisServer.start();
      dir = tempDir('ops-api-example');
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(build.dir, join(dir, 'node_modules', 'mcp-index'));
      pythonTree(join(dir, 'my-repo'), { maxBytes: 300_000 });
      writeFileSync(join(dir, 'my-repo', 'app.ts'), 'export function main(argv: string[]): number {\n  return argv.length;\n}\n');
      writeFileSync(join(dir, 'example.mjs'), README_EXAMPLE);
    }, 600_000);

    afterAll(async () => {
      await server?.stop();
      cleanupTemp();
    }, 120_000);

    it('as a program: both modes index the same files and the process exits by itself', async () => {
      const child = spawn(process.execPath, ['example.mjs'], {
        cwd: dir,
        env: cliEnv({ REDIS_URL: server.url(), XDG_CACHE_HOME: join(dir, 'cache') }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 540_000); // a leaked handle would hang it
      const code = await new Promise<number | null>((res) => child.once('close', (c) => res(c)));
      clearTimeout(killer);
      expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);

      const local = /^local: (\d+) files, (\d+) symbols$/m.exec(stdout);
      const cluster = /^cluster: (\d+) files, (\d+) symbols$/m.exec(stdout);
      expect(local, stdout).not.toBeNull();
      expect(cluster, stdout).not.toBeNull();
      expect(Number(local![1])).toBeGreaterThan(1);
      expect(Number(local![2])).toBeGreaterThan(0);
      expect(cluster!.slice(1)).toEqual(local!.slice(1));
      expect(stdout).toMatch(/^worker: \d+ files, \d+ symbols$/m);
      expect(stderr).toMatch(/^index: \d+\/\d+ files$/m);
      expect(stderr).toMatch(/^done: (\d+)\/\1 files$/m);
    }, 600_000);

    it('type-checks as TypeScript against the published types', () => {
      writeFileSync(join(dir, 'example.mts'), README_EXAMPLE);
      const tsc = resolve(REPO_ROOT, 'node_modules/typescript/bin/tsc');
      const r = spawnSync(
        process.execPath,
        [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', '--typeRoots', join(REPO_ROOT, 'node_modules/@types'), 'example.mts'],
        { cwd: dir, encoding: 'utf8' },
      );
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }, 300_000);
  });
});
