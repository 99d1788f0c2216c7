import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import type Database from 'better-sqlite3';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { z } from 'zod';
import { buildOptions, resolveRoot, UsageError } from '../config/options.js';
import { defaultIndexPath } from '../index-store/location.js';
import type { PipelineEvent, RunSummary } from '../pipeline/events.js';
import { runIndex } from '../pipeline/run.js';
import { LANGUAGES, SYMBOL_KINDS } from '../protocol/types.js';
import { QueryError } from '../query/common.js';
import { findSymbols, warmNames } from '../query/find.js';
import { formatContent, formatFind, formatOutline, formatRefs, formatSearch, formatStatus } from '../query/format.js';
import { searchContent } from '../query/grep.js';
import { IndexHandle } from '../query/locate.js';
import { fileOutline } from '../query/outline.js';
import { findRefs } from '../query/refs.js';
import { searchSymbols } from '../query/search.js';
import { indexStatus } from '../query/status.js';
import { LocalTransport } from '../transport/local.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ServeOptions {
  /** Repository to serve (its default index unless `index` is given). Default: the current directory. */
  repo?: string;
  /** Index file to read (and write on reindex). */
  index?: string;
  env?: NodeJS.ProcessEnv;
  /** Where log lines go (never stdout: that carries MCP frames). */
  log?: (line: string) => void;
}

/** Server version reported to clients. */
const VERSION = '0.1.0';

export const LIMITS = {
  symbol_lookup: { def: 20, max: 200 },
  search_code: { def: 20, max: 200 },
  find_references: { def: 50, max: 500 },
  file_outline: { def: 200, max: 2000 },
} as const;

const INSTRUCTIONS = `Code index of one repository (tree-sitter symbols and references in SQLite).
- symbol_lookup: where is NAME defined (exact, then prefix, then fuzzy matches), with path:line and signature.
- search_code: free-text search over symbol names/signatures/docs (mode "symbols"), or the text of files (mode "content", substring or regex).
- find_references: call sites and imports of a name, grouped by file.
- file_outline: the symbols of one file, nested.
- get_status: what is indexed, when, errors, and whether files changed since.
- reindex: update the index (incremental; full=true rebuilds). Run it when get_status reports stale files or no index.
Paths are relative to the repository root.`;

const text = (t: string, isError = false): CallToolResult => (isError ? { content: [{ type: 'text', text: t }], isError: true } : { content: [{ type: 'text', text: t }] });

class NoIndex extends Error {}

/** Everything the tools share: the repository, the index handle, and the one reindex that may be running. */
export class ServerState {
  readonly handle: IndexHandle;
  private running: Promise<RunSummary> | null = null;

  constructor(
    readonly root: string | null,
    readonly indexPath: string,
    readonly log: (line: string) => void,
  ) {
    this.handle = new IndexHandle(indexPath);
  }

  /**
   * Loads what the first fuzzy lookup would otherwise wait for (a scan of the name index), off the request path.
   * Called after start-up and after a reindex; a no-op without an index.
   */
  warm(): void {
    setTimeout(() => {
      try {
        const h = this.handle.get();
        if (h) warmNames(h.db);
      } catch (err) {
        this.log(`warm-up failed: ${String(err)}`);
      }
    }, 50).unref();
  }

  /** The open index (reopened when a run replaced the file), or a NoIndex error the tools turn into advice. */
  need(): { db: Database.Database; root: string | null } {
    const h = this.handle.get();
    if (!h) {
      const what = this.root ? ` for ${this.root}` : '';
      if (this.handle.lastError) throw new NoIndex(`The index${what} at ${this.indexPath} cannot be read: ${this.handle.lastError}. Call the reindex tool with full=true to rebuild it.`);
      throw new NoIndex(`No index${what} yet (expected at ${this.indexPath}). Call the reindex tool to build it.`);
    }
    return { db: h.db, root: this.root ?? h.meta.root ?? null };
  }

  repoRoot(): string | null {
    return this.root ?? this.handle.get()?.meta.root ?? null;
  }

