import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { z } from 'zod';
import { resolveRoot } from '../config/options.js';
import { defaultIndexPath } from '../index-store/location.js';
import type { PipelineEvent, RunSummary } from '../pipeline/events.js';
import { LANGUAGES, SYMBOL_KINDS } from '../protocol/types.js';
import { MAX_NAME_CHARS, MAX_QUERY_CHARS } from '../query/common.js';
import { CONTENT_MAX_CONTEXT } from '../query/grep.js';
import { IMPACT_DEFAULT_DEPTH, IMPACT_MAX_DEPTH } from '../query/graph.js';
import { SOURCE_DEFAULT_LINES, SOURCE_MAX_LINES } from '../query/source.js';
import { QueryPool } from './query-pool.js';
import { RepoSet, type ServedRepo } from './repos.js';
import { LIMITS } from './tools.js';
import { isKnownError, UsageError } from '../errors.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ServeOptions {
  /** Repositories to serve (their default indexes unless `index` is given). Default: the current directory. */
  repos?: string[];
  /** Index file to read (and write on reindex); only with one repository. */
  index?: string;
  /** Keep the indexes current by watching the trees (default true). */
  watch?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Where log lines go (never stdout: that carries MCP frames). */
  log?: (line: string) => void;
}

/** Server version reported to clients. */
const VERSION = '0.1.0';

/** How long an answer waits for the changes seen so far to be indexed before it answers from the index as it is. */
const FRESH_WAIT_MS = 10_000;

const RESOLUTION_NOTE =
  'Calls are resolved by name and scope from the index (no type checker): same file, then imported module, then a definition whose scope matches the qualifier, then the same name elsewhere; each edge says which, and how many definitions it could mean.';

function instructions(repos: RepoSet): string {
  const served = repos.repos.map((r) => `${r.name} (${r.root ?? r.indexPath})`).join(', ');
  return `Code index (tree-sitter symbols and references in SQLite) of: ${served}.
- symbol_lookup: where is NAME defined; plain or qualified names (Class.method, Type::fn, mod::Type::fn, Class/method).
- symbol_source: the source of a symbol (by name, or path and line), with its docstring and whole signature.
- search_code: words over symbol names/signatures/docs (mode "symbols"), or the text of every file (mode "content", substring or regex, with context lines).
- find_callers / find_callees / change_impact: the call graph; find_importers: who imports a module. ${RESOLUTION_NOTE}
- find_references: raw call sites and imports of a name. file_outline: a file's symbols. get_status: what is indexed and when.
- reindex: rebuild or update now (the server also watches the files and updates the index after each change).
Paths are relative to the repository root. With several repositories, pass repo (a name above, or a folder path).`;
}

const text = (t: string, isError = false): CallToolResult => (isError ? { content: [{ type: 'text', text: t }], isError: true } : { content: [{ type: 'text', text: t }] });

/**
 * Pipeline events -> notifications/progress on the request's progressToken (when the client sent one).
 * progress counts steps: 1 discovered, 2 planned, then one per file parsed, then the commit; total is known once
 * the run is planned. Values only ever increase; batch updates are sent at most every 200 ms.
 */
/** Quiet time between the last progress notification and the result (see flush): 25 ms lost notifications on a loaded machine. */
const NOTIFY_GAP_MS = 100;

