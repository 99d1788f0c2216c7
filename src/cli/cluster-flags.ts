import type { Argv } from 'yargs';
import { DEFAULTS, validate } from '../config/options.js';

// Flags only: no Redis or BullMQ imports here, so commands that never touch a cluster start fast.

export function redisFlags<T>(y: Argv<T>) {
  return y
    .option('redis', { type: 'string', describe: 'Redis URL: redis://[user:password@]host:port[/db], or rediss:// for TLS' })
    .option('namespace', { type: 'string', describe: 'Prefix of every Redis key (default mcp-index)' })
    .option('tls-ca', { type: 'string', describe: 'CA certificate (PEM) to verify the Redis server' })
    .option('tls-cert', { type: 'string', describe: 'Client certificate (PEM) for mutual TLS' })
    .option('tls-key', { type: 'string', describe: 'Client key (PEM) for mutual TLS' });
}

export function clusterFlags<T>(y: Argv<T>) {
  return redisFlags(y)
    .option('cluster', { type: 'boolean', describe: 'Run batches on Redis workers instead of local threads' })
    .option('priority', { choices: ['urgent', 'high', 'normal', 'low'] as const, describe: "This run's priority on the shared queue" })
    .option('workers', { type: 'number', describe: 'Also start N local worker processes (1 thread each)' })
    .option('window', { type: 'number', describe: 'Batches uploaded and queued at once (bounds Redis memory; default 32)' })
    .option('cache', { type: 'boolean', describe: 'Use the shared content-hash result cache (--no-cache: neither read nor fill it)' })
    .option('cache-mb', { type: 'number', describe: 'Budget of the shared result cache in MiB; least recently used entries go first (default 256, 0: off)' })
    .option('stall-warning', { type: 'number', describe: 'Warn when for this many seconds no worker was alive or took a batch (default 30, 0: never)' });
}

export const CLUSTER_KEYS = ['cluster', 'redis', 'namespace', 'priority', 'workers', 'window', 'cache', 'cacheMb', 'stallWarning', 'tlsCa', 'tlsCert', 'tlsKey'] as const;

/** A worker process's own caps (`worker`, and `up` for its workers): what it applies whatever a job asks for. */
export function workerLimitFlags<T>(y: Argv<T>) {
  return y
    .option('max-file-size', { type: 'string', describe: "Cap on a file's size, whatever a job asks; larger files are oversize errors (default 1MiB)" })
    .option('parse-timeout', { type: 'number', describe: "Cap on a file's parse time in ms, whatever a job asks (default 10000)" })
    .option('max-memory', { type: 'string', describe: 'Memory cap of the worker process (e.g. 512MiB): a parse past it is an "oom" file error; past it between batches, the worker hands back its batches and exits 76' });
}

/** What a worker process applies whatever a job asks for (`maxMemoryBytes` 0: no memory cap). */
export interface WorkerCaps {
  maxFileBytes: number;
  parseTimeoutMs: number;
  maxMemoryBytes: number;
}

/** A worker's own caps from its flags, checked like the index command's (same defaults, same bounds). */
export function workerCaps(argv: { maxFileSize?: string; parseTimeout?: number; maxMemory?: string }): WorkerCaps {
  const v = validate('flag', Object.fromEntries(Object.entries({ maxFileSize: argv.maxFileSize, parseTimeout: argv.parseTimeout, maxMemory: argv.maxMemory }).filter(([, x]) => x !== undefined)));
  return { maxFileBytes: v.maxFileSize ?? DEFAULTS.maxFileSize, parseTimeoutMs: v.parseTimeout ?? DEFAULTS.parseTimeout, maxMemoryBytes: v.maxMemory ?? 0 };
}
