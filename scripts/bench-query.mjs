#!/usr/bin/env node
// Query benchmark: one index over the Python stdlib + Rust's `library` and `compiler` folders (Debian's rust-src),
// then the latencies of what the MCP tools do, over queries drawn from the index: symbol lookup (plain and qualified
// names), symbol source, callers and callees, symbol search (words, and questions in plain words), content search;
// the size of a typical answer (the text a tool returns); what the content index costs; and, with --mcp, lookups
// through a real `serve` and the SDK client. The stdlib and `library` alone hold ~137k symbols with the current
// extractors; `compiler` (same package) takes the index past 150k. --no-compiler leaves it out.
//
//   npx tsc -p . && node scripts/bench-query.mjs [--work DIR] [--rebuild] [--no-compiler] [--queries N] [--mcp] [--json]
//
// The tree and index are kept in --work (default $TMPDIR/mcp-index-bench) and reused by later runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { buildContentIndex } from '../dist/index-store/content.js';
import { identifierWords } from '../dist/index-store/schema.js';
import { openIndex } from '../dist/index-store/reader.js';
import { findSymbols } from '../dist/query/find.js';
import { formatCallees, formatCallers, formatContent, formatFind, formatSearch, formatSource } from '../dist/query/format.js';
import { findCallees, findCallers } from '../dist/query/graph.js';
import { searchContent } from '../dist/query/grep.js';
import { searchSymbols } from '../dist/query/search.js';
import { symbolSource } from '../dist/query/source.js';
import { warmIndex } from '../dist/serve/tools.js';

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
 * the wall time includes waiting for a core, the CPU time does not. Also the size of the text a tool would answer
 * with (`render`), in bytes.
 */
async function timeAll(queries, fn, render) {
  for (const q of queries.slice(0, 10)) await fn(q); // warm caches (what a running server has)
  const wall = [];
  const cpu = [];
  const bytes = [];
  for (const q of queries) {
    const c = process.cpuUsage();
    const t = performance.now();
    const r = await fn(q);
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
    if (render) bytes.push(Buffer.byteLength(render(r)));
  }
  const row = { n: wall.length, p50: pct(wall, 50), p90: pct(wall, 90), p99: pct(wall, 99), max: pct(wall, 100), cpuP50: pct(cpu, 50), cpuP99: pct(cpu, 99) };
  return bytes.length ? { ...row, answerBytesP50: pct(bytes, 50), answerBytesP90: pct(bytes, 90) } : row;
}

function pct(xs, p) {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 100) / 100;
}

// What the server loads after opening an index, before the first query: the fuzzy name list, the import table and
// module maps (callers, importers), the path ranks.
const cold = performance.now();
warmIndex(db);
const nameCacheMs = Math.round(performance.now() - cold);

// Definitions an agent asks about: functions, methods, classes, structs, traits; by qualified name where scoped.
const defAt = db.prepare(
  "SELECT s.name, s.qualified, s.kind, f.path FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.id >= ? AND s.kind IN ('function', 'method', 'class', 'struct', 'trait', 'enum') ORDER BY s.id LIMIT 1",
);
const randomDef = () => defAt.get(1 + Math.floor(rand() * maxId)) ?? defAt.get(1);
const qualifiedNames = Array.from({ length: N }, () => {
  let d = randomDef();
  for (let i = 0; i < 20 && d.qualified === d.name; i++) d = randomDef();
  return d.qualified;
});
const targets = Array.from({ length: Math.min(N, 200) }, () => {
  const d = randomDef();
  return { name: d.qualified, path: d.path };
});
// Questions in plain words: the first words of a random docstring, wrapped the way people ask.
const docAt = db.prepare("SELECT doc FROM symbols WHERE id >= ? AND doc IS NOT NULL AND length(doc) > 30 ORDER BY id LIMIT 1");
const questions = Array.from({ length: Math.min(N, 200) }, () => {
  const doc = (docAt.get(1 + Math.floor(rand() * maxId)) ?? docAt.get(1)).doc;
  const words = doc.split(/[^A-Za-z]+/).filter((w) => w.length > 2).slice(0, 6);
  return `how does the code ${words.join(' ')}?`;
});
const SEARCH_HINT = { limitHint: 'raise limit or narrow with path/kind/lang' };

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
  warmUpMs: nameCacheMs,
  latencyMs: {
    'find <exact name>': await timeAll(names, (q) => findSymbols(db, q), (r) => formatFind(r, SEARCH_HINT)),
    'find <Class.method / Type::fn>': await timeAll(qualifiedNames, (q) => findSymbols(db, q), (r) => formatFind(r, SEARCH_HINT)),
    'find <prefix>': await timeAll(prefixes, (q) => findSymbols(db, q)),
    'find <abbreviation> (fuzzy)': await timeAll(fuzzy, (q) => findSymbols(db, q)),
    'source <qualified name>': await timeAll(targets, (t) => symbolSource(db, t, tree), formatSource),
    'callers <qualified name>': await timeAll(targets, (t) => findCallers(db, t, tree), (r) => formatCallers(r, SEARCH_HINT)),
    'callees <qualified name>': await timeAll(targets, (t) => findCallees(db, t, tree), (r) => formatCallees(r, SEARCH_HINT)),
    'search <words>': await timeAll(words, (q) => searchSymbols(db, q), (r) => formatSearch(r, SEARCH_HINT)),
    'search <question in plain words>': await timeAll(questions, (q) => searchSymbols(db, q), (r) => formatSearch(r, SEARCH_HINT)),
    'search --content <identifier>': await timeAll(substrings, (q) => searchContent(db, q), (r) => formatContent(r, SEARCH_HINT)),
    'search --regex': await timeAll(regexes, (q) => searchContent(db, q, { regex: true })),
  },
};
if (flag('--mcp')) results.mcp = await throughMcp();
db.close();

