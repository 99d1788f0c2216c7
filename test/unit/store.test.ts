/**
 * IndexWriter and exportJsonl on real SQLite files: idempotent merges, atomic commit, abort leaving the previous
 * index untouched, removals, and an export that does not depend on merge order. Results come from the real worker
 * function over fixtures/mixed, plus hand-made results whose symbols and refs are known exactly (so the symbol
 * tables are exercised whatever the extractors currently return).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTRACTOR_VERSION } from '../../src/extract/version.js';
import { exportJsonl } from '../../src/index-store/export.js';
import { openIndex } from '../../src/index-store/reader.js';
import { buildFragment, spoolFragment } from '../../src/index-store/fragment.js';
import { identifierWords } from '../../src/index-store/schema.js';
import { IndexWriter, isCompatible } from '../../src/index-store/writer.js';
import { PROTOCOL_VERSION, type FileRef, type FileResult, type JobResult, type Language } from '../../src/protocol/types.js';
import { handleJob } from '../../src/worker/handle-job.js';

const MIXED = join(import.meta.dirname, '../../fixtures/mixed');
const MIXED_FILES: [string, Language][] = [
  ['crates/stock/src/lib.rs', 'rust'],
  ['crates/stock/src/parse.rs', 'rust'],
  ['inventory/__init__.py', 'python'],
  ['inventory/models.py', 'python'],
  ['inventory/service.py', 'python'],
  ['scripts/report.js', 'javascript'],
  ['web/api.ts', 'typescript'],
  ['web/components/ItemList.tsx', 'tsx'],
  ['web/format.ts', 'typescript'],
];
const sha1 = (b: string | Uint8Array) => createHash('sha1').update(b).digest('hex');

let tmp: string;
let n = 0;
const newOut = () => join(tmp, `idx-${n++}`, 'index.db');

/** Per-file real results over fixtures/mixed, one JobResult per file. */
let real: JobResult[];

beforeAll(async () => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'mcp-index-store-')));
  const refs: FileRef[] = MIXED_FILES.map(([path, language]) => {
    const buf = readFileSync(join(MIXED, path));
    return { path, hash: sha1(buf), size: buf.length, language };
  });
  real = [];
  for (const f of refs) {
    real.push(
      await handleJob({ v: PROTOCOL_VERSION, runId: 'r', batchId: `b-${f.path}`, files: [f], limits: { maxFileBytes: 1 << 20, parseTimeoutMs: 10_000 }, root: MIXED }),
    );
  }
  for (const r of real) expect(r.files[0].status, r.files[0].path).toBe('ok');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fileResult(path: string, extra: Partial<FileResult> = {}): FileResult {
  return {
    path,
    hash: sha1(path),
    size: 100,
    language: 'python',
    status: 'ok',
    error: null,
    symbols: [
      { name: 'getUserName', kind: 'function', scope: null, qualified: 'getUserName', nameLine: 1, nameCol: 4, startLine: 1, startCol: 0, endLine: 3, endCol: 10, signature: 'def getUserName(uid)', doc: 'Looks a user up.' },
      { name: 'HTTPClient', kind: 'class', scope: null, qualified: 'HTTPClient', nameLine: 6, nameCol: 6, startLine: 5, startCol: 0, endLine: 9, endCol: 4, signature: 'class HTTPClient', doc: null, flags: ['@decorated(with, spaces)', 'exported'] },
      { name: 'send_request', kind: 'method', scope: 'HTTPClient', qualified: 'HTTPClient.send_request', nameLine: 7, nameCol: 8, startLine: 7, startCol: 4, endLine: 9, endCol: 4, signature: 'def send_request(self)', doc: null },
    ],
    refs: [
      { kind: 'import', name: 'os', line: 1, col: 7, scope: null, context: 'os', module: 'os' },
      { kind: 'call', name: 'lookup', line: 2, col: 14, scope: 'getUserName', context: 'db.lookup', module: null, flags: ['macro'] },
      { kind: 'call', name: 'getUserName', line: 8, col: 8, scope: 'HTTPClient.send_request', context: 'getUserName', module: null },
    ],
    parseMs: 1,
    ...extra,
  };
}

