import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { buildOptions, resolveRoot, UsageError, type ConfigInput } from '../config/options.js';
import { defaultIndexPath } from '../index-store/location.js';
import { IndexNotFoundError, openIndex } from '../index-store/reader.js';
import { changedSince, fileList } from '../discover/changed.js';
import { RunFailedError } from '../transport/types.js';
import { EXIT } from './errors.js';
import { nativeModuleProblem } from './native.js';
import { CLUSTER_KEYS, clusterFlags, redisFlags, workerLimitFlags } from './cluster-flags.js';
import { indexCommand, interruptController } from './index-command.js';
import { registerQueryCommands } from './query-commands.js';
import { registerBenchCommand } from './bench-command.js';
import { registerDashboardCommand } from './dashboard-command.js';
import { indexOpsFlags, OPS_INDEX_KEYS, registerOpsCommands, withCoordinatorOps, workerOpsFlags } from './ops-commands.js';

/** Flags shared by every command that builds an index. Keys match the config file's keys. */
function indexFlags<T>(y: Argv<T>) {
  return y
    .option('out', { alias: 'index', type: 'string', describe: 'Index file (default: $XDG_CACHE_HOME/mcp-index/<repo>-<hash>/index.db)' })
    .option('threads', { alias: 'j', type: 'number', describe: 'Worker threads (default: available cores)' })
    .option('include', { type: 'string', array: true, describe: 'Only index paths matching these globs' })
    .option('exclude', { type: 'string', array: true, describe: 'Skip paths matching these globs' })
    .option('default-excludes', { type: 'boolean', describe: 'Skip node_modules, vendor, build output, virtualenvs... (--no-default-excludes to index them)' })
    .option('max-file-size', { type: 'string', describe: 'Larger files are recorded as "oversize" errors (default 1MiB)' })
    .option('parse-timeout', { type: 'number', describe: 'Per-file parse time limit in ms (default 10000)' })
    .option('max-memory', { type: 'string', describe: 'Memory cap of the pool (e.g. 2GiB): a parse that passes it is an "oom" file error; threads get a V8 heap limit' })
    .option('batch-bytes', { type: 'string', describe: 'Target batch size (default 512KiB)' })
    .option('batch-files', { type: 'number', describe: 'Max files per batch (default 256)' })
    .option('full', { type: 'boolean', describe: 'Rebuild from scratch, ignoring the previous index' })
    .option('content-index', { type: 'boolean', describe: 'Also build a trigram index of file contents for fast `search --content`' })
    .option('max-errors', { type: 'number', describe: 'Exit 1 when more files than this have errors' })
    .option('max-crash-share', { type: 'number', describe: 'Fail the run (commit nothing, exit 75) when more than this share of the files to parse end as worker-crash (default 0.2)' })
    .option('deadline', { type: 'number', describe: 'Fail the run (commit nothing, exit 75) if it has not finished after this many seconds' })
    .option('progress', { choices: ['auto', 'bars', 'plain', 'json', 'none'] as const, describe: 'Progress display on stderr (auto: bars on a TTY, plain lines otherwise)' })
    .option('progress-interval', { type: 'number', describe: 'Seconds between plain progress lines (default 5)' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'No progress and no summary' })
    .option('json', { type: 'boolean', describe: 'Print the run summary as JSON on stdout' })
    .option('changed-since', { type: 'string', describe: 'Only re-index files that differ from this git ref (plus untracked files)' })
    .option('files', { type: 'string', array: true, describe: 'Only re-index these files (paths, or - to read them from stdin)' })
    .option('config', { type: 'string', describe: 'Config file (default: <repo>/mcp-index.config.json)' });
}

const INDEX_KEYS = [
  'out', 'threads', 'include', 'exclude', 'defaultExcludes', 'maxFileSize', 'maxMemory', 'parseTimeout', 'batchBytes', 'batchFiles',
  'full', 'contentIndex', 'maxErrors', 'maxCrashShare', 'deadline', 'progress', 'progressInterval', 'quiet', 'json', 'changedSince', 'files',
] as const;

function pick(argv: Record<string, unknown>, keys: readonly string[]): ConfigInput {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (argv[k] !== undefined) out[k] = argv[k];
  return out as ConfigInput;
}

function indexPathFor(argv: { index?: string; path?: string }): string {
  return argv.index ?? defaultIndexPath(resolveRoot(argv.path ?? '.'));
}

