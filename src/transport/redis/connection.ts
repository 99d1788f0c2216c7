import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { UsageError } from '../../config/options.js';

export interface RedisConnectOptions {
  url: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** ioredis options from a redis:// or rediss:// URL (user, password, db in the URL) plus TLS files. */
export function redisOptions(o: RedisConnectOptions): { url: string; options: RedisOptions } {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new UsageError(`--redis is not a URL: ${o.url} (expected redis://[user:password@]host:port[/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--redis must start with redis:// or rediss:// (got ${u.protocol}//)`);
  const options: RedisOptions = {
    // BullMQ workers need blocking commands that never give up; reconnects are ioredis's job.
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 6), 5000),
  };
  if (u.protocol === 'rediss:' || o.tlsCa || o.tlsCert) {
    const read = (p: string | undefined, what: string) => {
      if (!p) return undefined;
      try {
        return readFileSync(p);
      } catch {
        throw new UsageError(`cannot read ${what} file: ${p}`);
      }
    };
    // SNI takes a host name only: Node prints a DeprecationWarning for an IP (the certificate's IP SAN is still checked).
    const host = u.hostname.replace(/^\[|\]$/g, '');
    options.tls = { ca: read(o.tlsCa, '--tls-ca'), cert: read(o.tlsCert, '--tls-cert'), key: read(o.tlsKey, '--tls-key'), ...(isIP(host) ? {} : { servername: host }) };
  }
  return { url: o.url, options };
}

export function createRedis(o: RedisConnectOptions): Redis {
  const { url, options } = redisOptions(o);
  return new Redis(url, options);
}

function explain(err: Error, url: string): string {
  const m = err.message;
  const where = url.replace(/\/\/[^@/]*@/, '//***@');
  if (/WRONGPASS|invalid username-password/i.test(m)) return `Redis at ${where} rejected the credentials (wrong user or password)`;
  if (/NOAUTH/i.test(m)) return `Redis at ${where} requires a password: put it in the URL (redis://:PASSWORD@host:port)`;
  if (/NOPERM/i.test(m)) return `Redis user lacks permission for a command mcp-index needs: ${m}`;
  if (/self[- ]signed|unable to verify|certificate/i.test(m)) return `TLS to ${where} failed: ${m} (pass the server's CA with --tls-ca FILE)`;
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|connect/i.test(m)) return `cannot reach Redis at ${where}: ${m}`;
  return `Redis at ${where}: ${m}`;
}

/**
 * Connects once with no retries and checks the commands we need, so a wrong password, an unreachable host, a
 * user without rights or TLS without a CA is one clear line instead of a reconnect loop.
 */
export async function preflight(o: RedisConnectOptions, ns: string): Promise<void> {
  const { url, options } = redisOptions(o);
  // No ready check: it runs INFO, and for a user without that right ioredis prints its own warning on stderr.
  const probe = new Redis(url, { ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false });
  // The cause (WRONGPASS, ECONNREFUSED, a TLS error) arrives as an 'error' event; connect() itself then only
  // rejects with "Connection is closed.". Keep the first one to report it below, once.
  let cause = null as Error | null;
  probe.on('error', (e: Error) => {
    cause ??= e;
  });
  try {
    await probe.connect();
    await probe.ping();
    // BullMQ runs Lua scripts and our keys need plain strings: an ACL user without these fails here, not mid-run.
    await probe.eval("return redis.call('exists', KEYS[1])", 1, `${ns}:preflight`);
    await probe.set(`${ns}:preflight`, '1', 'PX', 1000);
  } catch (err) {
    // When the connection itself failed, a command only reports "Connection is closed." or "Stream isn't
    // writeable": the cause is the 'error' event, which may trail the command's rejection by a moment.
    if (!cause) await new Promise((r) => setTimeout(r, 50));
    throw new UsageError(explain(cause ?? (err as Error), o.url));
  } finally {
    probe.disconnect();
  }
}