function jobResult(batchId: string, files: FileResult[]): JobResult {
  return { v: PROTOCOL_VERSION, runId: 'r', batchId, files, extractorVersion: EXTRACTOR_VERSION, worker: { host: 'h', pid: 1, threadId: 1 }, durationMs: 1 };
}

const synthetic = () => [jobResult('syn-1', [fileResult('syn/a.py'), fileResult('syn/b.py')]), jobResult('syn-2', [fileResult('syn/c.py')])];

/** Merges a result the way the pipeline does: as a fragment file, which the writer consumes. */
const applyResult = (w: IndexWriter, r: JobResult): boolean => w.apply(r.batchId, [spoolFragment(r.batchId, buildFragment(r.files))]);

/** The deferred FTS rows, added now (the pipeline does it while idle, and at commit). */
function flushFts(w: IndexWriter): IndexWriter {
  while (w.ftsStep());
  return w;
}

function writer(out: string, incremental = false): IndexWriter {
  return new IndexWriter(out, { incremental, extractorVersion: EXTRACTOR_VERSION, patch: true });
}

/** A script for a real process that dies mid-transaction (SIGKILL) after enough writes that SQLite spilled pages. */
function killedPatch(out: string): string {
  return `
    const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
    const db = new Database(${JSON.stringify(out)});
    db.pragma('cache_size = 1');
    db.exec('BEGIN IMMEDIATE');
    db.exec('DELETE FROM refs; DELETE FROM symbols');
    const ins = db.prepare("INSERT INTO files (path, language, size, hash, status) VALUES (?, 'python', 1, 'x', 'ok')");
    for (let i = 0; i < 5000; i++) ins.run('junk/' + i + '.py'.padStart(200, '_'));
    process.kill(process.pid, 'SIGKILL');`;
}

/** What a query command does: open read-only, read, close. */
function dumpIndex(out: string): string {
  const db = openIndex(out);
  try {
    return dump(db);
  } finally {
    db.close();
  }
}

function dump(db: Database.Database): string {
  return [...exportJsonl(db)].join('\n');
}

function counts(db: Database.Database): Record<string, number> {
  const one = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  return {
    files: one('SELECT count(*) AS n FROM files'),
    symbols: one('SELECT count(*) AS n FROM symbols'),
    refs: one('SELECT count(*) AS n FROM refs'),
    fts: one('SELECT count(*) AS n FROM symbols_fts'),
    orphanSymbols: one('SELECT count(*) AS n FROM symbols WHERE file_id NOT IN (SELECT id FROM files)'),
    orphanRefs: one('SELECT count(*) AS n FROM refs WHERE file_id NOT IN (SELECT id FROM files)'),
  };
}

/** Builds and commits an index from these results, in this order; returns its export and counts. */
function build(out: string, results: JobResult[]): { text: string; counts: Record<string, number> } {
  const w = writer(out);
  for (const r of results) applyResult(w, r);
  w.commit();
  const db = openIndex(out);
  try {
    return { text: dump(db), counts: counts(db) };
  } finally {
    db.close();
  }
}

const siblings = (out: string) => readdirSync(join(out, '..')).sort();

