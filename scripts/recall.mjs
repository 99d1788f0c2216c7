#!/usr/bin/env node
// Definition recall against universal-ctags, and where call references point, over one tree.
//
//   npx tsc -p . && node scripts/recall.mjs <tree> [--exclude GLOB]... [--no-default-excludes]
//       [--bin path/to/mcp-index.js] [--index existing.db] [--under PREFIX] [--misses N] [--json]
//
// 1. Indexes the tree (`mcp-index <tree> --full`, unless --index names an index of it) and reads it back with
//    `mcp-index export`. --bin runs another build (e.g. main's) to measure "before".
// 2. Runs `ctags -R --output-format=json --fields=+nl` in the tree. A ctags definition of a counted kind (the table
//    below) is found when the index has a symbol in the same file with the same name whose name line (or, in an
//    index without name lines, start line) is within 3 lines of ctags' line. Only files both tools read count, and
//    names ctags makes up (`AnonymousFunction…`, `AnonymousClass…`) are ignored, and so are files the index skipped
//    on purpose (over --max-file-size, binary, non-UTF-8: counted apart). A JS private name `#x` matches ctags'
//    `x` (ctags drops the `#`). --under PREFIX counts only files below that folder of the tree.
// 3. For every call reference, checks that the text at its line and column is the called name (`.parse` in
//    `a.b.parse(`, not `a`).
// Prints recall and the callee share per language, and up to --misses N missed definitions per language, each with
// the nearest same-named symbol of the file when there is one (to tell a position disagreement from a gap).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * One row per language: the ctags language name, our language ids for the same files, and the ctags kinds counted.
 * The issue counts class, function, method, member, struct, enum, trait and module definitions; per language that is
 * these ctags kind names (ctags calls a Rust trait `interface` and a JS generator function `generator`).
 * A new language is one more row.
 */
