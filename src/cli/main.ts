import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import yargs from 'yargs';
import { buildOptions, resolveRoot, workerCaps } from '../config/options.js';
import { checkFlags, configInput, flagsFor } from '../config/option-table.js';
import { defaultIndexPath } from '../index-store/location.js';
import { openIndex } from '../index-store/reader.js';
import { changedSince, fileList } from '../discover/changed.js';
import { nativeModuleProblem } from './native.js';
import { indexCommand, interruptController } from './index-command.js';
import { registerQueryCommands } from './query-commands.js';
import { registerBenchCommand } from './bench-command.js';
import { registerDashboardCommand } from './dashboard-command.js';
import { indexOpsFlags, registerOpsCommands, withCoordinatorOps, workerOpsFlags } from './ops-commands.js';
import { EXIT, reportError, UsageError } from '../errors.js';

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
      (y) => indexOpsFlags(flagsFor(y.positional('path', { type: 'string', describe: 'Repository root', default: '.' }), 'index')),
      async (argv) => {
        const o = buildOptions(argv.path as string, configInput('index', argv), argv.config as string | undefined);
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
        flagsFor(y.positional('path', { type: 'string', describe: 'Repository root', default: '.' }), 'watch').option('debounce', {
          type: 'number',
          default: 300,
          describe: 'Milliseconds of quiet before a re-index',
        }),
      async (argv) => {
        const o = buildOptions(argv.path as string, configInput('watch', argv), argv.config as string | undefined);
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
        flagsFor(workerOpsFlags(y), 'worker')
          .option('root', { type: 'string', describe: 'A checkout of the repository: files whose hash matches are read here instead of fetched' })
          .option('name', { type: 'string', describe: 'Worker name in heartbeats (default host-pid)' })
          .option('lock-ms', { type: 'number', describe: 'Lease on a batch; a dead worker loses it after this long (default 30000)' })
          .option('drain-ms', { type: 'number', describe: 'On shutdown, wait this long for in-flight batches before giving them back (default 30000)' }),
      async (argv) => {
        const caps = workerCaps(checkFlags('worker', argv));
        if (argv.root !== undefined) argv.root = resolveRoot(argv.root);
        exitCode = await (await import('./cluster.js')).workerCommand({ ...argv, caps });
      },
    )
    .command(
      'runs <action> [run-id]',
      'Cluster runs in Redis: list them, cancel one (its coordinator stops, its jobs and data go), purge abandoned ones',
      (y) =>
        flagsFor(y, 'runs')
          .positional('action', { choices: ['list', 'cancel', 'purge'] as const, describe: 'list | cancel RUN_ID | purge' })
          .positional('run-id', { type: 'string', describe: 'The run to cancel (from `runs list`)' })
          .option('older-than', { type: 'number', describe: 'purge: runs whose coordinator was last seen this many seconds ago (default 600)' }),
      async (argv) => {
        checkFlags('runs', argv);
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
    // A native module that is not built is the user's to fix (rebuild), not a bug.
    const native = nativeModuleProblem(err);
    exitCode = reportError(native ? new UsageError(native) : err);
  }
  process.exitCode = exitCode;
}
