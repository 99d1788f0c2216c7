#!/usr/bin/env node
// Query benchmark: one index over the Python stdlib + Rust's `library` and `compiler` folders (Debian's rust-src),
// then symbol lookup, symbol search and content search latencies over queries drawn from the index, plus what the
// content index costs. The stdlib and `library` alone hold ~137k symbols with the current extractors; `compiler`
// (same package) takes the index past 150k. --no-compiler leaves it out.
//
//   npx tsc -p . && node scripts/bench-query.mjs [--work DIR] [--rebuild] [--no-compiler] [--queries N] [--json]
//
// The tree and index are kept in --work (default $TMPDIR/mcp-index-bench) and reused by later runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { buildContentIndex } from '../dist/index-store/content.js';
import { identifierWords } from '../dist/index-store/writer.js';
import { openIndex } from '../dist/index-store/reader.js';
import { findSymbols } from '../dist/query/find.js';
import { searchContent } from '../dist/query/grep.js';
import { searchSymbols } from '../dist/query/search.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(here, '../bin/mcp-index.js');

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const WORK = resolve(opt('--work', join(tmpdir(), 'mcp-index-bench')));
const N = Number(opt('--queries', '300'));
const asJson = flag('--json');
const log = (...a) => process.stderr.write(a.join(' ') + '\n');

// ---- the tree -------------------------------------------------------------------------------------------------
function sources() {
  const py = execFileSync('python3', ['-c', 'import sysconfig;print(sysconfig.get_paths()["stdlib"])'], { encoding: 'utf8' }).trim();
  const rs = execFileSync('sh', ['-c', "dpkg -L rust-src | grep -m1 '/library$'"], { encoding: 'utf8' }).trim();
  if (!py || !existsSync(py)) throw new Error('python3 stdlib not found');
  if (!rs || !existsSync(rs)) throw new Error("rust-src's library folder not found (apt-get install rust-src)");
  return { py, rs, compiler: join(dirname(rs), 'compiler') };
}

/** Copies only what the indexer reads (.py/.pyi/.rs), without site-packages and caches: symlinks out of the root are refused. */
function copyTree(src, dst, exts, skipTop = []) {
  cpSync(src, dst, {
    recursive: true,
    dereference: true,
    filter: (p) => {
      const rel = p.slice(src.length + 1);
      if (!rel) return true;
      if (skipTop.includes(rel.split('/')[0]) || rel.includes('__pycache__')) return false;
      let st;
      try {
        st = statSync(p);
      } catch {
        return false;
      }
      return st.isDirectory() || exts.some((e) => p.endsWith(e));
    },
  });
}

const tree = join(WORK, 'tree');
const index = join(WORK, 'index.db');
const contentDb = join(WORK, 'index-content.db');
if (flag('--rebuild')) rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
if (!existsSync(join(tree, '.complete'))) {
  const { py, rs, compiler } = sources();
  const withCompiler = !flag('--no-compiler') && existsSync(compiler);
  log(`copying ${py}, ${rs}${withCompiler ? ` and ${compiler}` : ''} into ${tree}`);
  rmSync(tree, { recursive: true, force: true });
  copyTree(py, join(tree, 'python'), ['.py', '.pyi'], ['site-packages']);
  copyTree(rs, join(tree, 'rust-library'), ['.rs']);
  if (withCompiler) copyTree(compiler, join(tree, 'rust-compiler'), ['.rs']);
  writeFileSync(join(tree, '.complete'), '');
  rmSync(index, { force: true });
}

// ---- the index ----------------------------------------------------------------------------------------------------
let build = null;
if (!existsSync(index)) {
  log(`indexing ${tree} (this takes a while)`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, tree, '--out', index, '--full', '--json', '--progress', 'none'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`indexing failed (${r.status}): ${r.stderr}`);
  const summary = JSON.parse(r.stdout);
  build = { wallMs: Math.round(performance.now() - t0), summary };
  writeFileSync(join(WORK, 'build.json'), JSON.stringify(build));
  rmSync(contentDb, { force: true });
} else if (existsSync(join(WORK, 'build.json'))) {
  build = JSON.parse(readFileSync(join(WORK, 'build.json'), 'utf8'));
}

let content = null;
if (!existsSync(contentDb)) {
  copyFileSync(index, contentDb);
  const w = new Database(contentDb);
  const stats = await buildContentIndex(w, tree);
  w.close();
  content = stats;
  writeFileSync(join(WORK, 'content.json'), JSON.stringify(stats));
} else {
  content = JSON.parse(readFileSync(join(WORK, 'content.json'), 'utf8'));
}

// ---- queries ------------------------------------------------------------------------------------------------------
const db = openIndex(contentDb);
const count = (sql) => db.prepare(sql).pluck().get();
const symbols = count('SELECT count(*) FROM symbols');
const files = count('SELECT count(*) FROM files');
const sourceBytes = count('SELECT sum(size) FROM files');
const maxId = count('SELECT max(id) FROM symbols');

let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const symbolAt = db.prepare('SELECT name, qualified, signature FROM symbols WHERE id >= ? ORDER BY id LIMIT 1');
const randomSymbol = () => symbolAt.get(1 + Math.floor(rand() * maxId));

