import { availableParallelism } from 'node:os';
import type { Argv } from 'yargs';
import { resolveRoot, workerCaps, type IndexOptions } from '../config/options.js';
import type { PipelineEvent } from '../pipeline/events.js';
import { createLogger, type LogFormat } from '../util/log.js';
import { UsageError } from '../errors.js';
import { checkFlags, flagsFor } from '../config/option-table.js';

/** --metrics-port / --metrics-host: every long-running command (index run, worker, up). */
export function opsFlags<T>(y: Argv<T>) {
  return y
    .option('metrics-port', { type: 'number', describe: 'Serve /metrics, /healthz and /readyz on this port (0: off)' })
    .option('metrics-host', { type: 'string', describe: 'Address for --metrics-port (default: all interfaces)' });
}

/** The worker's: the ops flags, and a hidden --supervised (set by `up`: report to it over IPC). */
export function workerOpsFlags<T>(y: Argv<T>) {
  return opsFlags(y).option('supervised', { type: 'boolean', hidden: true, describe: 'Started by `mcp-index up`: report state and metrics over IPC' });
}

/** The index command's extra operations flag. */
export function indexOpsFlags<T>(y: Argv<T>) {
  return opsFlags(y).option('metrics-linger', { type: 'number', describe: 'After the run, keep serving /metrics this many seconds so a last scrape sees the totals' });
}

export function checkPort(v: number | undefined, flag: string): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new UsageError(`${flag} must be a port number (0-65535; 0 turns it off)`);
  return v;
}

interface OpsArgv {
  metricsPort?: number;
  metricsHost?: string;
  metricsLinger?: number;
  logFormat?: LogFormat;
}

/** Runs an index run (local or cluster) with its metrics server and logger around it. */
export async function withCoordinatorOps(argv: OpsArgv, o: IndexOptions, run: (onEvent: (e: PipelineEvent) => void) => Promise<number>): Promise<number> {
  const metricsPort = checkPort(argv.metricsPort, '--metrics-port');
  if (argv.metricsLinger !== undefined && !(argv.metricsLinger >= 0)) throw new UsageError('--metrics-linger must be a number of seconds >= 0');
  const log = createLogger(o.logLevel, 'mcp-index', argv.logFormat);
  // Loaded on use: prom-client and friends cost startup time every other command need not pay.
  const { startCoordinatorOps } = await import('../ops/coordinator-service.js');
  const ops = await startCoordinatorOps({
    metricsPort,
    metricsHost: argv.metricsHost,
    lingerMs: (argv.metricsLinger ?? 0) * 1000,
    priority: o.priority,
    redis: o.cluster && o.redis ? { url: o.redis, tlsCa: o.tls.ca, tlsCert: o.tls.cert, tlsKey: o.tls.key } : null,
    namespace: o.namespace,
    log,
  });
  try {
    return await run(ops.onEvent);
  } finally {
    await ops.close();
  }
}

