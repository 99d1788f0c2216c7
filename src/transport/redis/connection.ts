import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { neededCommands, probeArgs } from './commands.js';
import { Keys } from './keys.js';
import { UsageError } from '../../errors.js';

export interface RedisConnectOptions {
  url: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/**
 * A Redis URL fit for a message: the credentials replaced, up to the last '@' before the host (a password may hold an
 * '@' or '/' a user did not encode).
 */
export function redactUrl(url: string): string {
  return url.replace(CREDENTIALS, '$1***@$3');
}

/** scheme://, credentials (up to the last '@'), host and the rest. */
const CREDENTIALS = /^([a-z]+:\/\/)(.*)@([^@]*)$/i;

/**
 * The user and password of a Redis URL, read up to the last '@' (a password from an environment variable, as compose
 * passes it, is often not URL-encoded: '@', '/', '#' and ':' in it are taken as written), and the URL without them.
 * Percent-encoded credentials are decoded as before.
 */
export function credentials(url: string): { bare: string; username?: string; password?: string } {
  const m = CREDENTIALS.exec(url);
  if (!m) return { bare: url };
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s; // a lone '%': written as is
    }
  };
  const colon = m[2].indexOf(':');
  const user = colon < 0 ? m[2] : m[2].slice(0, colon);
  return { bare: m[1] + m[3], username: user ? decode(user) : undefined, password: colon < 0 ? undefined : decode(m[2].slice(colon + 1)) };
}

/** ioredis options from a redis:// or rediss:// URL (user, password, db in the URL) plus TLS files. */
export function redisOptions(o: RedisConnectOptions): { url: string; options: RedisOptions } {
  const { bare, username, password } = credentials(o.url);
  let u: URL;
  try {
    u = new URL(bare);
  } catch {
    throw new UsageError(`--redis is not a URL: ${redactUrl(o.url)} (expected redis://[user:password@]host:port[/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--redis must start with redis:// or rediss:// (got ${u.protocol}//)`);
  const options: RedisOptions = {
    // BullMQ workers need blocking commands that never give up; reconnects are ioredis's job.
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 6), 5000),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
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
  return { url: bare, options };
}

export function createRedis(o: RedisConnectOptions): Redis {
  const { url, options } = redisOptions(o);
  return new Redis(url, options);
}

function explain(err: Error, url: string): string {
  const m = err.message;
  const where = redactUrl(url);
  if (/WRONGPASS|invalid username-password/i.test(m)) return `Redis at ${where} rejected the credentials (wrong user or password)`;
  if (/NOAUTH/i.test(m)) return `Redis at ${where} requires a password: put it in the URL (redis://:PASSWORD@host:port)`;
  if (/NOPERM/i.test(m)) return `Redis user lacks permission for a command mcp-index needs: ${m}`;
  if (/self[- ]signed|unable to verify|certificate/i.test(m)) return `TLS to ${where} failed: ${m} (pass the server's CA with --tls-ca FILE)`;
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|connect/i.test(m)) return `cannot reach Redis at ${where}: ${m}`;
  return `Redis at ${where}: ${m}`;
}

/**
 * A Redis error that no retry of a batch cures, as one line: what is wrong and the setting to change. Null for any
 * other error. Redis checks these before it runs a command, whether it comes from us or from a script.
 */
export function redisRefusal(message: string): string | null {
  // Redis's error codes with the words that follow them, so a file named OOM.py in a message does not match.
  const code = /\b(OOM) command not allowed|\b(NOPERM) |\b(READONLY) You can't write|\b(MISCONF) |\b(NOREPLICAS) /.exec(message)?.slice(1).find(Boolean);
  if (!code) return null;
  // Redis's own words, without the script id and line it adds when the command came from Lua.
  const said = message.replace(/^(ERR |ReplyError: )/, '').replace(/\.?\s*script: \w+, on @\w+:\d+\.?/, '').replace(/\.$/, '');
  switch (code) {
    case 'OOM':
      return `Redis is out of memory (${said}): raise its maxmemory, or free memory (\`mcp-index runs purge\` removes abandoned runs)`;
    case 'NOPERM':
      return `the Redis user lacks a permission (${said}): grant it with ACL SETUSER`;
    case 'READONLY':
      return `Redis refuses writes (${said}): point --redis at the primary, not a replica`;
    case 'MISCONF':
      return `Redis refuses writes because it cannot save to disk (${said}): fix its disk or persistence settings (stop-writes-on-bgsave-error)`;
    default:
      return `Redis refuses writes (${said}): it has fewer replicas than its min-replicas-to-write`;
  }
}

export interface PreflightResult {
  /** Redis refuses writes right now (out of memory, a read-only replica...), as one line; null when it takes them. */
  refusal: string | null;
  /** The refusal is for good: this Redis is a read-only replica. */
  replica: boolean;
}