describe('IndexWriter: merging results', () => {
  it('applying the same JobResult twice leaves identical rows', () => {
    const results = [...real, ...synthetic()];
    const once = build(newOut(), results);
    expect(once.counts.symbols).toBeGreaterThanOrEqual(9); // at least the synthetic ones
    expect(once.counts.fts).toBe(once.counts.symbols);

    const out = newOut();
    const w = writer(out);
    for (const r of results) expect(applyResult(w, r)).toBe(true);
    // A redelivery of a merged batch is recognised and skipped.
    for (const r of results) expect(applyResult(w, r)).toBe(false);
    expect(counts(flushFts(w).db)).toEqual(once.counts);
    // The same files again under another batch id (a split or re-planned batch): their rows are replaced.
    for (const r of results) expect(applyResult(w, { ...r, batchId: `${r.batchId}-again` })).toBe(true);
    expect(counts(flushFts(w).db)).toEqual(once.counts);
    w.commit();
    const db = openIndex(out);
    try {
      expect(dump(db)).toBe(once.text);
      expect(counts(db)).toEqual(once.counts);
      expect(counts(db).orphanSymbols + counts(db).orphanRefs).toBe(0);
    } finally {
      db.close();
    }
  });

  it('a group of batches (one transaction) builds what one batch at a time builds; repeats and merged ones are skipped', () => {
    const results = [...real, ...synthetic()];
    const once = build(newOut(), results);
    const out = newOut();
    const w = writer(out);
    const frag = (r: JobResult) => spoolFragment(r.batchId, buildFragment(r.files));
    expect(applyResult(w, results[0])).toBe(true);
    // More fragments than are attached at once; one batch in two fragments (cache hits beside a worker's rows);
    // a batch twice in the same group; one merged before.
    const two = results.find((r) => r.files.length === 2)!;
    const rest = results.slice(1).filter((r) => r !== two);
    const group: [string, string[]][] = [
      [results[0].batchId, [frag(results[0])]],
      [two.batchId, [spoolFragment('x', buildFragment(two.files.slice(0, 1))), spoolFragment('y', buildFragment(two.files.slice(1)))]],
      ...rest.map((r): [string, string[]] => [r.batchId, [frag(r)]]),
      [rest[0].batchId, [frag(rest[0])]],
    ];
    expect(w.applyMany(group)).toEqual([false, true, ...rest.map(() => true), false]);
    for (const [, fs] of group) for (const f of fs) expect(existsSync(f)).toBe(false); // every fragment consumed
    expect(counts(flushFts(w).db)).toEqual(once.counts);
    w.commit();
    expect(dumpIndex(out)).toBe(once.text);
  });

  it('a changed file replaces its previous rows, FTS included', () => {
    const out = newOut();
    const w = writer(out);
    applyResult(w, jobResult('a', [fileResult('syn/a.py')]));
    const changed = fileResult('syn/a.py', {
      hash: sha1('v2'),
      symbols: [{ name: 'renamedThing', kind: 'function', scope: null, qualified: 'renamedThing', nameLine: 1, nameCol: 4, startLine: 1, startCol: 0, endLine: 1, endCol: 9, signature: 'def renamedThing()', doc: null }],
      refs: [],
    });
    applyResult(w, jobResult('a2', [changed]));
    const c = counts(flushFts(w).db);
    expect(c).toMatchObject({ files: 1, symbols: 1, refs: 0, fts: 1 });
    const hits = (q: string) => w.db.prepare("SELECT rowid FROM symbols_fts WHERE symbols_fts MATCH ?").all(q).length;
    expect(hits('words:user')).toBe(0);
    expect(hits('words:renamed')).toBe(1);
    w.abort();
  });

  it('export is identical whatever the order and grouping in which results were merged', () => {
    const results = [...real, ...synthetic()];
    const forward = build(newOut(), results);
    const backward = build(newOut(), [...results].reverse());
    const shuffled = build(newOut(), [results[3], results[10], results[0], results[7], results[1], results[9], results[5], results[2], results[8], results[4], results[6]]);
    const oneBatch = build(newOut(), [jobResult('all', results.flatMap((r) => r.files))]);
    expect(backward.text).toBe(forward.text);
    expect(shuffled.text).toBe(forward.text);
    expect(oneBatch.text).toBe(forward.text);
    expect(backward.counts).toEqual(forward.counts);

    // Different row ids (a file added and removed first) do not show in the export either.
    const out = newOut();
    const w = writer(out);
    applyResult(w, jobResult('noise', [fileResult('zzz/noise.py'), fileResult('aaa/noise.py')]));
    w.removeAllExcept(new Set());
    for (const r of [...results].reverse()) applyResult(w, r);
    w.commit();
    const db = openIndex(out);
    try {
      expect(dump(db)).toBe(forward.text);
    } finally {
      db.close();
    }

    // Files by path, each followed by its own records.
    const recs = forward.text.split('\n').map((l) => JSON.parse(l));
    const paths = recs.filter((r) => r.type === 'file').map((r) => r.path);
    expect(paths).toEqual([...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const syn = recs.filter((r) => r.type === 'symbol' && r.path === 'syn/a.py');
    expect(syn.map((s) => s.id)).toEqual(['syn/a.py#0', 'syn/a.py#1', 'syn/a.py#2']);
    // every column, the name position and flags (a JSON array: a flag may hold spaces) included
    expect(syn[1]).toEqual({
      type: 'symbol',
      id: 'syn/a.py#1',
      path: 'syn/a.py',
      name: 'HTTPClient',
      kind: 'class',
      scope: null,
      qualified: 'HTTPClient',
      name_line: 6,
      name_col: 6,
      start_line: 5,
      start_col: 0,
      end_line: 9,
      end_col: 4,
      signature: 'class HTTPClient',
      doc: null,
      flags: ['@decorated(with, spaces)', 'exported'],
    });
    const refs = recs.filter((r) => r.type === 'ref' && r.path === 'syn/a.py');
    expect(refs[0]).toEqual({ type: 'ref', path: 'syn/a.py', kind: 'import', name: 'os', line: 1, col: 7, scope: null, context: 'os', module: 'os', flags: [] });
    expect(refs[1]).toMatchObject({ name: 'lookup', module: null, flags: ['macro'] });
  });

  it('skipped files are recorded as errors with their code and message', () => {
    const out = newOut();
    const w = writer(out);
    w.applySkipped([
      { path: 'big.py', size: 5_000_000, language: 'python', error: { code: 'oversize', message: '5000000 bytes exceeds the 1048576-byte limit' } },
      { path: 'link.rs', size: 0, language: 'rust', error: { code: 'path-escape', message: 'symlink points outside the repository' } },
    ]);
    w.commit();
    const db = openIndex(out);
    try {
      const rows = db.prepare('SELECT path, status, error_code, error, hash FROM files ORDER BY path').all();
      expect(rows).toEqual([
        { path: 'big.py', status: 'error', error_code: 'oversize', error: '5000000 bytes exceeds the 1048576-byte limit', hash: '' },
        { path: 'link.rs', status: 'error', error_code: 'path-escape', error: 'symlink points outside the repository', hash: '' },
      ]);
    } finally {
      db.close();
    }
  });
});

describe('IndexWriter: commit and abort', () => {
  it('commit renames the build over the index: same inode, no -wal/-shm/.building left, readable in DELETE mode', () => {
    const out = newOut();
    const w = writer(out);
    for (const r of synthetic()) applyResult(w, r);
    expect(existsSync(w.tmpPath)).toBe(true);
    expect(existsSync(out)).toBe(false); // nothing at the final path until commit
    const ino = statSync(w.tmpPath).ino;
    w.commit();
    expect(statSync(out).ino).toBe(ino); // a rename, not a copy
    expect(siblings(out)).toEqual(['index.db']);
    const db = new Database(out, { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const meta = Object.fromEntries((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      expect(meta.extractor_version).toBe(String(EXTRACTOR_VERSION));
      expect(meta.resume_key).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it('a reader of the previous index keeps a consistent view while a new build is committed over it', () => {
    const out = newOut();
    build(out, synthetic());
    const old = openIndex(out);
    try {
      const before = dump(old);
      const w = new IndexWriter(out, { incremental: true, extractorVersion: EXTRACTOR_VERSION }); // a large change
      expect(w.inPlace).toBe(false); // builds in a copy
      applyResult(w, jobResult('new', [fileResult('syn/new.py')]));
      w.removeAllExcept(new Set(['syn/new.py']));
      w.commit();
      expect(dump(old)).toBe(before); // the old file (inode) is untouched
      const fresh = openIndex(out);
      try {
        expect([...exportJsonl(fresh)].filter((l) => l.startsWith('{"type":"file"')).map((l) => JSON.parse(l).path)).toEqual(['syn/new.py']);
      } finally {
        fresh.close();
      }
    } finally {
      old.close();
    }
  });

  it('a local incremental run patches the index in one transaction: readers see the old rows until it commits, then the new ones', () => {
    const out = newOut();
    build(out, synthetic());
    const reader = openIndex(out);
    try {
      const before = dump(reader);
      const ino = statSync(out).ino;
      const w = writer(out, true);
      expect(w.inPlace).toBe(true);
      applyResult(w, jobResult('new', [fileResult('syn/new.py')]));
      w.removeAllExcept(new Set(['syn/new.py']));
      expect(dump(reader)).toBe(before); // uncommitted: invisible
      expect(existsSync(w.tmpPath)).toBe(false); // no copy was made
      w.commit();
      expect(statSync(out).ino).toBe(ino);
      expect([...exportJsonl(reader)].filter((l) => l.startsWith('{"type":"file"')).map((l) => JSON.parse(l).path)).toEqual(['syn/new.py']);
      expect(siblings(out)).toEqual(['index.db']);
    } finally {
      reader.close();
    }
  });

  it('a patch killed before its commit is rolled back when the index is next read, even by a read-only reader', () => {
    const out = newOut();
    build(out, [...real, ...synthetic()]);
    const before = dumpIndex(out);
    const r = spawnSync(process.execPath, ['-e', killedPatch(out)]);
    expect(r.signal).toBe('SIGKILL');
    expect(existsSync(out + '-journal')).toBe(true); // hot: the file holds uncommitted pages
    expect(dumpIndex(out)).toBe(before);
    expect(siblings(out)).toEqual(['index.db']);
  });

  it('a patch killed before its commit does not cost the next run its incremental start', () => {
    const out = newOut();
    build(out, synthetic());
    const r = spawnSync(process.execPath, ['-e', killedPatch(out)]);
    expect(r.signal).toBe('SIGKILL');
    expect(existsSync(out + '-journal')).toBe(true);
    // The next run's first look at the index rolls the patch back, so the index still counts as reusable.
    expect(isCompatible(out, EXTRACTOR_VERSION)).toBe(true);
    expect(existsSync(out + '-journal')).toBe(false);
    const w = writer(out, true);
    expect(w.inPlace).toBe(true);
    expect(counts(w.db).files).toBe(3);
    w.abort();
  });

  for (const mode of ['in place', 'in a copy'] as const) {
    it(`a writer aborted mid-way leaves the previous index byte-identical and nothing beside it (${mode})`, () => {
      const out = newOut();
      build(out, [...real, ...synthetic()]);
      const bytes = readFileSync(out);
      const mtime = statSync(out).mtimeMs;

      const w = new IndexWriter(out, { incremental: true, extractorVersion: EXTRACTOR_VERSION, ...(mode === 'in a copy' ? { resumeKey: 'k' } : { patch: true }) });
      expect(w.inPlace).toBe(mode === 'in place');
      expect(existsSync(w.tmpPath)).toBe(mode === 'in a copy');
      applyResult(w, jobResult('half', [fileResult('syn/a.py', { hash: sha1('changed'), symbols: [], refs: [] })]));
      w.applySkipped([{ path: 'syn/b.py', size: 1, language: 'python', error: { code: 'deleted', message: 'gone' } }]);
      w.removeAllExcept(new Set(['syn/a.py']));
      w.abort();

      expect(readFileSync(out).equals(bytes)).toBe(true);
      expect(statSync(out).mtimeMs).toBe(mtime);
      expect(siblings(out)).toEqual(['index.db']);
      // Aborting twice is harmless.
      w.abort();
    });
  }

  it('abort(keep) preserves the build for a resume; a build without the matching key is discarded', () => {
    const out = newOut();
    const w = new IndexWriter(out, { incremental: false, extractorVersion: EXTRACTOR_VERSION, resumeKey: 'run-a' });
    applyResult(w, synthetic()[0]);
    w.abort(true);
    expect(existsSync(w.tmpPath)).toBe(true);
    const resumed = new IndexWriter(out, { incremental: false, extractorVersion: EXTRACTOR_VERSION, resumeKey: 'run-a' });
    expect(resumed.resumed).toBe(true);
    expect([...resumed.mergedBatches()]).toEqual(['syn-1']);
    expect(applyResult(resumed, synthetic()[0])).toBe(false);
    resumed.abort(true);
    const other = new IndexWriter(out, { incremental: false, extractorVersion: EXTRACTOR_VERSION, resumeKey: 'run-b' });
    expect(other.resumed).toBe(false);
    expect(counts(other.db).files).toBe(0);
    other.abort();
    expect(siblings(out)).toEqual([]);
  });

  it('a stale .building left by a crashed run is replaced, not reused', () => {
    const out = newOut();
    build(out, synthetic());
    writeFileSync(out + '.building', 'not a database at all');
    writeFileSync(out + '.building-wal', 'junk');
    const w = new IndexWriter(out, { incremental: true, extractorVersion: EXTRACTOR_VERSION, resumeKey: 'k' });
    expect(counts(w.db).files).toBe(3); // a fresh copy of the index
    w.commit();
    expect(siblings(out)).toEqual(['index.db']);
  });
});

describe('IndexWriter.removeAllExcept', () => {
  const all = () => [jobResult('x', [fileResult('a.py'), fileResult('b.py'), fileResult('c.py'), fileResult('d.py')])];
  const paths = (db: Database.Database) => (db.prepare('SELECT path FROM files ORDER BY path').all() as { path: string }[]).map((r) => r.path);

  it('without `only`: removes every file not present, with its symbols, refs and FTS rows', () => {
    const w = writer(newOut());
    for (const r of all()) applyResult(w, r);
    expect(w.removeAllExcept(new Set(['a.py', 'c.py']))).toBe(2);
    expect(paths(w.db)).toEqual(['a.py', 'c.py']);
    expect(counts(flushFts(w).db)).toEqual({ files: 2, symbols: 6, refs: 6, fts: 6, orphanSymbols: 0, orphanRefs: 0 });
    expect(w.removeAllExcept(new Set(['a.py', 'c.py']))).toBe(0);
    expect(w.removeAllExcept(new Set())).toBe(2);
    expect(counts(flushFts(w).db)).toEqual({ files: 0, symbols: 0, refs: 0, fts: 0, orphanSymbols: 0, orphanRefs: 0 });
    w.abort();
  });

  it('with `only`: files outside it stay even when absent; files in it go when absent', () => {
    const w = writer(newOut());
    for (const r of all()) applyResult(w, r);
    // A partial run over b.py and c.py found only b.py: c.py was deleted; a.py and d.py are not this run's business.
    expect(w.removeAllExcept(new Set(['b.py']), new Set(['b.py', 'c.py']))).toBe(1);
    expect(paths(w.db)).toEqual(['a.py', 'b.py', 'd.py']);
    expect(counts(flushFts(w).db)).toMatchObject({ symbols: 9, refs: 9, fts: 9, orphanSymbols: 0, orphanRefs: 0 });
    // `only` naming files that are not in the index is harmless.
    expect(w.removeAllExcept(new Set(), new Set(['zzz.py']))).toBe(0);
    expect(paths(w.db)).toEqual(['a.py', 'b.py', 'd.py']);
    w.abort();
  });
});

describe('identifierWords', () => {
  const cases: [string, string][] = [
    ['getUserName', 'get user name'],
    ['getHTTPResponse_code', 'get http response code'],
    ['HTTPServer', 'http server'],
    ['XMLParser', 'xml parser'],
    ['userID', 'user id'],
    ['IOError', 'io error'],
    ['snake_case_name', 'snake case name'],
    ['SCREAMING_CASE', 'screaming case'],
    ['__init__', 'init'],
    ['$scope', 'scope'],
    ['kebab-case-name', 'kebab case name'],
    ['std::collections::HashMap', 'std collections hash map'],
    ['os.path.join', 'os path join'],
    ['v2Api', 'v2 api'],
    ['parseJSON2Html', 'parse json2 html'],
    ['x', 'x'],
    ['HTTP', 'http'],
    ['', ''],
  ];
  for (const [input, words] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(words)}`, () => {
      expect(identifierWords(input)).toBe(words);
    });
  }

  it('words are searchable through the FTS table', () => {
    const w = writer(newOut());
    flushFts(w);
    applyResult(w, jobResult('x', [fileResult('a.py')]));
    flushFts(w);
    const names = (q: string) =>
      (w.db.prepare('SELECT s.name FROM symbols_fts f JOIN symbols s ON s.id = f.rowid WHERE symbols_fts MATCH ? ORDER BY s.name').all(q) as { name: string }[]).map((r) => r.name);
    expect(names('words:user')).toEqual(['getUserName']);
    expect(names('words:http')).toEqual(['HTTPClient']);
    expect(names('words:request')).toEqual(['send_request']);
    expect(names('name:send_request')).toEqual(['send_request']); // '_' is a token character in names
    w.abort();
  });
});

describe('IndexWriter: deferred search rows', () => {
  /** Symbol ids that have search rows, and those that should: equal when the FTS table is exact. */
  function ftsExact(db: Database.Database): { fts: number[]; symbols: number[] } {
    const ids = (sql: string) => (db.prepare(sql).all() as { id: number }[]).map((r) => r.id);
    return { fts: ids('SELECT rowid AS id FROM symbols_fts ORDER BY rowid'), symbols: ids('SELECT id FROM symbols ORDER BY id') };
  }
  const hits = (db: Database.Database, q: string) =>
    (db.prepare('SELECT f.path AS path FROM symbols_fts m JOIN symbols s ON s.id = m.rowid JOIN files f ON f.id = s.file_id WHERE symbols_fts MATCH ? ORDER BY f.path').all(q) as { path: string }[]).map((r) => r.path);

  it('stay exact through patches: a changed file, a renamed one, a removed one', () => {
    const out = newOut();
    build(out, [jobResult('a', [fileResult('syn/a.py'), fileResult('syn/b.py')]), jobResult('b', [fileResult('syn/c.py')])]);
    // A patch (one transaction, rows through the spool): a.py changed, b.py renamed to moved.py, c.py removed.
    const w = writer(out, true);
    expect(w.inPlace).toBe(true);
    applyResult(w, jobResult('a2', [fileResult('syn/a.py', { hash: sha1('v2'), symbols: [{ name: 'freshName', kind: 'function', scope: null, qualified: 'freshName', nameLine: 1, nameCol: 4, startLine: 1, startCol: 0, endLine: 1, endCol: 9, signature: 'def freshName()', doc: null }], refs: [] })]));
    expect(w.copyFile('syn/b.py', 'syn/moved.py', 0)).toBe(true);
    w.removeAllExcept(new Set(['syn/a.py', 'syn/moved.py']));
    w.commit();
    const db = openIndex(out);
    try {
      const x = ftsExact(db);
      expect(x.fts).toEqual(x.symbols);
      expect(hits(db, 'words:fresh')).toEqual(['syn/a.py']);
      expect(hits(db, 'words:user')).toEqual(['syn/moved.py']); // a.py's old getUserName is gone, b.py's moved
      expect(hits(db, 'words:http')).toEqual(['syn/moved.py']);
    } finally {
      db.close();
    }
  });

  it('a build commits with every search row, whether the idle steps ran or not; a copy of an old index has them all', () => {
    const results = [...real, ...synthetic()];
    for (const steps of [0, 1, 1000]) {
      const out = newOut();
      const w = writer(out);
      for (const r of results) {
        applyResult(w, r);
        for (let i = 0; i < steps && w.ftsStep(3); i++);
      }
      w.commit();
      const db = openIndex(out);
      try {
        const x = ftsExact(db);
        expect(x.fts.length).toBeGreaterThan(50);
        expect(x.fts).toEqual(x.symbols);
      } finally {
        db.close();
      }
      // An incremental build in a copy starts past every symbol of the index: nothing is added twice.
      const again = new IndexWriter(out, { incremental: true, extractorVersion: EXTRACTOR_VERSION });
      applyResult(again, jobResult('new', [fileResult('syn/zzz.py')]));
      again.commit();
      const db2 = openIndex(out);
      try {
        const x = ftsExact(db2);
        expect(x.fts).toEqual(x.symbols);
      } finally {
        db2.close();
      }
    }
  });
});

describe('IndexWriter: a build killed mid-merge resumes', () => {
  /** A batch of `files` files with many rows each: big enough that its merge takes a while. */
  function bigBatch(tag: string, files: number, refsPerFile: number): JobResult {
    return jobResult(
      `big-${tag}`,
      Array.from({ length: files }, (_, i) =>
        fileResult(`big/${tag}/m${i}.py`, {
          refs: Array.from({ length: refsPerFile }, (_, j) => ({ kind: 'call' as const, name: `callee_${j % 97}`, line: j + 1, col: 4, scope: null, context: `mod.callee_${j % 97}(x, ${j})` })),
        }),
      ),
    );
  }

  it('SIGKILL while a batch is being merged: the resumed build skips what was merged, redoes the rest, and exports as if never interrupted', async () => {
    const batches = [bigBatch('a', 5, 200), bigBatch('b', 5, 200), bigBatch('c', 5, 200), bigBatch('huge', 30, 6000), bigBatch('d', 5, 200), ...synthetic()];
    const bytes = batches.map((b) => buildFragment(b.files));
    const fragmentFiles = () => batches.map((b, i) => spoolFragment(b.batchId, bytes[i]));

    // The reference: every batch merged straight through.
    const straight = newOut();
    const w0 = new IndexWriter(straight, { incremental: false, extractorVersion: EXTRACTOR_VERSION });
    fragmentFiles().forEach((f, i) => w0.apply(batches[i].batchId, [f]));
    w0.commit();
    const expected = dumpIndex(straight);

    // A real process merges the batches of a resumable build, saying when each starts and ends, and is killed
    // while it merges the huge one.
    const out = newOut();
    const files = fragmentFiles();
    const script = `
      const { IndexWriter } = await import(${JSON.stringify(new URL('../../dist/index-store/writer.js', import.meta.url).href)});
      const w = new IndexWriter(${JSON.stringify(out)}, { incremental: false, extractorVersion: ${EXTRACTOR_VERSION}, resumeKey: 'run-k' });
      const batches = ${JSON.stringify(batches.map((b, i) => [b.batchId, files[i]]))};
      for (const [i, [id, f]] of batches.entries()) {
        process.stdout.write('begin ' + i + '\\n');
        w.apply(id, [f]);
        process.stdout.write('done ' + i + '\\n');
      }
      process.stdout.write('all\\n');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let said = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        said += d;
        if (said.includes('begin 3\n')) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`the merging process exited (${code}) before the huge batch: ${said}`)));
    });
    await new Promise((r) => child.once('close', r));
    expect(said).toContain('done 2\n');
    expect(said).not.toContain('done 3\n'); // killed inside the huge batch's merge
    expect(existsSync(`${out}.building`)).toBe(true);
    expect(existsSync(out)).toBe(false); // nothing half-written at the index's path

    // The same run again: it finds the build, skips the merged batches (a redelivery is a no-op), merges the rest.
    const w = new IndexWriter(out, { incremental: false, extractorVersion: EXTRACTOR_VERSION, resumeKey: 'run-k' });
    expect(w.resumed).toBe(true);
    expect([...w.mergedBatches()].sort()).toEqual(batches.slice(0, 3).map((b) => b.batchId).sort());
    const applied = fragmentFiles().map((f, i) => w.apply(batches[i].batchId, [f]));
    expect(applied).toEqual([false, false, false, true, true, true, true]);
    w.commit();
    expect(dumpIndex(out)).toBe(expected);
    expect(siblings(out)).toEqual(['index.db']);
  }, 120_000);
});