const LANGUAGES = [
  { ctags: 'Python', ours: ['python'], kinds: ['class', 'function', 'member'] },
  { ctags: 'JavaScript', ours: ['javascript'], kinds: ['class', 'function', 'method', 'generator'] },
  { ctags: 'TypeScript', ours: ['typescript', 'tsx'], kinds: ['class', 'function', 'method', 'generator', 'enum'] },
  { ctags: 'Rust', ours: ['rust'], kinds: ['function', 'method', 'struct', 'enum', 'interface', 'module'] },
  // Go methods are ctags `func`s with a scope; `package` is the package clause. Java's `annotation` is `@interface`.
  { ctags: 'Go', ours: ['go'], kinds: ['func', 'struct', 'interface', 'package'] },
  { ctags: 'Java', ours: ['java'], kinds: ['class', 'interface', 'enum', 'method', 'package', 'annotation'] },
  { ctags: 'C#', ours: ['csharp'], kinds: ['class', 'struct', 'interface', 'enum', 'method', 'namespace'] },
  { ctags: 'PHP', ours: ['php'], kinds: ['class', 'interface', 'trait', 'function', 'namespace'] },
  // C, C++, Ruby. ctags counts only definitions (its `prototype` kind is off by default); `.h` is C for both tools.
  { ctags: 'C', ours: ['c'], kinds: ['function', 'struct', 'union', 'enum'] },
  { ctags: 'C++', ours: ['cpp'], kinds: ['function', 'class', 'struct', 'union', 'enum', 'namespace'] },
  { ctags: 'Ruby', ours: ['ruby'], kinds: ['module', 'class', 'method', 'singletonMethod'] },
];
/** ctags reads `.h` as C++; the indexer reads it as C (its default), so ctags is told the same. */
const CTAGS_MAPS = ['--map-C++=-.h', '--map-C=+.h'];
const LINE_SLACK = 3;
const NOT_READ = new Set(['oversize', 'binary', 'non-utf8']);
/** Names ctags makes up for anonymous functions and classes (and C/C++ anonymous structs, unions, enums). */
const MADE_UP = /^(?:Anonymous(?:Function|Class)[0-9a-f]+|__anon[0-9a-f]+)$/;

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = 'usage: node scripts/recall.mjs <tree> [--exclude GLOB]... [--no-default-excludes] [--bin FILE] [--index DB] [--under PREFIX] [--misses N] [--json]';
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      exclude: { type: 'string', multiple: true, default: [] },
      'no-default-excludes': { type: 'boolean', default: false },
      bin: { type: 'string', default: join(here, '../bin/mcp-index.js') },
      index: { type: 'string' },
      under: { type: 'string' },
      misses: { type: 'string', default: '15' },
      json: { type: 'boolean', default: false },
    },
  });
} catch (err) {
  process.stderr.write(`${err.message}\n${USAGE}\n`);
  process.exit(2);
}
const { values: o, positionals } = parsed;
if (positionals.length !== 1) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const root = resolve(positionals[0]);
const bin = resolve(o.bin);
const maxMisses = Number(o.misses);
const asJson = o.json;
const under = o.under ? o.under.replace(/^\.\//, '').replace(/\/?$/, '/') : null;
const log = (line) => process.stderr.write(line + '\n');

const work = mkdtempSync(join(tmpdir(), 'mcp-index-recall-'));
try {
  // ---- our index -------------------------------------------------------------------------------------------------
  let index = o.index;
  if (!index) {
    index = join(work, 'index.db');
    const flags = [...o.exclude.flatMap((g) => ['--exclude', g]), ...(o['no-default-excludes'] ? ['--no-default-excludes'] : [])];
    log(`recall: indexing ${root}`);
    execFileSync(process.execPath, [bin, root, '--out', index, '--full', '-q', ...flags], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const exportPath = join(work, 'export.jsonl');
  execFileSync(process.execPath, [bin, 'export', '--index', index, '-o', exportPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const languageOfPath = new Map();
  const notRead = new Map(); // path -> error code
  const defs = new Map(); // path -> name -> lines
  const calls = [];
  for (const line of readFileSync(exportPath, 'utf8').split('\n')) {
    if (!line) continue;
    const row = JSON.parse(line);
    if (row.type === 'file') {
      // files the indexer did not read on purpose (over --max-file-size, binary, ...) are not compared
      if (row.status === 'error' && NOT_READ.has(row.error_code)) notRead.set(row.path, row.error_code);
      else languageOfPath.set(row.path, row.language);
    }
    else if (row.type === 'symbol') {
      let byName = defs.get(row.path);
      if (!byName) defs.set(row.path, (byName = new Map()));
      // ctags names a JS private member `#x` as `x`: the same definition spelled without its `#`
      const name = row.name.startsWith('#') ? row.name.slice(1) : row.name;
      const lines = byName.get(name) ?? [];
      lines.push(row.name_line ?? row.start_line);
      byName.set(name, lines);
    } else if (row.type === 'ref' && row.kind === 'call') calls.push(row);
  }

  // ---- ctags -----------------------------------------------------------------------------------------------------
  log('recall: running ctags');
  const ctags = spawnSync('ctags', ['-R', '--output-format=json', '--fields=+nl', ...CTAGS_MAPS, `--languages=${LANGUAGES.map((l) => l.ctags).join(',')}`, '-f', '-', '.'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (ctags.error || ctags.status !== 0) throw new Error(`ctags failed: ${ctags.error?.message ?? ctags.stderr}`);

  const perLanguage = new Map(LANGUAGES.map((l) => [l.ctags, { language: l.ctags, ours: l.ours, counted: 0, found: 0, notRead: 0, misses: [], calls: 0, atName: 0, callMisses: [] }]));
  for (const line of ctags.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const tag = JSON.parse(line);
    if (tag._type !== 'tag') continue;
    const row = LANGUAGES.find((l) => l.ctags === tag.language);
    if (!row || !row.kinds.includes(tag.kind) || MADE_UP.test(tag.name)) continue;
    const path = tag.path.replace(/^\.\//, '');
    if (under && !path.startsWith(under)) continue;
    const ours = languageOfPath.get(path);
    if (!ours || !row.ours.includes(ours)) {
      if (notRead.has(path)) perLanguage.get(row.ctags).notRead++;
      continue; // a file only one tool reads
    }
    const stats = perLanguage.get(row.ctags);
    stats.counted++;
    // ctags sometimes qualifies the name itself (`a.b.c`); computed names (`[Symbol.iterator]`) stay whole
    // (a dotted package or namespace, `java.util`, is one name in the index too)
    let name = /^[\w$]+(?:\.[\w$]+)+$/.test(tag.name) ? tag.name.slice(tag.name.lastIndexOf('.') + 1) : tag.name;
    // ctags writes C++ operators with blanks (`operator ()`, `operator &&`); the index without (`operator()`)
    if (/^operator\s*[^\w\s]/.test(name)) name = name.replace(/\s+/g, '');
    const lines = [...(defs.get(path)?.get(name) ?? []), ...(name !== tag.name ? (defs.get(path)?.get(tag.name) ?? []) : [])];
    if (lines.some((l) => Math.abs(l - tag.line) <= LINE_SLACK)) {
      stats.found++;
      continue;
    }
    const nearest = lines.length ? lines.reduce((a, b) => (Math.abs(b - tag.line) < Math.abs(a - tag.line) ? b : a)) : null;
    stats.misses.push({ path, line: tag.line, name: tag.name, kind: tag.kind, scope: tag.scope ?? null, ours: nearest });
  }

  // ---- call positions --------------------------------------------------------------------------------------------
  const lineStarts = new Map();
  for (const ref of calls) {
    if (under && !ref.path.startsWith(under)) continue;
    const language = languageOfPath.get(ref.path);
    const row = LANGUAGES.find((l) => l.ours.includes(language));
    if (!row) continue;
    let file = lineStarts.get(ref.path);
    if (!file) {
      const src = readFileSync(join(root, ref.path), 'utf8').replace(/^\uFEFF/, '');
      const starts = [0];
      for (let i = src.indexOf('\n'); i >= 0; i = src.indexOf('\n', i + 1)) starts.push(i + 1);
      lineStarts.set(ref.path, (file = { src, starts }));
    }
    const stats = perLanguage.get(row.ctags);
    stats.calls++;
    const at = file.starts[ref.line - 1] + ref.col;
    // A call ref's name is the called name (`parse`, `println!`); a string key `a['b']()` is `b` at the quote.
    const text = file.src.slice(at, at + ref.name.length + 2);
    if (text.startsWith(ref.name) || text.slice(1).startsWith(ref.name)) stats.atName++;
    else if (stats.callMisses.length < maxMisses) stats.callMisses.push({ path: ref.path, line: ref.line, col: ref.col, name: ref.name, text: file.src.slice(at, at + 40).split('\n')[0] });
  }

  const report = [...perLanguage.values()]
    .filter((s) => s.counted || s.calls)
    .map((s) => ({
      language: s.language,
      ctagsDefinitions: s.counted,
      found: s.found,
      recall: s.counted ? round(s.found / s.counted) : null,
      missed: s.misses.length,
      /** ctags definitions in files the index skipped on purpose (oversize, binary, non-UTF-8): not counted. */
      inFilesNotRead: s.notRead,
      calls: s.calls,
      callsAtName: s.atName,
      calleeShare: s.calls ? round(s.atName / s.calls) : null,
      misses: s.misses.slice(0, maxMisses),
      callMisses: s.callMisses,
    }));
  if (asJson) process.stdout.write(JSON.stringify({ tree: root, bin, report }, null, 2) + '\n');
  else {
    for (const r of report) {
      const skipped = r.inFilesNotRead ? `; ${r.inFilesNotRead} more in files the index skipped (oversize, ...)` : '';
      process.stdout.write(`${r.language}: recall ${r.recall ?? '-'} (${r.found}/${r.ctagsDefinitions} ctags definitions${skipped}), calls at the callee's name ${r.calleeShare ?? '-'} (${r.callsAtName}/${r.calls})\n`);
      for (const m of r.misses) process.stdout.write(`  missed ${m.kind} ${m.scope ? m.scope + '.' : ''}${m.name} ${m.path}:${m.line}${m.ours !== null ? `  (ours at line ${m.ours})` : ''}\n`);
      for (const m of r.callMisses) process.stdout.write(`  call ${m.name} at ${m.path}:${m.line}:${m.col} reads ${JSON.stringify(m.text)}\n`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

function round(n) {
  return Math.round(n * 10000) / 10000;
}