/**
 * Connects once with no retries and checks the rights of every command the cluster uses (commands.ts), so a wrong
 * password, an unreachable host, a user without rights or TLS without a CA is one clear line instead of a reconnect
 * loop or a failure mid-run. Writes nothing: `status` must work against a full Redis.
 */
export async function preflight(o: RedisConnectOptions, ns: string): Promise<PreflightResult> {
  const { url, options } = redisOptions(o);
  // No ready check: it runs INFO, and for a user without that right ioredis prints its own warning on stderr.
  const probe = new Redis(url, {
    ...options,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    commandTimeout: 10_000,
  });
  // The cause (WRONGPASS, ECONNREFUSED, a TLS error) arrives as an 'error' event; connect() itself then only
  // rejects with "Connection is closed.". Keep the first one to report it below, once.
  let cause = null as Error | null;
  probe.on('error', (e: Error) => {
    cause ??= e;
  });
  let rights: Rights;
  try {
    await probe.connect();
    await probe.ping();
    rights = await checkRights(probe, ns);
  } catch (err) {
    // When the connection itself failed, a command only reports "Connection is closed." or "Stream isn't
    // writeable": the cause is the 'error' event, which may trail the command's rejection by a moment.
    if (!cause) await new Promise((r) => setTimeout(r, 50));
    throw new UsageError(explain(cause ?? (err as Error), o.url));
  } finally {
    probe.disconnect();
  }
  const user = options.username || 'default'; // parsed once, by redisOptions: `new URL` rejects a raw '/' or '#'
  if (rights.missing.length) {
    const grant = rights.missing.map((c) => `+${c}`).join(' ');
    throw new UsageError(`Redis user "${user}" lacks permissions mcp-index needs (NOPERM): ${rights.missing.join(', ')}; grant them: ACL SETUSER ${user} ${grant}`);
  }
  if (rights.keysDenied.length) {
    throw new UsageError(`Redis user "${user}" may not read and write keys mcp-index uses (NOPERM): ${rights.keysDenied.join(', ')}; grant them: ACL SETUSER ${user} ~${ns}:*`);
  }
  return { refusal: rights.refusal, replica: rights.replica };
}

/**
 * Whether Redis would take a write now, without writing: a SET queued inside MULTI is refused when Redis is out of
 * memory, a read-only replica or unable to persist, and the transaction is then discarded. One pipeline, so no
 * other command of the connection lands inside the transaction. Null when the write would be taken.
 */
export async function writeRefusal(r: Redis, ns: string): Promise<string | null> {
  const replies = (await r.pipeline().call('MULTI').call('SET', `${ns}:preflight:write`, '1').call('DISCARD').exec()) ?? [];
  const err = replies[1]?.[0];
  return err ? redisRefusal(err.message) : null;
}

interface Rights extends PreflightResult {
  missing: string[];
  /** Key patterns the user may not read or write. */
  keysDenied: string[];
}

/**
 * Queues every needed command inside MULTI, then DISCARDs: Redis checks a queued command's rights (command and keys)
 * and, after them, whether it would take a write (memory, replica), without running anything. EXEC itself cannot
 * be queued; an empty transaction runs nothing.
 */
async function checkRights(r: Redis, ns: string): Promise<Rights> {
  const reply = (p: Promise<unknown>) => p.then(() => 'OK', (e: Error) => e.message);
  const multi = await reply(r.call('MULTI'));
  if (/^NOPERM/.test(multi)) return { missing: ['multi'], keysDenied: [], refusal: null, replica: false };
  // The transaction commands themselves are checked by using them.
  const names = neededCommands().filter((c) => c !== 'multi' && c !== 'exec' && c !== 'discard');
  const replies = await Promise.all(
    names.map((n) => {
      const args = probeArgs(n, ns);
      return args ? reply(r.call(n.split('|')[0], ...args)) : Promise.resolve('OK');
    }),
  );
  // Every key family, read and written: an ACL may grant some of the namespace and not the rest.
  const families = new Keys(ns).families();
  const keyReplies = await Promise.all(families.map((f) => Promise.all([reply(r.call('GET', f.key)), reply(r.call('SET', f.key, '0'))])));
  const out: Rights = { missing: [], keysDenied: [], refusal: null, replica: false };
  if (/^NOPERM/.test(await reply(r.call('DISCARD')))) out.missing.push('discard');
  names.forEach((n, i) => {
    out.replica ||= /^READONLY/.test(replies[i]);
    if (!/^NOPERM/.test(replies[i])) out.refusal ??= redisRefusal(replies[i]);
    else if (!/keys/.test(replies[i])) out.missing.push(n);
  });
  families.forEach((f, i) => {
    if (keyReplies[i].some((x) => /^NOPERM.*keys?\b/.test(x))) out.keysDenied.push(f.pattern);
  });
  if (/^NOPERM/.test(await reply(r.call('MULTI').then(() => r.call('EXEC'))))) out.missing.push('exec');
  return out;
}