/** `mcp-index up`: a supervisor of N local worker processes. */
export function registerOpsCommands<T>(y: Argv<T>): Argv<T> {
  return y.command(
    'up',
    'Run N worker processes on this host and keep them running (restart with backoff; SIGTERM drains them all)',
    (b) =>
      opsFlags(flagsFor(b, 'up'))
        .option('workers', { alias: 'n', type: 'number', describe: 'Worker processes to keep running (default: available cores)' })
        .option('threads-per-worker', { type: 'number', default: 1, describe: 'Pool threads in each worker process' })
        .option('root', { type: 'string', describe: 'A checkout of the repository for the workers (files whose hash matches are read here)' })
        .option('name', { type: 'string', describe: 'Worker name prefix in heartbeats: <name>-<slot> (default: host name)' })
        .option('lock-ms', { type: 'number', describe: "Workers' lease on a batch (default 30000)" })
        .option('drain-ms', { type: 'number', describe: 'On shutdown, each worker waits this long for in-flight batches (default 30000)' })
        .option('restart-delay-ms', { type: 'number', default: 1000, describe: 'First restart delay of a worker that died; doubles per quick death' })
        .option('restart-max-ms', { type: 'number', default: 30_000, describe: 'Cap of the restart delay' })
        .option('stable-ms', { type: 'number', default: 60_000, describe: 'A worker up this long resets its restart delay' })
        .option('dashboard-port', { type: 'number', describe: 'Also serve the live web dashboard of the cluster on this port (see `mcp-index dashboard`)' })
        .option('dashboard-host', { type: 'string', default: '127.0.0.1', describe: 'Address for --dashboard-port; anything but loopback needs --token' })
        .option('token', { type: 'string', describe: "The dashboard's access token (MCP_INDEX_TOKEN)" }),
    async (argv) => {
      if (!argv.redis) throw new UsageError('up needs --redis URL');
      // Checked here: a bad value is one line, not a crash loop of every worker.
      const caps = workerCaps(checkFlags('up', argv));
      const workers = argv.workers ?? availableParallelism();
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError('--workers must be a whole number from 1 to 256');
      if (!Number.isInteger(argv.threadsPerWorker) || argv.threadsPerWorker < 1) throw new UsageError('--threads-per-worker must be a whole number >= 1');
      for (const [flag, v] of [['--restart-delay-ms', argv.restartDelayMs], ['--restart-max-ms', argv.restartMaxMs], ['--stable-ms', argv.stableMs]] as const) {
        if (!(v >= 0)) throw new UsageError(`${flag} must be a number >= 0`);
      }
      // A wrong URL, password or TLS setup is one clear line now, not a crash loop of every worker.
      const { preflight } = await import('../transport/redis/connection.js');
      const { refusal, replica } = await preflight({ url: argv.redis, tlsCa: argv.tlsCa, tlsCert: argv.tlsCert, tlsKey: argv.tlsKey }, argv.namespace!);
      if (replica) throw new UsageError(refusal!); // its workers could never store a result
      const log = createLogger(argv.logLevel!, 'mcp-index-up', argv.logFormat);
      const { Supervisor } = await import('../ops/supervisor.js');
      const sup = new Supervisor({
        workers,
        redis: argv.redis,
        namespace: argv.namespace,
        root: argv.root !== undefined ? resolveRoot(argv.root) : undefined,
        threadsPerWorker: argv.threadsPerWorker,
        namePrefix: argv.name,
        lockMs: argv.lockMs,
        drainMs: argv.drainMs,
        caps,
        tls: { ca: argv.tlsCa, cert: argv.tlsCert, key: argv.tlsKey },
        logLevel: argv.logLevel,
        logFormat: argv.logFormat,
        metricsPort: checkPort(argv.metricsPort, '--metrics-port'),
        metricsHost: argv.metricsHost,
        restartBaseMs: argv.restartDelayMs,
        restartMaxMs: argv.restartMaxMs,
        stableMs: argv.stableMs,
        log,
      });
      const onSignal = (sig: NodeJS.Signals) => {
        log.info({ signal: sig }, 'signal received');
        void sup.stop();
      };
      const dashboardPort = checkPort(argv.dashboardPort, '--dashboard-port');
      const dashboard = dashboardPort
        ? await (await import('./dashboard-command.js')).openDashboard({ redis: { url: argv.redis, tlsCa: argv.tlsCa, tlsCert: argv.tlsCert, tlsKey: argv.tlsKey }, namespace: argv.namespace!, port: dashboardPort, host: argv.dashboardHost, token: argv.token, log }, { preflight: false })
        : null;
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        await sup.start();
        log.info({ workers, threadsPerWorker: argv.threadsPerWorker, port: sup.port, dashboardPort: dashboard?.port }, 'supervisor up');
        await sup.done;
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await dashboard?.close();
      }
    },
  );
}