  async reindex(full: boolean, extra: Extra): Promise<RunSummary> {
    if (this.running) throw new QueryError('a reindex is already running; wait for it to finish');
    const root = this.repoRoot();
    if (!root) throw new QueryError('the repository is unknown: start the server with --repo PATH');
    const o = buildOptions(root, { out: this.indexPath, full, progress: 'none', quiet: true });
    const progress = progressReporter(extra, this.log);
    const transport = new LocalTransport({ threads: o.threads });
    this.log(`reindex ${root}${full ? ' (full)' : ''} -> ${o.out}`);
    this.running = (async () => {
      try {
        return await runIndex(o, { transport, signal: extra.signal, onEvent: progress.onEvent });
      } finally {
        await transport.close();
        // The last notification must reach the client before the result does, which ends the request's token.
        await progress.flush();
      }
    })();
    try {
      return await this.running;
    } finally {
      this.running = null;
      this.warm();
    }
  }

  close(): void {
    this.handle.close();
  }
}

/**
 * Pipeline events -> notifications/progress on the request's progressToken (when the client sent one).
 * progress counts steps: 1 discovered, 2 planned, then one per file parsed, then the commit; total is known once
 * the run is planned. Values only ever increase; batch updates are sent at most every 200 ms.
 */
const NOTIFY_GAP_MS = 25;

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
  ].join('\n');
}

const limitArg = (tool: keyof typeof LIMITS) =>
  z.number().int().min(1).max(LIMITS[tool].max).optional().describe(`Maximum results (default ${LIMITS[tool].def}, at most ${LIMITS[tool].max})`);
const langArg = z.enum(LANGUAGES).optional().describe('Only files of this language');
const pathArg = z.string().min(1).optional().describe('Only paths matching this glob, relative to the repository root (e.g. "src/**/*.py"; "*.rs" matches file names; a plain folder matches everything below it)');
const kindArg = z.enum(SYMBOL_KINDS).optional().describe('Only symbols of this kind');
const HINT = { limitHint: 'raise limit or narrow with path/kind/lang' };

