import { availableParallelism } from 'node:os';
import type { Argv } from 'yargs';
import { z } from 'zod';
import { LANGUAGES, PRIORITIES, type Language } from '../protocol/types.js';
import { UsageError } from '../errors.js';
import { LOG_FORMATS } from '../util/log.js';

/**
 * The one table of options. Each row is an option once: its flag (the key in kebab-case), alias, type, default, help,
 * the commands that take it and, for the rows with `config`, its config-file key (the key itself), its environment
 * variable (MCP_INDEX_ + the key in SNAKE_CASE) and its field in `IndexOptions` (`field`, else the key). yargs flags
 * (`flagsFor`), the config schema (`ConfigSchema`), `DEFAULTS`, the help texts and the README's option tables
 * (`markdownTable`, checked by test/unit/option-table.test.ts) are all derived from it.
 *
 * Options that only one command has and that mean something else elsewhere (`up --workers`, `bench --workers`, the
 * query commands' `--limit`...) are declared by that command.
 */

/** Commands that take options from this table. `index` is the default command (`mcp-index [path]`). */
export type Command = 'index' | 'watch' | 'worker' | 'up' | 'runs' | 'status' | 'dashboard' | 'bench';

/** Commands that read a config file: their defaults are applied after the file, not by yargs. */
const CONFIG_COMMANDS: readonly Command[] = ['index', 'watch'];

