import type Database from 'better-sqlite3';
import { corruptIndexError, integrityProblem, isCorruption } from '../index-store/reader.js';
import { findSymbols, warmNames, type MatchMode } from '../query/find.js';
import {
  formatCallees,
  formatCallers,
  formatContent,
  formatFind,
  formatImpact,
  formatImporters,
  formatOutline,
  formatRefs,
  formatSearch,
  formatSource,
  formatStatus,
} from '../query/format.js';
import { findCallees, findCallers, findImpact, findImporters } from '../query/graph.js';
import { searchContent } from '../query/grep.js';
import { moduleIndex } from '../query/modules.js';
import { fileOutline } from '../query/outline.js';
import { pathRankSql } from '../query/rank.js';
import { findRefs } from '../query/refs.js';
import { searchSymbols } from '../query/search.js';
import { symbolSource, type SymbolTarget } from '../query/source.js';
import { indexStatus } from '../query/status.js';
import { QueryError } from '../errors.js';

/**
 * What each MCP tool does with an open index, as text. Plain functions of (index, arguments): they run on the
 * query threads (query-thread.ts), so that no query holds the server's main thread.
 */

/** Maximum results per tool: the default when `limit` is not given, and the most a call may ask for. */
export const LIMITS = {
  symbol_lookup: { def: 20, max: 200 },
  search_code: { def: 20, max: 200 },
  find_references: { def: 50, max: 500 },
  find_callers: { def: 50, max: 500 },
  find_callees: { def: 100, max: 500 },
  find_importers: { def: 50, max: 500 },
  file_outline: { def: 200, max: 2000 },
} as const;

const HINT = { limitHint: 'raise limit or narrow with path/kind/lang' };

export interface OpenIndex {
  db: Database.Database;
  meta: Record<string, string>;
  indexPath: string;
  root: string | null;
  /** Changes the server's watcher has seen in this repository (undefined: not watched). */
  generation?: number;
}

export type Args = Record<string, unknown>;

const one = (v: unknown) => (typeof v === 'string' ? [v] : undefined);
const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function target(a: Args): SymbolTarget {
  return { name: str(a.name), path: str(a.path), line: num(a.line), kind: one(a.kind), lang: one(a.lang) };
}

const TOOLS: Record<string, (ix: OpenIndex, a: Args) => string | Promise<string>> = {
  symbol_lookup: ({ db }, a) =>
    formatFind(
      findSymbols(db, String(a.name), { kind: one(a.kind), lang: one(a.lang), path: str(a.path), match: a.match as MatchMode | undefined, limit: num(a.limit) ?? LIMITS.symbol_lookup.def }),
      HINT,
    ),
  symbol_source: ({ db, root }, a) => formatSource(symbolSource(db, target(a), root, { maxLines: num(a.max_lines) })),
  search_code: async ({ db, root, generation }, a) => {
    const limit = num(a.limit) ?? LIMITS.search_code.def;
    if ((a.mode ?? 'symbols') === 'content') {
      if (a.kind) throw new QueryError('kind applies to mode "symbols" only');
      const ignoreCase = a.case_sensitive === undefined ? undefined : !a.case_sensitive;
      const r = await searchContent(db, String(a.query), { regex: !!a.regex, ignoreCase, lang: one(a.lang), path: str(a.path), limit, root, context: num(a.context), timeBudgetMs: 5000, listingGeneration: generation });
      return formatContent(r, HINT);
    }
    if (a.regex || a.case_sensitive !== undefined || a.context !== undefined) throw new QueryError('regex, case_sensitive and context apply to mode "content" only');
    return formatSearch(searchSymbols(db, String(a.query), { kind: one(a.kind), lang: one(a.lang), path: str(a.path), limit }), HINT);
  },
  find_references: ({ db }, a) =>
    formatRefs(findRefs(db, String(a.name), { kind: one(a.kind), lang: one(a.lang), path: str(a.path), limit: num(a.limit) ?? LIMITS.find_references.def }), HINT),
  find_callers: ({ db, root }, a) =>
    formatCallers(findCallers(db, target(a), root, { limit: num(a.limit) ?? LIMITS.find_callers.def, maxCandidates: num(a.max_candidates) }), HINT),
  find_callees: ({ db, root }, a) => formatCallees(findCallees(db, target(a), root, { limit: num(a.limit) ?? LIMITS.find_callees.def }), HINT),
  change_impact: ({ db, root }, a) => formatImpact(findImpact(db, target(a), root, { depth: num(a.depth) })),
  find_importers: ({ db }, a) => formatImporters(findImporters(db, String(a.module), { limit: num(a.limit) ?? LIMITS.find_importers.def }), HINT),
  file_outline: ({ db, root }, a) =>
    formatOutline(fileOutline(db, String(a.path), root, root ?? undefined), { maxDepth: num(a.max_depth), limit: num(a.limit) ?? LIMITS.file_outline.def }),
  get_status: ({ db, meta, indexPath, root }, a) => formatStatus(indexStatus(db, indexPath, meta, root, { errorsLimit: num(a.errors_limit) ?? 10 })),
};

export interface ToolAnswer {
  text: string;
  /** query: a bad argument (a tool error); damaged: the index is corrupt (the server rebuilds it). */
  error?: 'query' | 'damaged' | 'internal';
  /** When the index's content was last written (meta last_run). */
  indexedAt: string | null;
}

/** Runs one query tool; every failure becomes an answer (the MCP layer turns `error` into isError). */
export async function runTool(ix: OpenIndex, tool: string, args: Args): Promise<ToolAnswer> {
  const indexedAt = ix.meta.last_run ?? null;
  const fn = TOOLS[tool];
  if (!fn) return { text: `unknown tool ${tool}`, error: 'internal', indexedAt };
  try {
    return { text: await fn(ix, args), indexedAt };
  } catch (err) {
    if (err instanceof QueryError) return { text: err.message, error: 'query', indexedAt };
    if (isCorruption(err)) return { text: corruptIndexError(ix.indexPath, integrityProblem(ix.indexPath) ?? (err as Error).message).message, error: 'damaged', indexedAt };
    return { text: `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, error: 'internal', indexedAt };
  }
}

/** Loads what the first lookups would otherwise wait for: the fuzzy name list, the import table, the path ranks. */
export function warmIndex(db: Database.Database): void {
  warmNames(db);
  moduleIndex(db);
  pathRankSql(db);
}
