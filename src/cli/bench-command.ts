import { statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';
import type { Argv } from 'yargs';
import { checkFlags, flagsFor } from '../config/option-table.js';

const isDirectory = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** "1,2,4" -> [1, 2, 4]: whole numbers >= 1, de-duplicated, ascending. */
export function parseList(flag: string, v: string | number | undefined, fallback: number[]): number[] {
  if (v === undefined || v === '') return fallback;
  const items = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const nums = items.map(Number);
  if (!nums.length || nums.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) throw new UsageError(`--${flag} takes whole numbers from 1 to 256 separated by commas (got "${v}")`);
  return [...new Set(nums)].sort((a, b) => a - b);
}

/** `mcp-index bench`: throughput, scaling and cost measured side by side. */
export function registerBenchCommand<T>(y: Argv<T>): Argv<T> {
  return y.command(
    'bench [paths..]',
    'Measure parse-only ceiling, full index at 1..N threads, cluster and its fan-in, incremental re-runs, ctags and ast-grep on the same trees',
    (b) =>
      flagsFor(b, 'bench')
        .positional('paths', { type: 'string', array: true, describe: 'Trees to measure (default: a generated Python/JS/TS/Rust corpus)' })
        .option('threads-list', { type: 'string', describe: 'Thread counts for the local runs (default 1..available cores)' })
        .option('repeat', { type: 'number', default: 3, describe: 'Timed runs per configuration, after one warm-up run' })
        .option('files', { type: 'number', describe: 'Generated corpus: number of files (default 1000)' })
        .option('mb', { type: 'number', describe: 'Generated corpus: total size in MB' })
        .option('seed', { type: 'number', default: 1, describe: 'Generated corpus: PRNG seed' })
        .option('workers', { type: 'string', describe: 'Worker processes for the cluster runs, 1 thread each (default: the thread list)' })
        .option('replay-threads', { type: 'string', describe: 'Simulated worker threads of the fan-in replay, with --redis (default 1,2,4,8,16,24,32)' })
        .option('ctags', { type: 'boolean', default: true, describe: 'Compare with universal-ctags (--no-ctags to skip)' })
        .option('ast-grep', { type: 'boolean', default: true, describe: 'Compare with ast-grep at each thread count (--no-ast-grep to skip)' })
        .option('report', { type: 'string', describe: 'Also write a self-contained HTML report (inline SVG charts) here' })
        .option('work-dir', { type: 'string', describe: 'Keep the corpus, copies and indexes here (default: a temp folder, removed)' }),
    async (argv) => {
      checkFlags('bench', argv);
      const cores = availableParallelism();
      const threadsList = parseList('threads-list', argv['threads-list'] as string | undefined, Array.from({ length: cores }, (_, i) => i + 1));
      const workersList = parseList('workers', argv.workers as string | undefined, threadsList);
      const replayThreads = parseList('replay-threads', argv['replay-threads'] as string | undefined, [1, 2, 4, 8, 16, 24, 32]);
      const repeat = argv.repeat as number;
      if (!Number.isInteger(repeat) || repeat < 1) throw new UsageError('--repeat must be a whole number >= 1');
      const files = argv.files as number | undefined;
      const mb = argv.mb as number | undefined;
      if (files !== undefined && (!Number.isInteger(files) || files < 1)) throw new UsageError('--files must be a whole number >= 1');
      if (mb !== undefined && !(mb > 0)) throw new UsageError('--mb must be a positive number');
      const paths = ((argv.paths as string[] | undefined) ?? []).map(String);
      for (const p of paths) if (!isDirectory(p)) throw new UsageError(`not a directory: ${p}`);
      if (paths.length && (files !== undefined || mb !== undefined)) throw new UsageError('--files and --mb size the generated corpus: give them without PATH');
      // Loaded on use: every other command starts without paying for the bench's modules.
      const [{ runBench }, { formatReport }, { renderHtml }] = await Promise.all([import('../bench/run.js'), import('../bench/format.js'), import('../bench/html.js')]);
      const report = await runBench({
        paths,
        threadsList,
        workersList,
        repeat,
        files,
        mb,
        seed: argv.seed as number,
        redis: (argv.redis as string | undefined) ?? null,
        replayThreads,
        ctags: argv.ctags as boolean,
        astGrep: argv['ast-grep'] as boolean,
        exclude: ((argv.exclude as string[] | undefined) ?? []).map(String),
        defaultExcludes: argv['default-excludes'] as boolean,
        workDir: (argv['work-dir'] as string | undefined) ?? null,
        log: argv.quiet ? () => {} : (line) => process.stderr.write(line + '\n'),
      });
      if (argv.report) writeFileSync(argv.report as string, renderHtml(report));
      process.stdout.write(argv.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
    },
  ) as unknown as Argv<T>;
}