function progressReporter(extra: Extra, log: (line: string) => void): { onEvent: (e: PipelineEvent) => void; flush: () => Promise<void> } {
  const token = extra._meta?.progressToken;
  let pending: Promise<void> = Promise.resolve();
  let last = 0;
  let total: number | undefined;
  let parsed = 0;
  let lastSent = 0;
  const send = (progress: number, message: string, force = false) => {
    if (token === undefined || progress <= last) return;
    const now = Date.now();
    if (!force && now - lastSent < 200) return;
    last = progress;
    lastSent = now;
    const sent = extra
      .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), message } })
      .catch((err: unknown) => log(`progress notification failed: ${String(err)}`));
    pending = pending.then(() => sent);
  };
  const onEvent = (e: PipelineEvent) => {
    switch (e.type) {
      case 'discovered':
        send(1, `discovered ${e.files} files${e.skipped ? ` (${e.skipped} skipped)` : ''}`, true);
        break;
      case 'planned':
        total = 2 + e.files + 1;
        send(2, `${e.files} files to parse in ${e.batches} batches, ${e.reused} unchanged`, true);
        break;
      case 'batch-done':
        parsed += e.batch.files;
        send(2 + parsed, `parsed ${parsed} files`, parsed + 2 === (total ?? 0) - 1);
        break;
      case 'done':
        if (total === undefined) total = last + 1;
        send(total, e.summary.interrupted ? 'interrupted' : `done: ${e.summary.index.files} files, ${e.summary.index.symbols} symbols`, true);
        break;
      default:
        break;
    }
  };
  // The SDK's client handles a notification a microtask after reading it but a response at once, so a notification
  // read in the same chunk as the response finds its token gone. A short gap after the last one keeps them apart.
  const flush = async () => {
    await pending;
    const since = Date.now() - lastSent;
    if (token !== undefined && since < NOTIFY_GAP_MS) await new Promise((r) => setTimeout(r, NOTIFY_GAP_MS - since));
  };
  return { onEvent, flush };
}

function summaryText(s: RunSummary): string {
  if (s.interrupted) return `Reindex was cancelled; the previous index at ${s.out} is unchanged.`;
  const errs = Object.entries(s.index.errorsByCode)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `Indexed ${s.root} in ${(s.timings.totalMs / 1000).toFixed(1)}s.`,
    `Files: ${s.index.files} (parsed ${s.run.filesParsed}, unchanged ${s.run.filesReused}, removed ${s.run.filesRemoved}).`,
    `Symbols: ${s.index.symbols}; references: ${s.index.refs}.`,
    `Files with errors: ${s.index.fileErrors}${errs ? ` (${errs})` : ''}.`,
    ...(s.rebuilt ? [`Note: ${s.rebuilt}.`] : []),
  ].join('\n');
}

const limitArg = (tool: keyof typeof LIMITS) =>
  z.number().int().min(1).max(LIMITS[tool].max).optional().describe(`Maximum results (default ${LIMITS[tool].def}, at most ${LIMITS[tool].max})`);
const langArg = z.enum(LANGUAGES).optional().describe('Only files of this language');
const pathArg = z.string().min(1).optional().describe('Only paths matching this glob, relative to the repository root (e.g. "src/**/*.py", "{src,lib}/**"; "*.rs" matches file names; a plain folder matches everything below it)');
const kindArg = z.enum(SYMBOL_KINDS).optional().describe('Only symbols of this kind');
const repoArg = z.string().min(1).optional().describe('Which repository: a name this server lists, or a folder path (default: the first one served)');
/** A symbol as the source and call-graph tools take it. */
const targetArgs = {
  name: z.string().min(1).optional().describe('The symbol: a plain or qualified name ("JSONDecoder.decode", "Config::new", "mod::Type::fn", "Class/method")'),
  path: z.string().min(1).optional().describe('With line: the file (relative to the repository root, or a unique suffix). Without: a glob narrowing the name\'s matches'),
  line: z.number().int().min(1).optional().describe('A line inside the symbol, in the file given by path (instead of a name)'),
  kind: kindArg,
  repo: repoArg,
};

const describeRepo = (repo: ServedRepo) => `${repo.name}${repo.root ? ` (${repo.root})` : ''}`;

