/**
 * The one contract both transports carry. Everything here is plain data (structured-clone and JSON safe),
 * so a JobRequest can cross a worker_threads port or a Redis list unchanged.
 */

/**
 * 2: results are SQLite fragments, and a worker asks for the blobs it needs.
 * 3: jobs may hold Go, Java, C, C++, C#, Ruby and PHP files (a v2 worker would reject such a batch as malformed).
 */
export const PROTOCOL_VERSION = 3;

export const LANGUAGES = ['python', 'javascript', 'typescript', 'tsx', 'rust', 'go', 'java', 'c', 'cpp', 'csharp', 'ruby', 'php'] as const;
export type Language = (typeof LANGUAGES)[number];

export const PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const SYMBOL_KINDS = [
  'function',
  'method',
  'constructor',
  'class',
  'struct',
  'enum',
  'enum_member',
  'interface',
  'trait',
  'impl',
  'type',
  'namespace',
  'module',
  'variable',
  'constant',
  'static',
  'field',
  'property',
  'getter',
  'setter',
  'macro',
] as const;
export type SymbolKind = (typeof SYMBOL_KINDS)[number];

export const REF_KINDS = ['call', 'import'] as const;
export type RefKind = (typeof REF_KINDS)[number];

/** Why a file produced no (or only partial) symbols. Counted per cause in the summary. */
export const FILE_ERROR_CODES = [
  'unreadable', // open/read failed (permissions, path too long, I/O)
  'deleted', // listed at discovery, gone when read
  'binary', // NUL bytes in the first 8 KiB
  'oversize', // larger than maxFileBytes
  'non-utf8', // not valid UTF-8
  'too-deep', // nesting deeper than the extractor will walk
  'syntax', // parsed with errors; what parsed is indexed (status "partial")
  'grammar-gap', // status "ok": valid code that the grammar cannot parse (a known gap), noted; what parsed is indexed
  'parse-timeout', // parser exceeded its time limit
  'path-escape', // path resolves outside the root (symlink or ..)
  'not-regular', // a FIFO, device, socket or directory where a file was expected: never read
  'oom', // parsing it took the thread past its memory cap (--max-memory); the thread was replaced
  'worker-crash', // the batch kept failing; this file was isolated as the cause
  'internal', // extractor threw; a bug, reported with its message
] as const;
export type FileErrorCode = (typeof FILE_ERROR_CODES)[number];

export type FileStatus = 'ok' | 'partial' | 'error';

/** 1-based lines, 0-based columns (as tree-sitter reports them). */
export interface Range {
  startLine: number;
  startCol: number;
  endLine: number;
  endCol: number;
}

/**
 * A definition has two positions, as in SCIP: the name's own (`nameLine`/`nameCol`: the identifier after `def`, `fn`,
 * `class`, or the property name; for "go to definition") and the enclosing range (`startLine`..`endCol`: decorators,
 * attributes and the leading doc comment included, body included; for outlines and "show me the code").
 */
export interface SymbolRecord extends Range {
  name: string;
  /** 1-based line and 0-based column (UTF-16) of the name itself. */
  nameLine: number;
  nameCol: number;
  kind: SymbolKind;
  /** Qualified name of the enclosing symbol ("Foo", "outer::Bar"), or null at top level. */
  scope: string | null;
  /** scope + separator + name; unique enough to show, not guaranteed unique. */
  qualified: string;
  /** The header without the body, whitespace collapsed, at most SIGNATURE_MAX chars. */
  signature: string;
  doc: string | null;
  /** Language-specific notes, e.g. "export", "async", "@property", "trait Display". */
  flags?: string[];
}

export interface RefRecord {
  kind: RefKind;
  /** The referenced name: the callee's last identifier, or the imported name. */
  name: string;
  /** Where the name is: the called name (`.parse` in `a.b.parse(`), the imported name. */
  line: number;
  col: number;
  /** Qualified name of the enclosing definition, or null at top level. */
  scope: string | null;
  /** Call: the callee expression text. Import: the import as written (`b as c`, `* as ns`). Truncated. */
  context: string | null;
  /** Import: the module specifier (`./sessions`, `os.path`, `crate::io`). Call: null. */
  module: string | null;
  /** Notes, e.g. `macro` for a call found inside a Rust macro's arguments. */
  flags?: string[];
}

