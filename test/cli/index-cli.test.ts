/**
 * The `mcp-index [path]` and `export` commands end to end: real child processes running bin/mcp-index.js (built
 * dist/), real tree-sitter, real SQLite, temp folders. Exit codes: 0 ok, 1 more file errors than --max-errors,
 * 2 usage / bad input, 70 internal, 130 interrupted.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canRunAsNobody,
  cleanupTemp,
  copyFixture,
  exportIndex,
  garbagePython,
  generatePython,
  lines,
  NOBODY,
  openUp,
  runCli,
  spawnCli,
  tempDir,
  writeFiles,
  type CliResult,
} from './helpers.js';

afterAll(cleanupTemp);

const LANGS = ['python', 'javascript', 'typescript', 'tsx', 'rust'];

interface FileRow {
  path: string;
  language: string;
  size: number;
  hash: string;
  status: string;
  error_code: string | null;
  error: string | null;
}

function fileRows(index: string): Map<string, FileRow> {
  const db = new Database(index, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare<[], FileRow>('SELECT path, language, size, hash, status, error_code, error FROM files').all();
    return new Map(rows.map((r) => [r.path, r]));
  } finally {
    db.close();
  }
}

/** A known, user-facing error: exit 2, nothing on stdout, exactly one stderr line that says what is wrong. */
function expectUsageError(r: CliResult, ...mentions: (string | RegExp)[]): void {
  const err = lines(r.stderr);
  expect(err, `stderr: ${r.stderr}`).toHaveLength(1);
  expect(err[0]).toMatch(/^mcp-index: /);
  expect(err[0]).not.toMatch(/internal error|\bat .*\.js:\d+/); // a stack trace means an unexpected path
  for (const m of mentions) {
    if (typeof m === 'string') expect(err[0]).toContain(m);
    else expect(err[0]).toMatch(m);
  }
  expect(r.stdout).toBe('');
  expect(r.code, r.stderr).toBe(2);
}

const nobodyOk = canRunAsNobody();

