import type { Argv } from 'yargs';
import { corruptIndexError, integrityProblem, isCorruption } from '../index-store/reader.js';
import { checkFlags, flagsFor } from '../config/option-table.js';
import { LANGUAGES, REF_KINDS, SYMBOL_KINDS } from '../protocol/types.js';
import { FIND_DEFAULT_LIMIT, findSymbols, MATCH_MODES, type MatchMode } from '../query/find.js';
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
import { findCallees, findCallers, findImpact, findImporters, GRAPH_DEFAULT_LIMIT, IMPACT_DEFAULT_DEPTH } from '../query/graph.js';
import { CONTENT_DEFAULT_LIMIT, searchContent } from '../query/grep.js';
import { openLocated, type OpenedIndex } from '../query/locate.js';
import { fileOutline } from '../query/outline.js';
import { findRefs, REFS_DEFAULT_LIMIT } from '../query/refs.js';
import { SEARCH_DEFAULT_LIMIT, searchSymbols } from '../query/search.js';
import { SOURCE_DEFAULT_LINES, symbolSource, type SymbolTarget } from '../query/source.js';
import { indexStatus } from '../query/status.js';
import { QueryError } from '../errors.js';

interface IndexArgs {
  repo?: string;
  index?: string;
  json?: boolean;
}

/** --repo / --index / --json, shared by every command that reads an index. */
function indexOptions<T>(y: Argv<T>) {
  return y
    .option('index', { type: 'string', describe: 'Index file to read (default: the repository\'s index in $XDG_CACHE_HOME/mcp-index)' })
    .option('json', { type: 'boolean', describe: 'Print JSON on stdout instead of a table' });
}

const repoPositional = {
  type: 'string' as const,
  describe: 'Repository whose index to read (also --repo; default: the current directory or its nearest parent with an index)',
};

const filterOptions = <T>(y: Argv<T>, kinds: readonly string[]) =>
  y
    .option('kind', { type: 'string', array: true, describe: `Only these kinds (repeat or comma-separate): ${kinds.join(', ')}` })
    .option('lang', { type: 'string', array: true, describe: `Only these languages: ${LANGUAGES.join(', ')}` })
    .option('path', { type: 'string', describe: 'Only paths matching this glob, relative to the repository root ("*.rs" matches file names; a folder matches below it)' });

/**
 * Opens the index, runs the query, prints JSON or text. Query errors become one-line usage errors (exit 2), and so
 * does a damaged index (with what rebuilds it). JSON answers say when the index was written (`indexedAt`).
 */
async function run<A extends IndexArgs>(argv: A, body: (ix: OpenedIndex) => { json: object; text: string } | Promise<{ json: object; text: string }>): Promise<void> {
  const ix = openLocated({ repo: argv.repo, index: argv.index });
  try {
    const out = await body(ix);
    process.stdout.write((argv.json ? JSON.stringify({ ...out.json, indexedAt: ix.meta.last_run ?? null }, null, 2) : out.text) + '\n');
  } catch (err) {
    if (isCorruption(err)) throw corruptIndexError(ix.indexPath, integrityProblem(ix.indexPath) ?? (err as Error).message);
    throw err;
  } finally {
    ix.db.close();
  }
}

/** name [repo] plus --path/--line/--kind: a symbol as the source and call-graph commands take it. */
const targetCommand = <T>(c: Argv<T>) =>
  indexOptions(
    c
      .positional('name', { type: 'string', describe: 'Symbol name, plain or qualified (Class.method, Type::fn, Class/method); or omit it and give --path and --line' })
      .positional('repo', repoPositional),
  )
    .option('path', { type: 'string', describe: 'With --line: the file. Without: a glob narrowing the name\'s matches' })
    .option('line', { type: 'number', describe: 'A line inside the symbol (with --path)' })
    .option('kind', { type: 'string', array: true, describe: `Only these kinds: ${SYMBOL_KINDS.join(', ')}` });

const targetOf = (argv: { name?: string; path?: string; line?: number; kind?: (string | number)[] }): SymbolTarget => ({
  name: argv.name,
  path: argv.path,
  line: argv.line,
  kind: argv.kind?.map(String),
});

const HINT = { limitHint: 'use --limit N to see more' };