/** Lookups and callers through a real server (query threads, JSON-RPC over stdio), one call at a time. */
async function throughMcp() {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'serve', '--no-watch', '--repo', tree, '--index', contentDb], stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  const time = async (calls) => {
    for (const c of calls.slice(0, 10)) await client.callTool(c);
    const ms = [];
    for (const c of calls) {
      const t = performance.now();
      await client.callTool(c);
      ms.push(performance.now() - t);
    }
    return { p50: pct(ms, 50), p99: pct(ms, 99) };
  };
  const n = Math.min(N, 200);
  const latencyMs = {
    'symbol_lookup <qualified>': await time(qualifiedNames.slice(0, n).map((name) => ({ name: 'symbol_lookup', arguments: { name } }))),
    'symbol_source': await time(targets.slice(0, n).map((t) => ({ name: 'symbol_source', arguments: t }))),
    'find_callers': await time(targets.slice(0, n).map((t) => ({ name: 'find_callers', arguments: t }))),
    'search_code <question>': await time(questions.slice(0, n).map((query) => ({ name: 'search_code', arguments: { query } }))),
  };
  await client.close();
  return { n, latencyMs };
}

if (asJson) {
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
} else {
  const r = results;
  const out = [
    `tree:    ${r.tree}: ${r.files} files, ${r.sourceMB} MB of source, ${r.symbols} symbols`,
    r.build ? `build:   ${r.build.wallSeconds}s on ${r.build.threads} threads (${r.build.fileErrors} files with errors)` : 'build:   (reused)',
    `index:   ${r.index.symbolIndexMB} MB (${r.index.symbolIndexMBPerSourceMB} MB per MB of source)`,
    `content: +${r.index.contentIndexMB} MB, ${r.index.contentBuildSeconds}s to build, ${r.index.contentLines} lines -> ${r.index.withContentMB} MB total (${r.index.withContentMBPerSourceMB} MB per MB of source)`,
    `warm-up: ${r.warmUpMs} ms to load the fuzzy name list, import table and path ranks (once per connection)`,
    '',
    `machine: ${r.cores} cores, load average ${r.loadAverage.join(' ')} (wall times include waiting for a core; cpu times do not)`,
    '',
    'query                               n     p50     p90     p99     max  cpu p50 cpu p99  (ms)   answer bytes p50/p90',
    ...Object.entries(r.latencyMs).map(
      ([k, v]) =>
        `${k.padEnd(33)} ${String(v.n).padStart(4)} ${[v.p50, v.p90, v.p99, v.max, v.cpuP50, v.cpuP99].map((x) => x.toFixed(2).padStart(7)).join(' ')}${v.answerBytesP50 !== undefined ? `   ${v.answerBytesP50}/${v.answerBytesP90}` : ''}`,
    ),
    ...(r.mcp
      ? ['', `through serve + the SDK client over stdio (${r.mcp.n} calls each, one at a time):`, ...Object.entries(r.mcp.latencyMs).map(([k, v]) => `  ${k.padEnd(31)} p50 ${v.p50.toFixed(2)} ms, p99 ${v.p99.toFixed(2)} ms`)]
      : []),
  ];
  process.stdout.write(out.join('\n') + '\n');
}