describe('indexing a mixed repository', { timeout: 180_000 }, () => {
  let tmp: string;
  let repo: string;
  let cache: string;

  beforeAll(() => {
    tmp = tempDir('mixed');
    repo = copyFixture(tmp);
    cache = join(tmp, 'cache');
  });

  it('--out --json: exit 0, a JSON summary covering every language, and a sorted export', async () => {
    const out = join(tmp, 'out', 'index.db');
    const r = await runCli([repo, '--out', out, '--json', '--progress', 'none'], { env: { XDG_CACHE_HOME: cache } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout);
    expect(summary.root).toBe(repo);
    expect(summary.out).toBe(out);
    expect(summary.interrupted).toBe(false);
    expect(Object.keys(summary.index.byLanguage).sort()).toEqual([...LANGS].sort());
    expect(summary.index.byLanguage).toEqual({ python: 3, javascript: 1, typescript: 2, tsx: 1, rust: 2 });
    expect(summary.index.files).toBe(9); // README.md, pyproject.toml and Cargo.toml have no grammar
    expect(summary.index.fileErrors).toBe(0);
    expect(summary.index.errorsByCode).toEqual({});
    expect(summary.run.filesParsed).toBe(9);

    expect(existsSync(out)).toBe(true);
    for (const leftover of ['.building', '-wal', '-shm', '-journal']) expect(existsSync(out + leftover), leftover).toBe(false);
    expect(existsSync(cache), 'nothing is written to the cache when --out is given').toBe(false);

    const exported = await exportIndex(out);
    const records = exported.trimEnd().split('\n').map((l) => JSON.parse(l));
    const files = records.filter((x) => x.type === 'file').map((x) => x.path as string);
    expect(files).toHaveLength(9);
    expect(files).toEqual([...files].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(files).toContain('web/components/ItemList.tsx');
    // Symbols and refs follow their file, and every record names a file that was listed before it.
    const seen = new Set<string>();
    for (const rec of records) {
      if (rec.type === 'file') seen.add(rec.path);
      else expect(seen.has(rec.path), `${rec.type} of ${rec.path} before its file`).toBe(true);
    }
    // Same index, same bytes: export is deterministic.
    expect(await exportIndex(out)).toBe(exported);
    // `export -o FILE` writes the same text.
    const dump = join(tmp, 'dump.jsonl');
    const r2 = await runCli(['export', '--index', out, '-o', dump]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(readFileSync(dump, 'utf8')).toBe(exported);
  });

  it('without --out the index lands under $XDG_CACHE_HOME/mcp-index/ and `export <repo>` finds it', async () => {
    const r = await runCli([repo, '--quiet'], { env: { XDG_CACHE_HOME: cache } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(''); // --quiet: no progress, no summary
    const dirs = readdirSync(join(cache, 'mcp-index'));
    expect(dirs).toHaveLength(1);
    expect(dirs[0]).toMatch(/^repo-[0-9a-f]{12}$/);
    const index = join(cache, 'mcp-index', dirs[0], 'index.db');
    expect(statSync(index).isFile()).toBe(true);
    expect(readdirSync(join(cache, 'mcp-index', dirs[0]))).toEqual(['index.db']);

    const viaRepo = await runCli(['export', repo], { env: { XDG_CACHE_HOME: cache } });
    expect(viaRepo.code, viaRepo.stderr).toBe(0);
    expect(viaRepo.stdout).toBe(await exportIndex(index));
    expect(viaRepo.stdout.split('\n').filter((l) => l.startsWith('{"type":"file"'))).toHaveLength(9);
  });

  it('a second run is incremental and leaves the same export', async () => {
    const out = join(tmp, 'incr.db');
    const first = await runCli([repo, '--out', out, '--json', '--progress', 'none']);
    expect(first.code, first.stderr).toBe(0);
    const before = await exportIndex(out);
    const second = await runCli([repo, '--out', out, '--json', '--progress', 'none']);
    expect(second.code, second.stderr).toBe(0);
    const s = JSON.parse(second.stdout);
    expect(s.run.filesParsed).toBe(0);
    expect(s.run.filesReused).toBe(9);
    expect(await exportIndex(out)).toBe(before);
  });
});

describe.concurrent('bad input: one stderr line naming the problem, exit 2', { timeout: 180_000 }, () => {
  let tmp: string;
  let repo: string;

  beforeAll(() => {
    tmp = tempDir('badinput');
    repo = copyFixture(tmp);
  });

  it('a path that does not exist', async () => {
    const missing = join(tmp, 'no-such-repo');
    expectUsageError(await runCli([missing]), 'does not exist', missing);
  });

  it('a file instead of a directory', async () => {
    const file = join(repo, 'web', 'api.ts');
    expectUsageError(await runCli([file]), 'not a directory', file);
  });

  it('an unreadable directory', async () => {
    const locked = join(tmp, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'a.py'), 'x = 1\n');
    chmodSync(locked, 0o000);
    if (process.getuid?.() !== 0) {
      expectUsageError(await runCli([locked, '--out', join(tmp, 'locked.db')]), 'cannot read directory', locked);
    } else if (nobodyOk) {
      // Root reads through chmod 000, so the check can only fire for another user: run the CLI as `nobody`.
      openUp(tmp);
      const cache = join(tmp, 'nobody-cache');
      mkdirSync(cache, { mode: 0o777 });
      chmodSync(cache, 0o777);
      const r = await runCli([locked], { uid: NOBODY, gid: NOBODY, env: { XDG_CACHE_HOME: cache } });
      expectUsageError(r, 'cannot read directory', locked);
    } else {
      // Root without a usable setuid: permissions cannot be made to fail here. Assert what does hold: root reads
      // through chmod 000 and indexes the folder. The permission-denied message itself is not exercised.
      const r = await runCli([locked, '--out', join(tmp, 'locked.db'), '--json', '--progress', 'none']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).index.files).toBe(1);
    }
  });

  it('--out under a regular file', async () => {
    const out = join(repo, 'README.md', 'index.db');
    expectUsageError(await runCli([repo, '--out', out]), 'cannot write index', join(repo, 'README.md'));
    expect(statSync(join(repo, 'README.md')).isFile()).toBe(true);
  });

  it.runIf(existsSync('/proc/self'))('--out under /proc (mkdir fails with ENOENT; used to loop forever)', async () => {
    expectUsageError(await runCli([repo, '--out', '/proc/mcp-index-test/index.db'], { timeoutMs: 60_000 }), 'cannot write index', '/proc/mcp-index-test');
  });

  it.runIf(existsSync('/proc/self'))('--out directly in /proc (a folder that exists, where not even root can create a file)', async () => {
    expectUsageError(await runCli([repo, '--out', '/proc/mcp-index-test.db']), 'cannot write index', '/proc');
  });

  it.runIf(nobodyOk)('--out in a folder the user cannot write (run as nobody)', async () => {
    const ro = join(tmp, 'readonly');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    openUp(tmp);
    chmodSync(repo, 0o755);
    const r = await runCli([repo, '--out', join(ro, 'index.db')], { uid: NOBODY, gid: NOBODY, env: { XDG_CACHE_HOME: ro } });
    expectUsageError(r, 'cannot write index', ro);
  });

  it('--out pointing to a directory', async () => {
    const dir = join(tmp, 'outdir');
    mkdirSync(dir);
    expectUsageError(await runCli([repo, '--out', dir]), '--out is a directory', dir);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an unknown flag', async () => {
    expectUsageError(await runCli([repo, '--bogus-flag']), /unknown argument/i, 'bogus-flag');
  });

  it('--threads 0', async () => {
    expectUsageError(await runCli([repo, '--threads', '0']), 'threads');
  });

  // The one schema applies to every command, before anything connects (the Redis URL here points at nothing).
  it.each([
    ['worker', '--namespace', 'a b', 'namespace'],
    ['worker', '--threads', '1000', 'threads'],
    ['up', '--namespace', 'a b', 'namespace'],
    ['status', '--namespace', 'a b', 'namespace'],
    ['runs', '--namespace', 'a b', 'namespace'],
    ['dashboard', '--namespace', 'a b', 'namespace'],
  ])('%s %s %s', async (command, flag, value, key) => {
    const extra = command === 'runs' ? ['list'] : [];
    expectUsageError(await runCli([command, ...extra, '--redis', 'redis://127.0.0.1:9', flag, value]), `"${key}"`);
  });

  it('--threads that is not a number', async () => {
    expectUsageError(await runCli([repo, '--threads', 'many']), 'threads');
  });

  it('--max-file-size that is not a size', async () => {
    expectUsageError(await runCli([repo, '--max-file-size', 'huge']), 'maxFileSize', 'huge');
  });

  const configCases: [string, string, (string | RegExp)[]][] = [
    ['an unknown key', JSON.stringify({ threads: 2, trheads: 2 }), ['unknown key', '"trheads"', 'mcp-index.config.json']],
    ['a wrong type', JSON.stringify({ threads: 'two' }), ['"threads"', 'mcp-index.config.json']],
    ['a value out of range', JSON.stringify({ batchFiles: 0 }), ['"batchFiles"']],
    ['invalid JSON', '{ "threads": 2, ', ['not valid JSON', 'mcp-index.config.json']],
    ['not an object', '[1, 2]', ['mcp-index.config.json']],
  ];
  for (const [name, text, mentions] of configCases) {
    it(`a config file with ${name}`, async () => {
      const r = tempDir('cfg');
      const cfgRepo = copyFixture(r);
      writeFileSync(join(cfgRepo, 'mcp-index.config.json'), text);
      const out = join(r, 'index.db');
      expectUsageError(await runCli([cfgRepo, '--out', out]), ...mentions);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('an index another writer holds locked is reported (exit 2), not rebuilt', async () => {
    const r = tempDir('locked');
    const lockedRepo = copyFixture(r);
    const out = join(r, 'index.db');
    expect((await runCli([lockedRepo, '--out', out, '-q'])).code).toBe(0);
    const before = readFileSync(out);
    const holder = new Database(out);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      expectUsageError(await runCli([lockedRepo, '--out', out, '-q']), 'cannot read the index', 'database is locked');
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(readFileSync(out).equals(before)).toBe(true);
  });

  it('--config naming a file that does not exist', async () => {
    expectUsageError(await runCli([repo, '--config', join(tmp, 'nope.json')]), 'config file not found', 'nope.json');
  });

  it('a valid config file is used (its threads and out apply)', async () => {
    const r = tempDir('cfgok');
    const cfgRepo = copyFixture(r);
    const out = join(r, 'from-config.db');
    writeFileSync(join(cfgRepo, 'mcp-index.config.json'), JSON.stringify({ threads: 1, out, progress: 'none' }));
    const res = await runCli([cfgRepo, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const s = JSON.parse(res.stdout);
    expect(s.threads).toBe(1);
    expect(s.out).toBe(out);
    expect(existsSync(out)).toBe(true);
  });

  it('export with no index (explicit --index)', async () => {
    const missing = join(tmp, 'never-built.db');
    expectUsageError(await runCli(['export', '--index', missing]), 'no index at', missing);
  });

  it('export with no index (default location of a repository never indexed)', async () => {
    const cache = tempDir('emptycache');
    expectUsageError(await runCli(['export', repo], { env: { XDG_CACHE_HOME: cache } }), 'no index at', cache);
  });

  it('export of a file that is not an index', async () => {
    expectUsageError(await runCli(['export', '--index', join(repo, 'README.md')]), 'not an mcp-index index');
  });
});

describe('bad files inside a repository are per-file errors, not failures', { timeout: 180_000 }, () => {
  let tmp: string;

  beforeAll(() => {
    tmp = tempDir('badfiles');
  });

  it('binary, non-UTF-8, oversize, syntax errors and a dangling link are recorded; the run completes', async () => {
    const repo = copyFixture(tmp, 'repo');
    writeFiles(repo, {
      'bad/blob.py': Buffer.from('x = 1\n\0\0\0\x01\x02binary payload\n', 'latin1'),
      'bad/latin.js': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('let caf'), Buffer.from([0xe9]), Buffer.from(' = 1;\n')]),
      'bad/huge.py': 'x = 1\n'.repeat(1000), // 6000 bytes > 1 KiB
      'bad/broken.rs': 'pub fn main( {\n    let x = ;\n}\n',
      'bad/fine.py': 'def fine():\n    return 1\n',
    });
    symlinkSync('nowhere/missing.py', join(repo, 'bad', 'dangling.py'));
    const out = join(tmp, 'bad.db');
    const r = await runCli([repo, '--out', out, '--json', '--progress', 'none', '--max-file-size', '1KiB']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.interrupted).toBe(false);
    expect(s.index.errorsByCode.binary).toBe(1);
    expect(s.index.errorsByCode['non-utf8']).toBe(1);
    expect(s.index.errorsByCode.syntax).toBe(1);
    // huge.py and every fixture file over 1 KiB.
    expect(s.index.errorsByCode.oversize).toBeGreaterThanOrEqual(1);

    const rows = fileRows(out);
    const expectError = (path: string, status: string, code: string) => {
      const row = rows.get(path);
      expect(row, `${path} is not in the index`).toBeDefined();
      expect(row!.status, path).toBe(status);
      expect(row!.error_code, path).toBe(code);
      expect(row!.error, path).toEqual(expect.any(String));
      expect(row!.error!.length, path).toBeGreaterThan(0);
    };
    expectError('bad/blob.py', 'error', 'binary');
    expectError('bad/latin.js', 'error', 'non-utf8');
    expectError('bad/huge.py', 'error', 'oversize');
    expect(rows.get('bad/huge.py')!.size).toBe(6000);
    expectError('bad/broken.rs', 'partial', 'syntax');
    expect(rows.get('bad/broken.rs')!.error).toMatch(/syntax error/);
    expect(rows.get('bad/fine.py')).toMatchObject({ status: 'ok', error_code: null, error: null });
    // A dangling symlink is recorded as an error rather than dropped or crashing the run. Discovery currently
    // reports it as 'path-escape' (realpath fails, so it cannot prove the target is inside the root).
    const dangling = rows.get('bad/dangling.py');
    expect(dangling, 'dangling link not recorded').toBeDefined();
    expect(dangling!.status).toBe('error');
    expect(['path-escape', 'deleted', 'unreadable']).toContain(dangling!.error_code);

    // Every error counted in the summary is a row with a code and a message.
    const counted = Object.values(s.index.errorsByCode as Record<string, number>).reduce((a, b) => a + b, 0);
    const withCode = [...rows.values()].filter((x) => x.error_code !== null);
    expect(withCode).toHaveLength(counted);
    expect(s.index.fileErrors).toBe(withCode.length);
    for (const row of withCode) expect(row.error, row.path).toBeTruthy();
  });

  it('files nested 10,000 levels deep neither crash the run nor get lost', async () => {
    const repo = join(tmp, 'deep');
    writeFiles(repo, {
      'deep_list.py': 'x = ' + '['.repeat(10_000) + ']'.repeat(10_000) + '\n',
      'deep_call.py': 'y = ' + 'f('.repeat(10_000) + ')'.repeat(10_000) + '\n',
      'deep_parens.js': 'const y = ' + '('.repeat(10_000) + '1' + ')'.repeat(10_000) + ';\n',
      'deep_blocks.ts': 'function f() ' + '{'.repeat(10_000) + '}'.repeat(10_000) + '\n',
      'deep_mod.rs': 'mod m { '.repeat(2_000) + 'fn f() {}' + ' }'.repeat(2_000) + '\n',
      'normal.py': 'def ok():\n    return 1\n',
    });
    const out = join(tmp, 'deep.db');
    const r = await runCli([repo, '--out', out, '--json', '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const rows = fileRows(out);
    expect([...rows.keys()].sort()).toEqual(['deep_blocks.ts', 'deep_call.py', 'deep_list.py', 'deep_mod.rs', 'deep_parens.js', 'normal.py']);
    for (const row of rows.values()) {
      // Indexed (possibly partially, when the grammar itself gives up), or refused as too deep: never 'internal'.
      const acceptable = row.status === 'ok' || (row.status === 'partial' && row.error_code === 'syntax') || (row.status === 'error' && row.error_code === 'too-deep');
      expect(acceptable, `${row.path}: ${row.status} ${row.error_code} ${row.error}`).toBe(true);
    }
    expect(rows.get('deep_list.py')!.status).not.toBe('partial'); // valid Python: no syntax error to report
    expect(rows.get('normal.py')!.status).toBe('ok');
  });

  it.runIf(nobodyOk || process.getuid?.() !== 0)('an unreadable file is an "unreadable" error and the run completes', async () => {
    // Root reads through chmod 000, so as root the run drops to `nobody` to make the permission bite.
    const base = tempDir('unreadable');
    openUp(base);
    const repo = copyFixture(base, 'repo');
    writeFiles(repo, { 'secret.py': 'TOKEN = "x"\n' });
    chmodSync(join(repo, 'secret.py'), 0o000);
    const outDir = join(base, 'out');
    mkdirSync(outDir);
    chmodSync(outDir, 0o777);
    const asNobody = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
    const r = await runCli([repo, '--out', join(outDir, 'i.db'), '--json', '--progress', 'none'], { ...asNobody, env: { XDG_CACHE_HOME: outDir } });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.index.errorsByCode).toEqual({ unreadable: 1 });
    const row = fileRows(join(outDir, 'i.db')).get('secret.py');
    expect(row).toMatchObject({ status: 'error', error_code: 'unreadable' });
    expect(row!.error).toMatch(/EACCES|permission/i);
  });

  it('--max-errors 0 with one bad file exits 1 (and still writes the index)', async () => {
    const repo = copyFixture(tmp, 'maxerr');
    writeFiles(repo, { 'bad.py': Buffer.from([0x78, 0x00, 0x79]) });
    const out = join(tmp, 'maxerr.db');
    const r = await runCli([repo, '--out', out, '--progress', 'none', '--max-errors', '0']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/1 files? had errors, more than --max-errors 0/);
    expect(fileRows(out).get('bad.py')).toMatchObject({ status: 'error', error_code: 'binary' });

    const ok = await runCli([repo, '--out', out, '--progress', 'none', '--max-errors', '1', '--quiet']);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('interrupting a run (SIGINT / SIGTERM) keeps the previous index', () => {
  let tmp: string;
  let repo: string;
  let out: string;
  let baseline: string;
  const FILES = 10;
  const common = () => [repo, '--out', out, '--full', '--threads', '2', '--progress', 'plain'];

  beforeAll(async () => {
    tmp = tempDir('sigint');
    repo = join(tmp, 'repo');
    generatePython(repo, { dir: 'pkg', files: FILES, bytesPerFile: 80_000 });
    out = join(tmp, 'index.db');
    const r = await runCli([repo, '--out', out, '--threads', '2', '--quiet'], { timeoutMs: 240_000 });
    if (r.code !== 0) throw new Error(`baseline index failed (${r.status}): ${r.stderr}`);
    baseline = await exportIndex(out);
  }, 300_000);

  const expectPreviousIndex = async () => {
    expect(await exportIndex(out)).toBe(baseline);
    expect(readdirSync(tmp).sort()).toEqual(['index.db', 'repo']); // no index.db.building, -wal, -shm
  };

  it('has a baseline with every file', () => {
    expect(baseline.split('\n').filter((l) => l.startsWith('{"type":"file"'))).toHaveLength(FILES);
  });

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} during the index phase: exit 130, previous index byte-equal, no build left behind`, async () => {
      // One file per batch: the signal finds most of the tree still to do, and the in-flight batches are small.
      const run = spawnCli([...common(), '--batch-bytes', '16KiB'], { timeoutMs: 240_000 });
      await run.waitForStderr('planned');
      run.child.kill(sig);
      const r = await run.done;
      expect(r.signal, r.stderr).toBeNull();
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain('interrupted: finishing');
      expect(r.stderr).toMatch(/previous index at .* was left unchanged/);
      expect(r.stderr).not.toContain('internal error');
      await expectPreviousIndex();
    }, 300_000);
  }

  it('a second SIGINT quits at once: status 130 (killed by SIGINT, never SIGABRT/134), previous index intact', async () => {
    // Quitting while a pool thread is inside tree-sitter's parse() is the dangerous case (process.exit() there used
    // to abort the process, status 134). Make parse() what is in flight: two large syntax-garbage files, on which
    // tree-sitter spends seconds in error recovery, planned first (largest first) with one file per batch. They
    // are new since the baseline, which must survive untouched.
    writeFiles(repo, { 'garbage/g0.py': garbagePython(100_000, 1), 'garbage/g1.py': garbagePython(100_000, 2) });
    try {
      {
        const run = spawnCli([...common(), '--batch-bytes', '16KiB'], { timeoutMs: 240_000 });
        await run.waitForStderr('planned');
        run.child.kill('SIGINT');
        // Only once the first signal was handled (it prints this) is the next one a second signal; two signals
        // sent back to back can be merged into one by the kernel.
        await run.waitForStderr('Ctrl-C again');
        run.child.kill('SIGINT');
        const r = await run.done;
        expect(r.signal, r.stderr).not.toBe('SIGABRT');
        expect(r.stderr).not.toContain('terminate called');
        expect(r.status, `code ${r.code} signal ${r.signal}\n${r.stderr}`).toBe(130);
        // It did not wait for the in-flight parses to finish: no end-of-run summary was printed.
        expect(r.stderr).not.toMatch(/interrupted after/);
        await expectPreviousIndex();
      }
    } finally {
      rmSync(join(repo, 'garbage'), { recursive: true, force: true });
    }

    // The next run over the same --out starts clean: nothing changed since the baseline, so it keeps the index.
    const again = await runCli([repo, '--out', out, '--json', '--progress', 'none']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).run.filesParsed).toBe(0);
    await expectPreviousIndex();
  }, 300_000);
});