/** Registers the tools on a server. Handlers never throw: bad arguments and missing indexes become tool errors. */
export function createServer(repos: RepoSet, pool: QueryPool, log: (line: string) => void): McpServer {
  const server = new McpServer({ name: 'mcp-index', version: VERSION }, { instructions: instructions(repos), capabilities: { tools: {} } });

  const guard =
    <A>(fn: (args: A, extra: Extra) => CallToolResult | Promise<CallToolResult>) =>
    async (args: A, extra: Extra): Promise<CallToolResult> => {
      try {
        return await fn(args, extra);
      } catch (err) {
        if (isKnownError(err)) return text(err.message, true);
        log(`tool error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return text(`internal error: ${err instanceof Error ? err.message : String(err)}`, true);
      }
    };

  /** Runs a query tool on a query thread, once the repository's index holds the changes seen so far. */
  const query = (tool: string) =>
    guard(async (a: Record<string, unknown>) => {
      const repo = repos.pick(a.repo as string | undefined);
      const fresh = await repo.fresh(FRESH_WAIT_MS);
      const reply = await pool.run({ tool, args: a, indexPath: repo.indexPath, root: repo.root, generation: repo.generation });
      if (reply.error === 'damaged') {
        repo.rebuild();
        return text(`${reply.text}. Rebuilding it now: ask again in a moment.`, true);
      }
      if (reply.missing) {
        const where = `${describeRepo(repo)} (expected at ${repo.indexPath})`;
        if (reply.missing.reason) return text(`The index of ${where} cannot be read: ${reply.missing.reason}. Call the reindex tool with full=true to rebuild it.`, true);
        if (!repo.isFresh()) return text(`The index of ${where} is being built: ask again in a moment.`, true);
        const failed = repo.lastFailure ? ` The last attempt failed: ${repo.lastFailure}.` : '';
        return text(`No index of ${where} yet.${failed} Call the reindex tool to build it.`, true);
      }
      const state = [
        `indexed ${reply.indexedAt ?? 'at an unknown time'}`,
        fresh ? (repo.watched ? 'watching for changes' : 'not watching for changes') : 'an update is still running: recent changes may be missing',
      ];
      const footer = `\n\n[${repos.repos.length > 1 ? `${repo.name}: ` : ''}${state.join('; ')}]`;
      return text(reply.text + (reply.error ? '' : footer), reply.error !== undefined);
    });

  server.registerTool(
    'symbol_lookup',
    {
      title: 'Find a symbol definition',
      description:
        'Where a function, class, method, struct, variable... is defined. A plain name matches exactly (case-insensitive), then as a prefix, then fuzzily (characters in order; marked "fuzzy"). A qualified name (Class.method, Class::method, mod::Type::fn, Class/method, json.decoder.JSONDecoder.decode) matches the last part and keeps the symbols whose scope, or module path, matches the rest. Definitions rank before variables, source before tests. Returns kind, match, qualified name, path:line-endLine and the whole signature.',
      inputSchema: {
        name: z.string().min(1).describe(`Symbol name, plain or qualified, e.g. "parse_args", "HashMap::insert", "Store.get" (at most ${MAX_NAME_CHARS} characters)`),
        kind: kindArg,
        lang: langArg,
        path: pathArg,
        match: z.enum(['exact', 'prefix', 'fuzzy']).optional().describe('Loosest match to include (default fuzzy: all three tiers)'),
        limit: limitArg('symbol_lookup'),
        repo: repoArg,
      },
      annotations: { readOnlyHint: true },
    },
    query('symbol_lookup'),
  );

  server.registerTool(
    'symbol_source',
    {
      title: 'Read a symbol\'s code',
      description: `The source of one definition (its whole range, decorators and doc comment included where indexed), its docstring and whole signature, with line numbers. Give a name (plain or qualified; the best match is shown and the others listed) or a path and a line inside it. Long definitions are cut at max_lines (default ${SOURCE_DEFAULT_LINES}); the answer says so and lists the members below the cut.`,
      inputSchema: { ...targetArgs, max_lines: z.number().int().min(1).max(SOURCE_MAX_LINES).optional().describe(`Most lines of source (default ${SOURCE_DEFAULT_LINES}, at most ${SOURCE_MAX_LINES})`) },
      annotations: { readOnlyHint: true },
    },
    query('symbol_source'),
  );

  server.registerTool(
    'search_code',
    {
      title: 'Search symbols or file contents',
      description:
        'mode "symbols" (default): words over symbol names (also their parts: "user name" finds getUserName), qualified names, signatures and docs. Symbols matching every word come first; when fewer than the limit do, symbols matching some of the words follow (a plain question works: "how is the session cookie signed"). Exact names first, source before tests. mode "content": lines of every text file in the repository (indexed sources, and docs, templates, configs) containing the text, or matching a JavaScript regex with regex=true, as path:line: text; context adds lines around each match.',
      inputSchema: {
        query: z.string().min(1).describe(`Words to look for (symbols), or the substring / regex to find (content); at most ${MAX_QUERY_CHARS} characters`),
        mode: z.enum(['symbols', 'content']).optional().describe('What to search (default symbols)'),
        regex: z.boolean().optional().describe('content mode: the query is a regular expression'),
        case_sensitive: z.boolean().optional().describe('content mode: match case (default: only when the query has a capital letter)'),
        context: z.number().int().min(0).max(CONTENT_MAX_CONTEXT).optional().describe('content mode: lines of context before and after each match'),
        kind: kindArg.describe('symbols mode: only symbols of this kind'),
        lang: langArg,
        path: pathArg,
        limit: limitArg('search_code'),
        repo: repoArg,
      },
      annotations: { readOnlyHint: true },
    },
    query('search_code'),
  );

  server.registerTool(
    'find_callers',
    {
      title: 'Who calls this',
      description: `Call sites that resolve to a definition (by name, or path and line), strongest resolution first, grouped by file, each with the calling definition. ${RESOLUTION_NOTE} Calls through objects of unknown type that could mean more than max_candidates definitions are counted, not listed.`,
      inputSchema: {
        ...targetArgs,
        limit: limitArg('find_callers'),
        max_candidates: z.number().int().min(0).max(1000).optional().describe('List by-name calls that could mean at most this many definitions (default 5; 0 lists all)'),
      },
      annotations: { readOnlyHint: true },
    },
    query('find_callers'),
  );

  server.registerTool(
    'find_callees',
    {
      title: 'What this calls',
      description: `Every call made inside a definition, in source order, each with the definitions it resolves to, or "outside the index" (a module that is not indexed) or "not in the index" (builtins). ${RESOLUTION_NOTE}`,
      inputSchema: { ...targetArgs, limit: limitArg('find_callees') },
      annotations: { readOnlyHint: true },
    },
    query('find_callees'),
  );

  server.registerTool(
    'change_impact',
    {
      title: 'What may break if this changes',
      description: `The callers of a definition, their callers, and so on up to depth (default ${IMPACT_DEFAULT_DEPTH}), by depth, each with the call that reaches it. Callers reached only through an ambiguous by-name call are listed but not followed. ${RESOLUTION_NOTE}`,
      inputSchema: { ...targetArgs, depth: z.number().int().min(1).max(IMPACT_MAX_DEPTH).optional().describe(`How many levels of callers (default ${IMPACT_DEFAULT_DEPTH})`) },
      annotations: { readOnlyHint: true },
    },
    query('change_impact'),
  );

  server.registerTool(
    'find_importers',
    {
      title: 'Who imports a module',
      description:
        'Files that import a module or names from it, grouped by file. The module as a dotted or :: name ("app.store", "std::collections") or a file path ("app/store.py", "src/client.ts"). Imports are matched to files by path (Python packages, Rust crates and modules, relative JS/TS specifiers); a module outside the index is matched by its name.',
      inputSchema: { module: z.string().min(1).describe('Module name or file path'), limit: limitArg('find_importers'), repo: repoArg },
      annotations: { readOnlyHint: true },
    },
    query('find_importers'),
  );

  server.registerTool(
    'find_references',
    {
      title: 'Find call sites and imports',
      description:
        'Where a name is called or imported (every reference with that name, unresolved), grouped by file, with the callee expression or module and the enclosing definition. A qualified name ("os.path.join", "std::mem::swap") keeps only references whose expression contains the qualifier. For calls resolved to one definition, use find_callers.',
      inputSchema: {
        name: z.string().min(1).describe('Function/method/module name, optionally qualified'),
        kind: z.enum(['call', 'import']).optional().describe('Only calls or only imports'),
        lang: langArg,
        path: pathArg,
        limit: limitArg('find_references'),
        repo: repoArg,
      },
      annotations: { readOnlyHint: true },
    },
    query('find_references'),
  );

  server.registerTool(
    'file_outline',
    {
      title: 'Outline a file',
      description: "A file's symbols in source order, nested (methods under their class, ...), with line ranges and signatures.",
      inputSchema: {
        path: z.string().min(1).describe('File path relative to the repository root (a unique suffix such as "parse.rs" also works)'),
        max_depth: z.number().int().min(1).max(20).optional().describe('Only this many nesting levels (1 = top level only)'),
        limit: limitArg('file_outline'),
        repo: repoArg,
      },
      annotations: { readOnlyHint: true },
    },
    query('file_outline'),
  );

  server.registerTool(
    'get_status',
    {
      title: 'Index status',
      description: 'Where the index is, what it holds (files, symbols, languages), when it was built, files with errors, and how many files changed or disappeared since.',
      inputSchema: {
        errors_limit: z.number().int().min(0).max(100).optional().describe('How many files with errors to list (default 10)'),
        repo: repoArg,
      },
      annotations: { readOnlyHint: true },
    },
    query('get_status'),
  );

  server.registerTool(
    'reindex',
    {
      title: 'Update the index',
      description:
        'Re-index the repository now: only changed files are parsed again (full=true rebuilds from scratch). Reports progress notifications while it runs. Queries keep answering from the previous index until it finishes. The server also watches the files and updates the index after each change, so this is rarely needed.',
      inputSchema: {
        full: z.boolean().optional().describe('Rebuild from scratch instead of updating'),
        repo: repoArg,
      },
      annotations: { readOnlyHint: false, idempotentHint: true },
    },
    guard(async (a, extra) => {
      const repo = repos.pick(a.repo);
      const progress = progressReporter(extra, log);
      log(`${repo.name}: reindex${a.full ? ' (full)' : ''} -> ${repo.indexPath}`);
      try {
        return text(summaryText(await repo.update(null, a.full ?? false, progress.onEvent, extra.signal)));
      } finally {
        // The last notification must reach the client before the result does, which ends the request's token.
        await progress.flush();
      }
    }),
  );

  return server;
}

/**
 * Keeps stdout for MCP frames only: anything else that writes to process.stdout (a library, a worker thread's
 * console.log) is sent to stderr instead. Returns the stream the transport writes frames to.
 */
function guardStdout(): Writable {
  const real = process.stdout;
  const realWrite = real.write.bind(real) as (chunk: unknown, encoding?: BufferEncoding, cb?: (err?: Error | null) => void) => boolean;
  const frames = new Writable({
    write(chunk, encoding, cb) {
      if (realWrite(chunk, encoding, () => undefined)) cb();
      else real.once('drain', () => cb());
    },
  });
  real.write = ((chunk: unknown, ...rest: unknown[]) => (process.stderr.write as (...a: unknown[]) => boolean)(chunk, ...rest)) as typeof real.write;
  return frames;
}

/** `mcp-index serve`: an MCP server over stdio. Resolves when the client disconnects. */
export async function serve(opts: ServeOptions): Promise<void> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`mcp-index serve: ${line}\n`));
  const env = opts.env ?? process.env;
  const given = opts.repos?.length ? opts.repos : opts.index ? [] : ['.'];
  if (opts.index && given.length > 1) throw new UsageError('--index names the index of one repository: give at most one --repo with it');
  const pool = new QueryPool();
  const repos = new RepoSet({ watch: opts.watch ?? true, debounceMs: 200, log, onUpdated: (r) => pool.warm(r.indexPath, r.root) }, env);
  if (given.length === 0) repos.add(null, resolve(opts.index!));
  for (const r of given) {
    const root = resolveRoot(r);
    repos.add(root, opts.index ? resolve(opts.index) : defaultIndexPath(root, env));
  }
  const server = createServer(repos, pool, log);
  const out = guardStdout();
  const transport = new StdioServerTransport(process.stdin, out);
  await server.connect(transport);
  for (const r of repos.repos) {
    log(`serving ${r.name}${r.root ? ` (${r.root})` : ''} from ${r.indexPath}`);
    pool.warm(r.indexPath, r.root);
    r.start();
  }

  await new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve();
    };
    server.server.onclose = finish;
    process.stdin.once('end', () => void server.close().finally(finish));
    process.stdin.once('close', () => void server.close().finally(finish));
    const onSignal = () => void server.close().finally(finish);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  await repos.close();
  await pool.close();
}