export const DEFAULT_NAMESPACE = 'mcp-index';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const PROGRESS_MODES = ['auto', 'bars', 'plain', 'json', 'none'] as const;

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
/** "1MiB", "512k", "2000000" -> bytes. */
function parseSize(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = SIZE_RE.exec(v.trim());
  if (!m) throw new Error(`not a size: "${v}" (use bytes or a unit like 512KiB, 1MiB)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}

const size = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  try {
    const n = parseSize(v);
    if (n <= 0) throw new Error('must be positive');
    return n;
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});
/** A size where 0 means "none" (`--max-memory 0`). */
const sizeOrZero = z.union([z.literal(0), z.literal('0').transform(() => 0), size]);
const globs = z.array(z.string().min(1));

/** Language names, as a list or comma-separated (`--languages go,java`); an unknown name is an error. */
const languageList = z.array(z.string()).transform((v, ctx) => {
  const names = v.flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  const unknown = names.find((n) => !(LANGUAGES as readonly string[]).includes(n));
  if (unknown !== undefined || !names.length) {
    ctx.addIssue({ code: 'custom', message: `${unknown === undefined ? 'names no language' : `has unknown language "${unknown}"`} (known: ${LANGUAGES.join(', ')})` });
    return z.NEVER;
  }
  return [...new Set(names)] as Language[];
});

interface OptionSpec {
  readonly schema: z.ZodType;
  /** yargs type; `choices` when the schema is an enum. */
  readonly type: 'string' | 'number' | 'boolean';
  readonly array?: boolean;
  readonly choices?: readonly string[];
  readonly alias?: string;
  /** The default applied when no flag, variable or config key sets it (none: the option is unset). */
  readonly default?: unknown;
  /** Per-command default, where a command's default differs. */
  readonly defaults?: Partial<Record<Command, unknown>>;
  /** The default as help and the README say it, when it is computed or not a plain value. */
  readonly defaultText?: string;
  /** The argument's name in the README's flag column (`--threads N`). */
  readonly arg?: string;
  readonly help: string;
  readonly commands: readonly Command[];
  /** A config-file key, and a field of `IndexOptions`. */
  readonly config?: true;
  /** Its name in `IndexOptions` when it differs from the key; null: composed by `buildOptions` (tls, cache). */
  readonly field?: string | null;
  /** README table it is listed in. */
  readonly doc?: 'index' | 'cluster' | 'cache';
}

const INDEXING: readonly Command[] = ['index', 'watch'];
const REDIS: readonly Command[] = ['index', 'worker', 'up', 'runs', 'status', 'dashboard'];
const LONG_RUNNING: readonly Command[] = ['index', 'worker', 'up', 'dashboard'];

export const OPTIONS = {
  out: { schema: z.string().min(1), type: 'string', alias: 'index', arg: 'FILE', defaultText: '$XDG_CACHE_HOME/mcp-index/<repo>-<hash>/index.db', help: 'Index file to write (see *Where the index lives*)', commands: INDEXING, config: true, doc: 'index' },
  threads: { schema: z.number().int().min(1).max(256), type: 'number', alias: 'j', arg: 'N', default: availableParallelism(), defaultText: 'available cores', help: 'Worker threads', commands: ['index', 'watch', 'worker'], config: true, doc: 'index' },
  include: { schema: globs, type: 'string', array: true, arg: 'GLOB...', default: [] as string[], defaultText: 'all', help: 'Only paths matching these globs (picomatch, relative to the root)', commands: INDEXING, config: true, doc: 'index' },
  exclude: { schema: globs, type: 'string', array: true, arg: 'GLOB...', default: [] as string[], defaultText: 'none', help: 'Skip paths matching these globs', commands: [...INDEXING, 'bench'], config: true, doc: 'index' },
  defaultExcludes: { schema: z.boolean(), type: 'boolean', default: true, defaultText: 'on', help: 'Skip `node_modules`, `vendor`, `third_party`, `dist`, `build`, `target`, `out`, `coverage`, `__pycache__`, virtualenvs and `*.min.js` (`--no-default-excludes` indexes them too)', commands: [...INDEXING, 'bench'], config: true, doc: 'index' },
  languages: { schema: languageList, type: 'string', array: true, arg: 'NAME...', default: [...LANGUAGES] as Language[], defaultText: 'all', help: `Only these languages (${LANGUAGES.join(', ')}; repeated or comma-separated). Files of the others are not indexed: the summary counts them per language (\`off:\` line), and a later run with a language turned off removes its files from the index`, commands: INDEXING, config: true, doc: 'index' },
  maxFileSize: { schema: size, type: 'string', arg: 'SIZE', default: 1024 * 1024, defaultText: '1MiB', help: 'Larger files are recorded as `oversize` errors (`512KiB`, `2MiB`, or bytes); for `worker` and `up`, a cap on whatever a job asks', commands: [...INDEXING, 'worker', 'up'], config: true, field: 'maxFileBytes' as const, doc: 'index' },
  parseTimeout: { schema: z.number().int().min(1).max(600_000), type: 'number', arg: 'MS', default: 10_000, help: 'Per-file parse time limit in ms; an overrun is a `parse-timeout` file error; for `worker` and `up`, a cap on whatever a job asks', commands: [...INDEXING, 'worker', 'up'], config: true, field: 'parseTimeoutMs' as const, doc: 'index' },
  maxMemory: { schema: sizeOrZero, type: 'string', arg: 'SIZE', default: 0, defaultText: 'none', help: 'Memory cap of the process (`2GiB`): a parse that takes it past the cap is an `oom` file error, pool threads get a V8 heap limit, and a `worker` past it between batches hands back its batches and exits 76 (`up` restarts it). `0`: none', commands: [...INDEXING, 'worker', 'up'], config: true, field: 'maxMemoryBytes' as const, doc: 'index' },
  batchBytes: { schema: size, type: 'string', arg: 'SIZE', default: 512 * 1024, defaultText: '512KiB', help: 'Target batch size', commands: INDEXING, config: true, doc: 'index' },
  batchFiles: { schema: z.number().int().min(1).max(100_000), type: 'number', arg: 'N', default: 256, help: 'Max files per batch', commands: INDEXING, config: true, doc: 'index' },
  full: { schema: z.boolean(), type: 'boolean', default: false, help: 'Rebuild from scratch, ignoring the previous index', commands: INDEXING, config: true, doc: 'index' },
  contentIndex: { schema: z.boolean(), type: 'boolean', default: false, help: 'Also build a trigram index of file contents for fast `search --content`', commands: INDEXING, config: true, doc: 'index' },
  maxErrors: { schema: z.number().int().min(0), type: 'number', arg: 'N', default: Number.MAX_SAFE_INTEGER, defaultText: 'unlimited', help: 'Exit 1 when more files than this have errors', commands: INDEXING, config: true, doc: 'index' },
  maxCrashShare: { schema: z.number().min(0).max(1), type: 'number', arg: 'F', default: 0.2, help: 'Fail the run (commit nothing, exit 75) when more than this share of the files to parse end as `worker-crash`, and at least 5 do: the workers are failing, not the files. `1` turns it off', commands: INDEXING, config: true, doc: 'index' },
  deadline: { schema: z.number().positive(), type: 'number', arg: 'SECONDS', default: 0, defaultText: 'none', help: 'Fail the run (commit nothing, exit 75) if it has not finished after this many seconds', commands: INDEXING, config: true, field: 'deadlineS' as const, doc: 'index' },
  progress: { schema: z.enum(PROGRESS_MODES), type: 'string', choices: PROGRESS_MODES, default: 'auto' as (typeof PROGRESS_MODES)[number], help: 'Progress display on stderr (auto: bars on a TTY, plain lines off a TTY or under `CI`)', commands: INDEXING, config: true, doc: 'index' },
  progressInterval: { schema: z.number().min(0.1).max(3600), type: 'number', arg: 'SECONDS', default: 5, help: 'Seconds between plain progress lines', commands: INDEXING, config: true, doc: 'index' },
  quiet: { schema: z.boolean(), type: 'boolean', alias: 'q', default: false, help: 'No progress and no summary', commands: [...INDEXING, 'bench'], config: true, doc: 'index' },
  json: { schema: z.boolean(), type: 'boolean', default: false, help: 'Print the result as JSON on stdout (an index run: its summary)', commands: [...INDEXING, 'runs', 'bench'], config: true, doc: 'index' },
  changedSince: { schema: z.string().min(1), type: 'string', arg: 'REF', default: null as string | null, defaultText: '', help: 'Only re-examine files that differ from this git ref (`git diff --name-only REF`), plus untracked files', commands: INDEXING, config: true, doc: 'index' },
  files: { schema: globs, type: 'string', array: true, arg: 'PATH... \\| -', default: null as string[] | null, defaultText: '', help: 'Only re-examine these files (`-` reads newline-separated paths from stdin)', commands: INDEXING, config: true, doc: 'index' },
  config: { schema: z.string().min(1), type: 'string', arg: 'FILE', defaultText: '<repo>/mcp-index.config.json', help: 'Config file (see *Configuration*)', commands: INDEXING, doc: 'index' },
  cluster: { schema: z.boolean(), type: 'boolean', default: false, help: 'Run batches on Redis workers instead of local threads (needs `--redis`; see *Cluster mode*)', commands: ['index'], config: true, doc: 'cluster' },
  redis: { schema: z.string().min(1), type: 'string', arg: 'URL', default: null as string | null, defaultText: '', help: 'Redis URL: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS', commands: [...REDIS, 'bench'], config: true, doc: 'cluster' },
  namespace: { schema: z.string().regex(/^[A-Za-z0-9:_.-]+$/, 'letters, digits and : _ . - only'), type: 'string', arg: 'NAME', default: DEFAULT_NAMESPACE, help: 'Prefix of every Redis key', commands: REDIS, config: true, doc: 'cluster' },
  priority: { schema: z.enum(PRIORITIES), type: 'string', choices: PRIORITIES, default: 'normal' as (typeof PRIORITIES)[number], help: "This run's priority on the shared queue", commands: ['index'], config: true, doc: 'cluster' },
  workers: { schema: z.number().int().min(0).max(64), type: 'number', arg: 'N', default: 0, help: 'Also start N local worker processes (1 thread each)', commands: ['index'], config: true, doc: 'cluster' },
  window: { schema: z.number().int().min(1).max(10_000), type: 'number', arg: 'N', default: 32, help: 'Batches uploaded and queued at once (bounds Redis memory)', commands: ['index'], config: true, doc: 'cluster' },
  cache: { schema: z.boolean(), type: 'boolean', default: true, defaultText: 'on', help: 'Use the shared content-hash result cache (`--no-cache`: neither read nor fill it for this run)', commands: ['index'], config: true, field: null, doc: 'cache' },
  cacheMb: { schema: z.number().min(0).max(1024 * 1024), type: 'number', arg: 'N', default: 256, help: 'Budget of the shared result cache in MiB (fractions allowed); least recently used entries go first; `0` turns the cache off for the run', commands: ['index'], config: true, field: null, doc: 'cache' },
  stallWarning: { schema: z.number().min(0), type: 'number', arg: 'SECONDS', default: 30, help: 'Warn when for this many seconds no worker was alive or took a batch (`0`: never)', commands: ['index'], config: true, field: 'stallWarningS' as const, doc: 'cluster' },
  tlsCa: { schema: z.string().min(1), type: 'string', arg: 'PEM', help: 'CA certificate (PEM) to verify the Redis server', commands: REDIS, config: true, field: null, doc: 'cluster' },
  tlsCert: { schema: z.string().min(1), type: 'string', arg: 'PEM', help: 'Client certificate (PEM) for mutual TLS', commands: REDIS, config: true, field: null, doc: 'cluster' },
  tlsKey: { schema: z.string().min(1), type: 'string', arg: 'PEM', help: 'Client key (PEM) for mutual TLS', commands: REDIS, config: true, field: null, doc: 'cluster' },
  logLevel: { schema: z.enum(LOG_LEVELS), type: 'string', choices: LOG_LEVELS, default: 'warn' as (typeof LOG_LEVELS)[number], defaults: { worker: 'info', up: 'info', dashboard: 'info' }, help: 'Structured logs on stderr at this level and above', commands: LONG_RUNNING, config: true },
  logFormat: { schema: z.enum(LOG_FORMATS), type: 'string', choices: LOG_FORMATS, help: 'Logs on stderr: JSON lines, or readable lines (auto: readable on a TTY)', commands: LONG_RUNNING },
} satisfies Record<string, OptionSpec>;

type Table = typeof OPTIONS;
type OptionKey = keyof Table;
type ConfigKey = { [K in OptionKey]: Table[K] extends { config: true } ? K : never }[OptionKey];

const entries = Object.entries(OPTIONS) as [OptionKey, OptionSpec][];
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
export const envName = (key: string) => 'MCP_INDEX_' + kebab(key).replace(/-/g, '_').toUpperCase();

/**
 * The one schema for config file, environment and flags. Keys are the long flag names in camelCase; the config
 * file may set any of them. Unknown keys are errors, so a typo never silently does nothing.
 */
export const ConfigSchema = z
  .object(Object.fromEntries(entries.filter(([, o]) => o.config).map(([k, o]) => [k, o.schema])) as { [K in ConfigKey]: Table[K]['schema'] })
  .partial()
  .strict();

type DefaultKey = { [K in ConfigKey]: Table[K] extends { default: unknown } ? K : never }[ConfigKey];
export const DEFAULTS = Object.fromEntries(entries.filter(([, o]) => o.config && 'default' in o).map(([k, o]) => [k, o.default])) as {
  [K in DefaultKey]: Table[K] extends { default: infer D } ? D : never;
};

type FieldOf<K extends ConfigKey> = Table[K] extends { field: infer F } ? F : K;
/** A key's value after defaults < config file < flags: its schema's output, or its default, or unset. */
type Merged = { [K in ConfigKey]: z.output<Table[K]['schema']> | (K extends DefaultKey ? (typeof DEFAULTS)[K] : undefined) };

/** The settings of an index run: the config keys under their `field` names, plus what `buildOptions` composes. */
export type IndexOptions = { readonly [K in ConfigKey as FieldOf<K> extends string ? FieldOf<K> : never]: Readonly<Merged[K]> } & {
  readonly root: string;
  readonly out: string;
  /** Budget of the cluster's shared result cache in bytes; 0 when off (--no-cache or --cache-mb 0). */
  readonly cacheBytes: number;
  readonly tls: { ca?: string; cert?: string; key?: string };
};

/** The config keys' values under their `IndexOptions` names (the composed ones, `field: null`, left out). */
export function renamed(merged: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, o] of entries) if (o.config && o.field !== null) out[o.field ?? k] = merged[k];
  return out;
}