/** Registers the tools on a server. Handlers never throw: bad arguments and missing indexes become tool errors. */
export function createServer(state: ServerState): McpServer {
  const server = new McpServer({ name: 'mcp-index', version: VERSION }, { instructions: INSTRUCTIONS, capabilities: { tools: {} } });

  const guard =
    <A>(fn: (args: A, extra: Extra) => CallToolResult | Promise<CallToolResult>) =>
    async (args: A, extra: Extra): Promise<CallToolResult> => {
      try {
        return await fn(args, extra);
      } catch (err) {
        if (err instanceof NoIndex || err instanceof QueryError || err instanceof UsageError) return text(err.message, true);
        state.log(`tool error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        return text(`internal error: ${err instanceof Error ? err.message : String(err)}`, true);
      }
    };

  server.registerTool(
    'symbol_lookup',
    {
      title: 'Find a symbol definition',
      description:
        'Where a function, class, method, struct, variable... is defined. Matches the name exactly (case-insensitive), then as a prefix, then fuzzily (characters in order). Definitions rank before variables/fields, then shorter qualified names. Returns kind, qualified name, path:line and signature.',
      inputSchema: {
        name: z.string().min(1).describe('Symbol name, e.g. "parse_args", "HashMap", "getUser"'),
        kind: kindArg,
        lang: langArg,
        path: pathArg,
        match: z.enum(['exact', 'prefix', 'fuzzy']).optional().describe('Loosest match to include (default fuzzy: all three tiers)'),
        limit: limitArg('symbol_lookup'),
      },
      annotations: { readOnlyHint: true },
    },
    guard((a) => {
      const { db } = state.need();
      const r = findSymbols(db, a.name, {
        kind: a.kind ? [a.kind] : undefined,
        lang: a.lang ? [a.lang] : undefined,
        path: a.path,
        match: a.match,
        limit: a.limit ?? LIMITS.symbol_lookup.def,
      });
      return text(formatFind(r, HINT));
    }),
  );

  server.registerTool(
    'search_code',
    {
      title: 'Search symbols or file contents',
      description:
        'mode "symbols" (default): full-text search over symbol names (also their parts: "user name" finds getUserName), qualified names, signatures and docs, best matches first. mode "content": lines of the indexed files containing the text (or matching a JavaScript regex with regex=true), as path:line: text.',
      inputSchema: {
        query: z.string().min(1).describe('Words to look for (symbols), or the substring / regex to find (content)'),
        mode: z.enum(['symbols', 'content']).optional().describe('What to search (default symbols)'),
        regex: z.boolean().optional().describe('content mode: the query is a regular expression'),
        case_sensitive: z.boolean().optional().describe('content mode: match case (default: only when the query has a capital letter)'),
        kind: kindArg.describe('symbols mode: only symbols of this kind'),
        lang: langArg,
        path: pathArg,
        limit: limitArg('search_code'),
      },
      annotations: { readOnlyHint: true },
    },
    guard((a) => {
      const { db, root } = state.need();
      const limit = a.limit ?? LIMITS.search_code.def;
      const lang = a.lang ? [a.lang] : undefined;
      if ((a.mode ?? 'symbols') === 'content') {
        if (a.kind) throw new QueryError('kind applies to mode "symbols" only');
        const r = searchContent(db, a.query, { regex: a.regex, ignoreCase: a.case_sensitive === undefined ? undefined : !a.case_sensitive, lang, path: a.path, limit, root });
        return text(formatContent(r, HINT));
      }
      if (a.regex || a.case_sensitive !== undefined) throw new QueryError('regex and case_sensitive apply to mode "content" only');
      return text(formatSearch(searchSymbols(db, a.query, { kind: a.kind ? [a.kind] : undefined, lang, path: a.path, limit }), HINT));
    }),
  );

  server.registerTool(
    'find_references',
    {
      title: 'Find call sites and imports',
      description:
        'Where a name is called or imported, grouped by file, with the callee expression or module and the enclosing definition. A qualified name ("os.path.join", "std::mem::swap") keeps only references whose expression contains the qualifier.',
      inputSchema: {
        name: z.string().min(1).describe('Function/method/module name, optionally qualified'),
        kind: z.enum(['call', 'import']).optional().describe('Only calls or only imports'),
        lang: langArg,
        path: pathArg,
        limit: limitArg('find_references'),
      },
      annotations: { readOnlyHint: true },
    },
    guard((a) => {
      const { db } = state.need();
      const r = findRefs(db, a.name, { kind: a.kind ? [a.kind] : undefined, lang: a.lang ? [a.lang] : undefined, path: a.path, limit: a.limit ?? LIMITS.find_references.def });
      return text(formatRefs(r, HINT));
    }),
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
      },
      annotations: { readOnlyHint: true },
    },
    guard((a) => {
      const { db, root } = state.need();
      const r = fileOutline(db, a.path, root, root ?? undefined);
      return text(formatOutline(r, { maxDepth: a.max_depth, limit: a.limit ?? LIMITS.file_outline.def }));
    }),
  );

  server.registerTool(
    'get_status',
    {
      title: 'Index status',
      description: 'Where the index is, what it holds (files, symbols, languages), when it was built, files with errors, and how many files changed or disappeared since.',
      inputSchema: {
        errors_limit: z.number().int().min(0).max(100).optional().describe('How many files with errors to list (default 10)'),
      },
      annotations: { readOnlyHint: true },
    },
    guard((a) => {
      let opened;
      try {
        opened = state.need();
      } catch (err) {
        if (err instanceof NoIndex) return text(`${err.message}\nrepository: ${state.repoRoot() ?? 'unknown'}`);
        throw err;
      }
      const meta = state.handle.get()?.meta ?? {};
      const s = indexStatus(opened.db, state.indexPath, meta, opened.root, { errorsLimit: a.errors_limit ?? 10 });
      return text(formatStatus(s));
    }),
  );

  server.registerTool(
    'reindex',
    {
      title: 'Update the index',
      description:
        'Re-index the repository: only changed files are parsed again (full=true rebuilds from scratch). Reports progress notifications while it runs. Queries keep answering from the previous index until it finishes.',
      inputSchema: {
        full: z.boolean().optional().describe('Rebuild from scratch instead of updating'),
      },
      annotations: { readOnlyHint: false, idempotentHint: true },
    },
    guard(async (a, extra) => text(summaryText(await state.reindex(a.full ?? false, extra)))),
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
  const root = opts.repo !== undefined || !opts.index ? resolveRoot(opts.repo ?? '.') : null;
  const indexPath = opts.index ? resolve(opts.index) : defaultIndexPath(root!, opts.env ?? process.env);
  const state = new ServerState(root, indexPath, log);
  const server = createServer(state);
  const out = guardStdout();
  const transport = new StdioServerTransport(process.stdin, out);
  await server.connect(transport);
  state.warm();
  log(`serving ${root ?? state.repoRoot() ?? '(unknown repository)'} from ${indexPath}${state.handle.get() ? '' : ' (no index yet: the reindex tool builds it)'}`);

  await new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      state.close();
      resolve();
    };
    server.server.onclose = finish;
    process.stdin.once('end', () => void server.close().finally(finish));
    process.stdin.once('close', () => void server.close().finally(finish));
    const onSignal = () => void server.close().finally(finish);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