/** find / search / refs / outline / status / serve: commands that read an index. */
export function registerQueryCommands<T>(y: Argv<T>): Argv<T> {
  return y
    .command(
      'find <name> [repo]',
      'Find symbol definitions by name: exact, then prefix, then fuzzy matches',
      (c) =>
        filterOptions(indexOptions(c.positional('name', { type: 'string', demandOption: true, describe: 'Symbol name' }).positional('repo', repoPositional)), SYMBOL_KINDS)
          .option('match', { choices: MATCH_MODES, describe: 'Loosest match to include (default fuzzy: exact, prefix and fuzzy)' })
          .option('limit', { alias: 'n', type: 'number', describe: `Maximum results (default ${FIND_DEFAULT_LIMIT})` }),
      (argv) =>
        run(argv, (ix) => {
          const r = findSymbols(ix.db, String(argv.name), {
            kind: argv.kind as string[] | undefined,
            lang: argv.lang as string[] | undefined,
            path: argv.path,
            match: argv.match as MatchMode | undefined,
            limit: argv.limit,
          });
          return { json: r, text: formatFind(r, HINT) };
        }),
    )
    .command(
      'search <text> [repo]',
      'Full-text search over symbol names, scopes, signatures and docs; --content searches file contents',
      (c) =>
        filterOptions(indexOptions(c.positional('text', { type: 'string', demandOption: true, describe: 'Words (symbols) or substring/regex (--content)' }).positional('repo', repoPositional)), SYMBOL_KINDS)
          .option('content', { alias: 'c', type: 'boolean', describe: 'Search the text of the indexed files (path:line: text)' })
          .option('regex', { alias: 'e', type: 'boolean', describe: 'With --content: the text is a JavaScript regular expression (implies --content)' })
          .option('ignore-case', { alias: 'i', type: 'boolean', describe: 'With --content: ignore case (default: smart case, ignore it unless the text has a capital)' })
          .option('case-sensitive', { alias: 's', type: 'boolean', describe: 'With --content: match case' })
          .option('context', { alias: 'C', type: 'number', describe: 'With --content: lines of context around each match' })
          .option('limit', { alias: 'n', type: 'number', describe: `Maximum results (default ${SEARCH_DEFAULT_LIMIT}; ${CONTENT_DEFAULT_LIMIT} lines with --content)` }),
      (argv) =>
        run(argv, async (ix) => {
          const text = String(argv.text);
          if (argv.content || argv.regex || argv.context !== undefined) {
            if (argv.kind) throw new QueryError('--kind applies to symbol search, not --content');
            if (argv['ignore-case'] && argv['case-sensitive']) throw new QueryError('--ignore-case and --case-sensitive exclude each other');
            const ignoreCase = argv['ignore-case'] ? true : argv['case-sensitive'] ? false : undefined;
            const r = await searchContent(ix.db, text, { regex: argv.regex, ignoreCase, lang: argv.lang as string[] | undefined, path: argv.path, limit: argv.limit, root: ix.root, context: argv.context });
            return { json: r, text: formatContent(r, HINT) };
          }
          if (argv['ignore-case'] || argv['case-sensitive']) throw new QueryError('--ignore-case / --case-sensitive apply to --content searches');
          const r = searchSymbols(ix.db, text, { kind: argv.kind as string[] | undefined, lang: argv.lang as string[] | undefined, path: argv.path, limit: argv.limit });
          return { json: r, text: formatSearch(r, HINT) };
        }),
    )
    .command(
      'refs <name> [repo]',
      'Call sites and imports of a name, grouped by file',
      (c) =>
        filterOptions(indexOptions(c.positional('name', { type: 'string', demandOption: true, describe: 'Name, optionally qualified (os.path.join, std::mem::swap)' }).positional('repo', repoPositional)), REF_KINDS)
          .option('limit', { alias: 'n', type: 'number', describe: `Maximum references (default ${REFS_DEFAULT_LIMIT})` }),
      (argv) =>
        run(argv, (ix) => {
          const r = findRefs(ix.db, String(argv.name), { kind: argv.kind as string[] | undefined, lang: argv.lang as string[] | undefined, path: argv.path, limit: argv.limit });
          return { json: r, text: formatRefs(r, HINT) };
        }),
    )
    .command(
      'source [name] [repo]',
      "A symbol's source (its whole range), docstring and whole signature, with line numbers",
      (c) => targetCommand(c).option('max-lines', { type: 'number', describe: `Most lines of source (default ${SOURCE_DEFAULT_LINES})` }),
      (argv) =>
        run(argv, (ix) => {
          const r = symbolSource(ix.db, targetOf(argv), ix.root, { maxLines: argv['max-lines'] });
          return { json: r, text: formatSource(r) };
        }),
    )
    .command(
      'callers [name] [repo]',
      'Call sites that resolve to a definition (by name and scope, without types), strongest first',
      (c) =>
        targetCommand(c)
          .option('limit', { alias: 'n', type: 'number', describe: `Maximum callers (default ${GRAPH_DEFAULT_LIMIT})` })
          .option('max-candidates', { type: 'number', describe: 'List by-name calls that could mean at most this many definitions (default 5; 0: all)' }),
      (argv) =>
        run(argv, (ix) => {
          const r = findCallers(ix.db, targetOf(argv), ix.root, { limit: argv.limit, maxCandidates: argv['max-candidates'] });
          return { json: r, text: formatCallers(r, HINT) };
        }),
    )
    .command(
      'callees [name] [repo]',
      'Calls made inside a definition, each resolved (by name and scope) or said to be outside the index',
      (c) => targetCommand(c).option('limit', { alias: 'n', type: 'number', describe: `Maximum calls (default ${GRAPH_DEFAULT_LIMIT})` }),
      (argv) =>
        run(argv, (ix) => {
          const r = findCallees(ix.db, targetOf(argv), ix.root, { limit: argv.limit });
          return { json: r, text: formatCallees(r, HINT) };
        }),
    )
    .command(
      'impact [name] [repo]',
      'What may break if a definition changes: its callers, their callers... by depth',
      (c) => targetCommand(c).option('depth', { type: 'number', describe: `Levels of callers (default ${IMPACT_DEFAULT_DEPTH})` }),
      (argv) =>
        run(argv, (ix) => {
          const r = findImpact(ix.db, targetOf(argv), ix.root, { depth: argv.depth });
          return { json: r, text: formatImpact(r) };
        }),
    )
    .command(
      'importers <module> [repo]',
      'Files that import a module (dotted or :: name, or a file path), or names from it',
      (c) =>
        indexOptions(c.positional('module', { type: 'string', demandOption: true, describe: 'app.store, std::collections, src/client.ts ...' }).positional('repo', repoPositional)).option(
          'limit',
          { alias: 'n', type: 'number', describe: `Maximum imports (default ${GRAPH_DEFAULT_LIMIT})` },
        ),
      (argv) =>
        run(argv, (ix) => {
          const r = findImporters(ix.db, String(argv.module), { limit: argv.limit });
          return { json: r, text: formatImporters(r, HINT) };
        }),
    )
    .command(
      'outline <file>',
      "A file's symbols in source order, nested by scope",
      (c) =>
        indexOptions(c.positional('file', { type: 'string', demandOption: true, describe: 'File (relative to the repository root or the current directory, or a unique suffix)' }))
          .option('repo', { type: 'string', describe: 'Repository whose index to read (default: the current directory or its nearest parent with an index)' })
          .option('depth', { type: 'number', describe: 'Only this many nesting levels (1 = top level)' }),
      (argv) =>
        run(argv, (ix) => {
          if (argv.depth !== undefined && (!Number.isInteger(argv.depth) || argv.depth < 1)) throw new QueryError('--depth must be a positive integer');
          const r = fileOutline(ix.db, String(argv.file), ix.root);
          return { json: r, text: formatOutline(r, { maxDepth: argv.depth }) };
        }),
    )
    .command(
      'status [repo]',
      'Index location, contents, last run, per-file errors, and files changed since',
      (c) =>
        flagsFor(
          indexOptions(c.positional('repo', repoPositional)).option('errors', {
            type: 'number',
            default: 10,
            describe: 'How many files with errors (and changed files) to list',
          }),
          'status',
        ),
      async (argv) => {
        if (argv.redis) {
          checkFlags('status', argv);
          // Cluster status: queue depth by priority and state, live workers, runs in progress.
          const { clusterStatus, formatClusterStatus } = await import('./cluster.js');
          const s = await clusterStatus({ ...argv, redis: argv.redis });
          process.stdout.write((argv.json ? JSON.stringify(s) : formatClusterStatus(s)) + '\n');
          return;
        }
        return run(argv, (ix) => {
          if (!Number.isInteger(argv.errors) || argv.errors < 0) throw new QueryError('--errors must be a non-negative integer');
          const s = indexStatus(ix.db, ix.indexPath, ix.meta, ix.root, { errorsLimit: argv.errors, staleLimit: argv.errors });
          return { json: s, text: formatStatus(s) };
        });
      },
    )
    .command(
      'serve',
      'Serve indexes over MCP (stdio) for AI clients: lookup, source, search, call graph, references, outlines, status, reindex',
      (c) =>
        c
          .option('repo', { type: 'string', array: true, describe: 'Repository to serve; repeat for several (default: the current directory)' })
          .option('index', { type: 'string', describe: 'Index file to read and update, for one repository (default: the repository\'s index in $XDG_CACHE_HOME/mcp-index)' })
          .option('watch', { type: 'boolean', default: true, describe: 'Keep the indexes current: index on start, then after each change (--no-watch: only the reindex tool updates them)' }),
      async (argv) => {
        const { serve } = await import('../serve/server.js');
        await serve({ repos: argv.repo?.map(String), index: argv.index, watch: argv.watch });
      },
    ) as unknown as Argv<T>;
}