export interface FileRef {
  path: string; // POSIX, relative to the repository root
  hash: string; // sha1 of the content (hex)
  size: number;
  language: Language;
}

export interface JobLimits {
  maxFileBytes: number;
  parseTimeoutMs: number;
}

export interface JobRequest {
  v: typeof PROTOCOL_VERSION;
  runId: string;
  batchId: string;
  files: FileRef[];
  limits: JobLimits;
  /** Where the worker can read the files from, when it shares the checkout. */
  root?: string;
  /**
   * Cluster only: store this batch's results in the shared result cache, keeping it within `maxBytes`. Absent:
   * store nothing (the cache is off for this run, or the coordinator predates it). `handleJob` ignores it.
   */
  cache?: { maxBytes: number };
}

export interface FileError {
  code: FileErrorCode;
  message: string;
}

/** A file over the size limit, found at discovery or (grown since) by the worker: one wording for both. */
export const oversizeError = (size: number, limit: number): FileError => ({ code: 'oversize', message: `${size} bytes exceeds the ${limit}-byte limit` });

export interface FileResult {
  path: string;
  /** Hash of the content actually indexed (differs from the request if the file changed mid-run). */
  hash: string;
  size: number;
  language: Language;
  status: FileStatus;
  error: FileError | null;
  symbols: SymbolRecord[];
  refs: RefRecord[];
  parseMs: number;
}

/** What `handleJob` returns: every file's records, as plain objects. */
export interface JobResult {
  v: typeof PROTOCOL_VERSION;
  runId: string;
  batchId: string;
  files: FileResult[];
  extractorVersion: number;
  worker: { host: string; pid: number; threadId: number };
  durationMs: number;
}

/** Totals of a batch's files: what progress and a worker's metrics report without reading the rows. */
export interface BatchCounts {
  files: number;
  bytes: number;
  symbols: number;
  refs: number;
  /** Files with status other than ok. */
  errors: number;
}

export function countsOf(files: readonly FileResult[]): BatchCounts {
  const c: BatchCounts = { files: files.length, bytes: 0, symbols: 0, refs: 0, errors: 0 };
  for (const f of files) {
    c.bytes += f.size;
    c.symbols += f.symbols.length;
    c.refs += f.refs.length;
    if (f.status !== 'ok') c.errors++;
  }
  return c;
}

/** A file of a batch that did not index cleanly (error or partial parse), as progress and the dashboard show it. */
export interface FileFailure {
  path: string;
  code: FileErrorCode;
  message: string;
}

export function failuresOf(files: readonly FileResult[]): FileFailure[] {
  return files.filter((f) => f.status !== 'ok').map((f) => ({ path: f.path, code: f.error?.code ?? 'syntax', message: f.error?.message ?? '' }));
}

/**
 * A finished batch without its rows. The rows travel beside it as a SQLite fragment (index-store/fragment.ts):
 * in a file of this process (local mode), or as bytes through Redis (cluster mode, transport/redis/codec.ts).
 */
export interface BatchHeader {
  v: typeof PROTOCOL_VERSION;
  runId: string;
  batchId: string;
  extractorVersion: number;
  worker: { host: string; pid: number; threadId: number };
  durationMs: number;
  counts: BatchCounts;
  /** The files among `counts.errors`, with their causes. */
  failures: FileFailure[];
  /** The files the worker was given, as a batch id (plan/plan.ts batchId): what this result answers. */
  parsed: string;
  /** Cluster: the attempts before this one, and the times the batch was found stalled (a worker lost). */
  delivery?: { retries: number; stalls: number };
}

export function headerOf(res: JobResult, parsed: string): BatchHeader {
  const { files, ...rest } = res;
  return { ...rest, counts: countsOf(files), failures: failuresOf(files), parsed };
}