const names = Array.from({ length: N }, () => randomSymbol().name);
const prefixes = Array.from({ length: N }, () => {
  const n = randomSymbol().name;
  return n.slice(0, Math.max(3, Math.ceil(n.length / 2)));
});
const fuzzy = Array.from({ length: N }, () => {
  // a name with a few characters dropped, the way people abbreviate (load_config -> ldcfg)
  const n = randomSymbol().name.replace(/[aeiou_]/gi, '');
  return n.length >= 2 ? n : 'cfg';
});
const words = Array.from({ length: N }, () => {
  const w = identifierWords(randomSymbol().name).split(' ').filter((x) => x.length > 1);
  if (w.length === 0) return 'parse';
  const i = Math.floor(rand() * w.length);
  return w.slice(i, i + 2).join(' ');
});
const substrings = Array.from({ length: Math.min(N, 100) }, () => {
  let n = '';
  while (n.length < 4) n = randomSymbol().name;
  return n;
});
const regexes = ['def \\w+_(?:file|path)\\(', 'fn \\w+<T>', 'raise \\w+Error\\(', 'impl\\s+Drop\\s+for', 'self\\.assert\\w+\\(', 'unsafe fn \\w+'];

/**
 * Wall time per query, and CPU time of this process per query (user+system): on a machine shared with other jobs
 * the wall time includes waiting for a core, the CPU time does not.
 */
function timeAll(queries, fn) {
  for (const q of queries.slice(0, 10)) fn(q); // warm caches (what a running server has)
  const wall = [];
  const cpu = [];
  for (const q of queries) {
    const c = process.cpuUsage();
    const t = performance.now();
    fn(q);
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  const pct = (ms, p) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 100) / 100;
  };
  return { n: wall.length, p50: pct(wall, 50), p90: pct(wall, 90), p99: pct(wall, 99), max: pct(wall, 100), cpuP50: pct(cpu, 50), cpuP99: pct(cpu, 99) };
}

// the first fuzzy query loads the distinct names once per connection
const cold = performance.now();
findSymbols(db, 'zzqqxx');
const nameCacheMs = Math.round(performance.now() - cold);

const results = {
  tree,
  loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 10) / 10),
  cores: (await import('node:os')).availableParallelism(),
  files,
  symbols,
  sourceMB: Math.round(sourceBytes / 1e4) / 100,
  build: build && {
    wallSeconds: Math.round(build.wallMs / 100) / 10,
    threads: build.summary.threads,
    fileErrors: build.summary.index.fileErrors,
  },
  index: {
    symbolIndexMB: Math.round(statSync(index).size / 1e4) / 100,
    symbolIndexMBPerSourceMB: Math.round((statSync(index).size / sourceBytes) * 100) / 100,
    withContentMB: Math.round(statSync(contentDb).size / 1e4) / 100,
    withContentMBPerSourceMB: Math.round((statSync(contentDb).size / sourceBytes) * 100) / 100,
    contentIndexMB: Math.round((statSync(contentDb).size - statSync(index).size) / 1e4) / 100,
    contentBuildSeconds: content && Math.round(content.ms / 100) / 10,
    contentLines: content?.lines,
    contentRows: content?.chunks,
  },
  nameCacheLoadMs: nameCacheMs,
  latencyMs: {
    'find <exact name>': timeAll(names, (q) => findSymbols(db, q)),
    'find <prefix>': timeAll(prefixes, (q) => findSymbols(db, q)),
    'find <abbreviation> (fuzzy)': timeAll(fuzzy, (q) => findSymbols(db, q)),
    'search <words>': timeAll(words, (q) => searchSymbols(db, q)),
    'search --content <identifier>': timeAll(substrings, (q) => searchContent(db, q)),
    'search --regex': timeAll(regexes, (q) => searchContent(db, q, { regex: true })),
  },
};
db.close();

if (asJson) {
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
} else {
  const r = results;
  const out = [
    `tree:    ${r.tree}: ${r.files} files, ${r.sourceMB} MB of source, ${r.symbols} symbols`,
    r.build ? `build:   ${r.build.wallSeconds}s on ${r.build.threads} threads (${r.build.fileErrors} files with errors)` : 'build:   (reused)',
    `index:   ${r.index.symbolIndexMB} MB (${r.index.symbolIndexMBPerSourceMB} MB per MB of source)`,
    `content: +${r.index.contentIndexMB} MB, ${r.index.contentBuildSeconds}s to build, ${r.index.contentLines} lines -> ${r.index.withContentMB} MB total (${r.index.withContentMBPerSourceMB} MB per MB of source)`,
    `names:   ${r.nameCacheLoadMs} ms to load the fuzzy name list (once per connection)`,
    '',
    `machine: ${r.cores} cores, load average ${r.loadAverage.join(' ')} (wall times include waiting for a core; cpu times do not)`,
    '',
    'query                              n     p50     p90     p99     max  cpu p50 cpu p99  (ms)',
    ...Object.entries(r.latencyMs).map(([k, v]) => `${k.padEnd(32)} ${String(v.n).padStart(4)} ${[v.p50, v.p90, v.p99, v.max, v.cpuP50, v.cpuP99].map((x) => x.toFixed(2).padStart(7)).join(' ')}`),
  ];
  process.stdout.write(out.join('\n') + '\n');
}
