import type { Argv } from 'yargs';
import type { Dashboard, DashboardOptions } from '../ops/dashboard/server.js';
import { createLogger } from '../util/log.js';
import { within } from '../util/time.js';
import { checkFlags, flagsFor } from '../config/option-table.js';
import { checkPort } from './ops-commands.js';
import { interruptController } from './index-command.js';
import { UsageError } from '../errors.js';

/** Starts the dashboard (after the Redis start-up check, unless the caller made it) for `dashboard` and `up`. */
export async function openDashboard(a: DashboardOptions, opts: { preflight?: boolean } = {}): Promise<Dashboard> {
  const { checkDashboardAccess, startDashboard } = await import('../ops/dashboard/server.js');
  const problem = checkDashboardAccess(a.host ?? '127.0.0.1', a.token);
  if (problem) throw new UsageError(problem);
  if (opts.preflight !== false) await (await import('../transport/redis/connection.js')).preflight(a.redis, a.namespace);
  const d = await startDashboard(a);
  process.stderr.write(`mcp-index: dashboard at ${d.url}\n`);
  return d;
}

/** `mcp-index dashboard --redis URL`: the live web dashboard of a cluster, until SIGINT/SIGTERM. */
export function registerDashboardCommand<T>(y: Argv<T>): Argv<T> {
  return y.command(
    'dashboard',
    'Serve a live web dashboard of the cluster: queue, workers, runs, throughput, errors; pause, drain, cancel, retry',
    (b) =>
      flagsFor(b, 'dashboard')
        .option('port', { type: 'number', default: 8080, describe: 'Port to serve the page and its API on (0: any free one)' })
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on; anything but loopback needs --token' })
        .option('token', { type: 'string', describe: 'Every request must carry it (open the page as /?token=TOKEN); better set as MCP_INDEX_TOKEN' }),
    async (argv) => {
      if (!argv.redis) throw new UsageError('dashboard needs --redis URL');
      checkFlags('dashboard', argv);
      const log = createLogger(argv.logLevel!, 'mcp-index-dashboard', argv.logFormat);
      const d = await openDashboard({
        redis: { url: argv.redis, tlsCa: argv.tlsCa, tlsCert: argv.tlsCert, tlsKey: argv.tlsKey },
        namespace: argv.namespace!,
        port: checkPort(argv.port, '--port'),
        host: argv.host,
        token: argv.token,
        log,
      });
      const { signal, dispose } = interruptController();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      dispose();
      // Pages and Redis get a few seconds to let go; then the process ends regardless.
      if ((await within(5000, d.close().then(() => true))) !== true) log.warn('dashboard stopped without waiting any longer for its connections');
      else log.info('dashboard stopped');
    },
  );
}