const defaultOf = (o: OptionSpec, command: Command) => (o.defaults && command in o.defaults ? o.defaults[command] : o.default);
const defaultText = (o: OptionSpec, command?: Command) => {
  const d = command ? defaultOf(o, command) : o.default;
  return o.defaultText ?? (d === undefined || d === null ? '' : String(d));
};

/** Declares this command's options on yargs. A config-reading command gets no yargs defaults: the file comes first. */
export function flagsFor<T>(y: Argv<T>, command: Command): Argv<T & FlagValues> {
  for (const [key, o] of entries) {
    if (!o.commands.includes(command)) continue;
    const d = CONFIG_COMMANDS.includes(command) ? undefined : defaultOf(o, command);
    const text = defaultText(o, command);
    y.option(kebab(key), {
      type: o.type,
      ...(o.array ? { array: true } : {}),
      ...(o.choices ? { choices: o.choices } : {}),
      ...(o.alias ? { alias: o.alias } : {}),
      ...(d !== undefined && d !== null ? { default: d } : {}),
      ...(text && (d === undefined || o.defaultText) ? { defaultDescription: text } : {}),
      describe: o.help,
    });
  }
  return y as Argv<T & FlagValues>;
}

/** argv's view of the table's options (camelCase). */
type FlagValues = { [K in OptionKey]?: z.output<Table[K]['schema']> };

