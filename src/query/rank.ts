import type Database from 'better-sqlite3';
import { allFiles } from './common.js';

/**
 * Where code lives, for ranking: the code a person asks about comes before its tests, examples and vendored copies.
 * Globs over '/' + the repo-relative path (`*` crosses folders, like SQLite's GLOB); the first class that matches wins.
 */
const PATH_CLASSES: { rank: number; what: string; globs: string[] }[] = [
  {
    rank: 3,
    what: 'vendored',
    globs: ['*/vendor/*', '*/vendored/*', '*/_vendor/*', '*/third_party/*', '*/third-party/*', '*/node_modules/*', '*/bower_components/*'],
  },
  {
    rank: 2,
    what: 'test',
    globs: [
      '*/test/*', '*/tests/*', '*/testing/*', '*/__tests__/*', '*/spec/*', '*/specs/*', '*/testdata/*', '*/fixtures/*',
      '*/*_test/*', '*/*_tests/*', '*/test_*/*',
      '*/test_*.py', '*/*_test.py', '*/*_tests.py', '*/conftest.py', '*/*.test.*', '*/*.spec.*', '*/*_test.rs', '*/tests.rs',
    ],
  },
  {
    rank: 1,
    what: 'example',
    globs: ['*/example/*', '*/examples/*', '*/demo/*', '*/demos/*', '*/sample/*', '*/samples/*', '*/docs/*', '*/doc/*', '*/benches/*', '*/bench/*', '*/benchmarks/*'],
  },
];

const globRegex = (g: string) => g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
const CLASS_RES = PATH_CLASSES.map((c) => ({ rank: c.rank, re: new RegExp(`^(?:${c.globs.map(globRegex).join('|')})$`) }));

const memo = new Map<string, number>();

/** 0 source, 1 examples/docs/benchmarks, 2 tests, 3 vendored. */
export function pathRank(path: string): number {
  let r = memo.get(path);
  if (r === undefined) {
    const p = '/' + path;
    r = CLASS_RES.find((c) => c.re.test(p))?.rank ?? 0;
    if (memo.size > 200_000) memo.clear();
    memo.set(path, r);
  }
  return r;
}

const registered = new WeakSet<Database.Database>();

/**
 * Registers the SQL function `mcp_path_rank(file_id)` on a connection: pathRank of the file, computed once per
 * file (a CASE over every glob per row costs more than the rest of a lookup).
 */
export function pathRankSql(db: Database.Database, fileId = 's.file_id'): string {
  if (!registered.has(db)) {
    const ranks = new Map(allFiles(db).map((f) => [f.id, pathRank(f.path)]));
    db.function('mcp_path_rank', { deterministic: true }, (id: unknown) => ranks.get(Number(id)) ?? 0);
    registered.add(db);
  }
  return `mcp_path_rank(${fileId})`;
}