// Modules a command alone needs are imported in its handler: start-up time is most of a no-change re-run.
export async function cli(args: string[]): Promise<void> {
  let exitCode: number = EXIT.ok;
  const parser = registerDashboardCommand(registerOpsCommands(registerBenchCommand(registerQueryCommands(yargs(args)))))
    .scriptName('mcp-index')
    .env('MCP_INDEX')
    .usage('$0 [path]: index a repository into a SQLite symbol index\n$0 <command> [options]')
    .command(
      '$0 [path]',
      'Index a repository (default: the current directory)',
      (y) => indexOpsFlags(clusterFlags(indexFlags(y.positional('path', { type: 'string', describe: 'Repository root', default: '.' })))),
      async (argv) => {
        const o = buildOptions(argv.path as string, pick(argv, [...INDEX_KEYS, ...CLUSTER_KEYS, ...OPS_INDEX_KEYS]), argv.config);
        const only = o.changedSince ? await changedSince(o.root, o.changedSince) : o.files ? fileList(o.root, o.files) : null;
        exitCode = await withCoordinatorOps(argv, o, async (onEvent) =>
          o.cluster ? (await import('./cluster.js')).clusterIndexCommand(o, only, onEvent) : indexCommand(o, undefined, { only, onEvent }),
        );
      },
    )
    .command(
      'watch [path]',
      'Index, then re-index changed files as they change (debounced) until stopped',
      (y) =>
        indexFlags(y.positional('path', { type: 'string', describe: 'Repository root', default: '.' })).option('debounce', {
          type: 'number',
          default: 300,
          describe: 'Milliseconds of quiet before a re-index',
        }),
      async (argv) => {
        const o = buildOptions(argv.path as string, pick(argv, INDEX_KEYS), argv.config);
        const { signal, dispose } = interruptController();
        const { watchRepository } = await import('../pipeline/watch.js');
        await watchRepository(o, {
          debounceMs: argv.debounce,
          signal,
          onRun: (s, changed) => {
            if (o.json) process.stdout.write(JSON.stringify(s) + '\n');
            else if (!o.quiet) process.stderr.write(`mcp-index watch: ${changed} changed path(s): parsed ${s.run.filesParsed}, reused ${s.run.filesReused}, removed ${s.run.filesRemoved} in ${s.timings.totalMs} ms -> ${s.index.files} files, ${s.index.symbols} symbols\n`);
          },
          onError: (err) => process.stderr.write(`mcp-index watch: ${err instanceof Error ? err.message : String(err)}\n`),
          onReady: () => {
            if (!o.quiet) process.stderr.write(`mcp-index watch: watching ${o.root}\n`);
          },
        });
        dispose();
      },
    )
    .command(
      'worker',
      'Pull batches from a Redis cluster and index them until stopped (SIGTERM/SIGINT drain in-flight batches)',
      (y) =>
        workerLimitFlags(workerOpsFlags(redisFlags(y)))
          .option('threads', { alias: 'j', type: 'number', describe: 'Pool threads (default: available cores)' })
          .option('root', { type: 'string', describe: 'A checkout of the repository: files whose hash matches are read here instead of fetched' })
          .option('name', { type: 'string', describe: 'Worker name in heartbeats (default host-pid)' })
          .option('lock-ms', { type: 'number', describe: 'Lease on a batch; a dead worker loses it after this long (default 30000)' })
          .option('drain-ms', { type: 'number', describe: 'On shutdown, wait this long for in-flight batches before giving them back (default 30000)' })
          .option('log-level', { choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, default: 'info' as const }),
      async (argv) => {
        if (argv.threads !== undefined && (!Number.isInteger(argv.threads) || argv.threads < 1)) throw new UsageError('--threads must be a whole number >= 1');
        if (argv.root !== undefined) argv.root = resolveRoot(argv.root);
        exitCode = await (await import('./cluster.js')).workerCommand(argv);
      },
    )
    .command(
      'runs <action> [run-id]',
      'Cluster runs in Redis: list them, cancel one (its coordinator stops, its jobs and data go), purge abandoned ones',
      (y) =>
        redisFlags(y)
          .positional('action', { choices: ['list', 'cancel', 'purge'] as const, describe: 'list | cancel RUN_ID | purge' })
          .positional('run-id', { type: 'string', describe: 'The run to cancel (from `runs list`)' })
          .option('older-than', { type: 'number', describe: 'purge: runs whose coordinator was last seen this many seconds ago (default 600)' })
          .option('json', { type: 'boolean', describe: 'Print JSON on stdout' }),
      async (argv) => {
        if (!argv.redis) throw new UsageError('runs needs --redis URL');
        exitCode = await (await import('./cluster.js')).runsCommand({ ...argv, redis: argv.redis, action: String(argv.action), runId: argv.runId });
      },
    )
    .command(
      'export [path]',
      'Write a deterministic dump of an index (sorted, stable ids)',
      (y) =>
        y
          .positional('path', { type: 'string', describe: 'Repository root whose default index to read', default: '.' })
          .option('index', { type: 'string', describe: 'Index file to read instead of the default location' })
          .option('format', { choices: ['jsonl'] as const, default: 'jsonl' as const })
          .option('output', { alias: 'o', type: 'string', describe: 'Write here instead of stdout' }),
      async (argv) => {
        const { exportJsonl } = await import('../index-store/export.js');
        const db = openIndex(indexPathFor(argv));
        const out: NodeJS.WritableStream = argv.output ? createWriteStream(argv.output) : process.stdout;
        try {
          for (const line of exportJsonl(db)) {
            if (!out.write(line + '\n')) await once(out, 'drain');
          }
        } finally {
          db.close();
          if (out !== process.stdout) await new Promise<void>((r) => out.end(() => r()));
        }
      },
    )
    .strict()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });

  try {
    await parser.parseAsync();
  } catch (err) {
    exitCode = reportError(err);
  }
  process.exitCode = exitCode;
}

/** Known errors are one line; anything else is a bug and keeps its stack. */
function reportError(err: unknown): number {
  // The reader of our output went away (`mcp-index export | head`): nothing more to say, as with any Unix tool.
  if ((err as NodeJS.ErrnoException)?.code === 'EPIPE') return EXIT.ok;
  if (err instanceof UsageError || err instanceof IndexNotFoundError) {
    process.stderr.write(`mcp-index: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof RunFailedError) {
    process.stderr.write(`mcp-index: run failed: ${err.message}; nothing was committed, the previous index is unchanged\n`);
    return EXIT.runFailed;
  }
  const native = nativeModuleProblem(err);
  if (native) {
    process.stderr.write(`mcp-index: ${native}\n`);
    return EXIT.usage;
  }
  process.stderr.write(`mcp-index: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.internal;
}