/** The table's options of `command` that argv holds (flags, environment, yargs' defaults); `configOnly`: config keys. */
function given(command: Command, argv: Record<string, unknown>, configOnly: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, o] of entries) if ((o.config || !configOnly) && o.commands.includes(command) && argv[key] !== undefined) out[key] = argv[key];
  return out;
}

/**
 * Validates the table's options of `command` in yargs' argv (flags and environment) with the one schema, so every
 * command applies the same rules (namespace, threads limit...). Returns the values as parsed.
 */
export function checkFlags(command: Command, argv: Record<string, unknown>): Record<string, unknown> {
  return parseWith('flag', FlagSchema, given(command, argv, false));
}

/** The config keys that `command` takes, as given by flags or environment (for `buildOptions`). */
export function configInput(command: Command, argv: Record<string, unknown>): ConfigInput {
  return given(command, argv, true) as ConfigInput;
}

/** `input` parsed with `schema`; its first issue is a UsageError naming `source` (a file, `flag`...). */
export function parseWith<S extends z.ZodType>(source: string, schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new UsageError(formatIssue(source, r.error.issues[0]));
  return r.data;
}

export type ConfigInput = z.input<typeof ConfigSchema>;

const FlagSchema = z.object(Object.fromEntries(entries.map(([k, o]) => [k, o.schema]))).partial();

export function formatIssue(source: string, issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `${source}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  const key = issue.path.join('.') || '(root)';
  return `${source}: "${key}" ${issue.message}`;
}

/** The README's table of the options in `doc` group `group`, as `| flag | default | meaning |` rows. */
export function markdownTable(group: NonNullable<OptionSpec['doc']>): string {
  const rows = ['| flag | default | meaning |', '| --- | --- | --- |'];
  for (const [key, o] of entries) {
    if (o.doc !== group) continue;
    const flag = o.type === 'boolean' && o.default === true ? `--no-${kebab(key)}` : `--${kebab(key)}`;
    const arg = o.choices ? ' ' + o.choices.join('\\|') : o.arg ? ' ' + o.arg : '';
    const name = `${o.alias?.length === 1 ? `-${o.alias}, ` : ''}${flag}${arg}`;
    const long = o.alias && o.alias.length > 1 ? ` (\`--${o.alias}\`)` : '';
    const text = defaultText(o);
    const def = o.type === 'boolean' ? (o.default ? 'on' : 'off') : /^[a-z ]*$/.test(text) ? text : `\`${text}\``;
    rows.push(`| \`${name}\`${long} | ${def} | ${o.help.replaceAll('|', '\\|')} |`);
  }
  return rows.join('\n');
}
