/**
 * A real `redis-server` for tests: its own temp folder and free port, AOF with fsync on every write (so a kill -9
 * loses nothing and `restart()` reloads the same data), no eviction (blobs and results must never vanish), and
 * optionally a password, ACL users and TLS (certificates made with the `openssl` CLI). Nothing here is mocked.
 *
 * When `redis-server` is missing: under CI=true `redisAvailability()` throws (the suite must fail, not skip);
 * elsewhere it returns the reason, and suites skip with that reason in a test name.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';

export type Availability = { ok: true; reason: null } | { ok: false; reason: string };

function probe(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return `${cmd} not found on PATH (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
  if (r.status !== 0) return `${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`;
  return null;
}

/** Whether tests can start a redis-server (and, with `tls`, make certificates). Throws under CI=true when not. */
export function redisAvailability(opts: { tls?: boolean } = {}): Availability {
  const reason = probe('redis-server', ['--version']) ?? (opts.tls ? probe('openssl', ['version']) : null);
  if (!reason) return { ok: true, reason: null };
  if (process.env.CI === 'true') throw new Error(`CI=true and the Redis tests cannot run: ${reason}`);
  return { ok: false, reason };
}

/** `describe`, or the same block reported as skipped with the reason when what it needs (`avail`) is missing. */
export function describeWithRedis(avail: Availability, title: string, body: () => void): void {
  describe.skipIf(!avail.ok)(avail.ok ? title : `${title} (skipped: ${avail.reason})`, body);
}

/** A fresh namespace per test, so every test gets an empty queue (BullMQ's own tests do the same). */
export function freshNamespace(tag = 't'): string {
  return `${tag}-${randomBytes(5).toString('hex')}`;
}

/** A port nobody listens on right now (the kernel's pick, released at once). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface AclUser {
  name: string;
  password: string;
  /** ACL rules after `on >password`, e.g. '~* &* +@all' or '~* -@all +ping'. */
  rules: string;
}

export interface RedisServerOptions {
  /** Password of the default user (`requirepass`). */
  password?: string;
  /** Extra ACL users, written to an --aclfile (so they survive `restart()`). */
  users?: AclUser[];
  /** Serve TLS only (plain port disabled); certificates are generated into the temp folder. */
  tls?: boolean;
  /** Addresses to listen on (default 127.0.0.1 and, if present, ::1). */
  bind?: string[];
  port?: number;
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
}

/** A throwaway CA and a server certificate for localhost / 127.0.0.1 signed by it. */
export function makeCertificates(dir: string): TlsFiles {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=mcp-index test CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\nextendedKeyUsage = serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.crt'], dir);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export class RedisServer {
  readonly dir: string;
  readonly tlsFiles: TlsFiles | null;
  private proc: ChildProcess | null = null;
  private log = '';

  private constructor(
    readonly port: number,
    private readonly opts: RedisServerOptions,
  ) {
    this.dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcp-index-redis-')));
    this.tlsFiles = opts.tls ? makeCertificates(this.dir) : null;
    if (opts.users?.length) {
      const def = opts.password ? `user default on >${opts.password} ~* &* +@all` : 'user default on nopass ~* &* +@all';
      const lines = [def, ...opts.users.map((u) => `user ${u.name} on >${u.password} ${u.rules}`)];
      writeFileSync(join(this.dir, 'users.acl'), lines.join('\n') + '\n');
    }
  }

  /** Starts a server and waits until it accepts connections. */
  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const avail = redisAvailability({ tls: opts.tls });
    if (!avail.ok) throw new Error(`cannot start redis-server: ${avail.reason}`);
    const port = opts.port ?? (await freePort(opts.bind?.[0] ?? '127.0.0.1'));
    const s = new RedisServer(port, opts);
    await s.launch();
    return s;
  }

  /** Host to put in URLs: TLS needs the certificate's name; plain uses the first bound address. */
  get host(): string {
    if (this.opts.tls) return 'localhost';
    return this.opts.bind?.[0] ?? '127.0.0.1';
  }

  /** redis:// (or rediss://) URL; credentials default to the default user's password, if any. */
  url(auth: { user?: string; password?: string; host?: string } = {}): string {
    const password = auth.password ?? (auth.user ? undefined : this.opts.password);
    const cred = auth.user || password ? `${encodeURIComponent(auth.user ?? '')}${password ? `:${encodeURIComponent(password)}` : ''}@` : '';
    return `${this.opts.tls ? 'rediss' : 'redis'}://${cred}${auth.host ?? this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The server's own log (stdout) since the last (re)start. */
  output(): string {
    return this.log;
  }

  private args(): string[] {
    const a = [
      '--dir', this.dir,
      '--appendonly', 'yes',
      '--appendfsync', 'always',
      '--maxmemory-policy', 'noeviction',
      '--save', '',
      '--daemonize', 'no',
      '--logfile', '',
      '--bind', ...(this.opts.bind ?? ['127.0.0.1', '-::1']),
    ];
    if (!this.opts.password || this.opts.users?.length) a.push('--protected-mode', 'no');
    if (this.opts.password && !this.opts.users?.length) a.push('--requirepass', this.opts.password);
    if (this.opts.users?.length) a.push('--aclfile', join(this.dir, 'users.acl'));
    if (this.tlsFiles) {
      a.push(
        '--port', '0',
        '--tls-port', String(this.port),
        '--tls-cert-file', this.tlsFiles.cert,
        '--tls-key-file', this.tlsFiles.key,
        '--tls-ca-cert-file', this.tlsFiles.ca,
        '--tls-auth-clients', 'no',
      );
    } else {
      a.push('--port', String(this.port));
    }
    return a;
  }

  private async launch(): Promise<void> {
    this.log = '';
    const proc = spawn('redis-server', this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`redis-server did not become ready within 60 s:\n${this.log}`));
      }, 60_000);
      const onData = (d: Buffer) => {
        this.log += d.toString('utf8');
        if (/Ready to accept connections/.test(this.log)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code ?? sig}) before it was ready:\n${this.log}`));
      });
    });
  }

  /** Kills the server (SIGKILL by default: with appendfsync always nothing acknowledged is lost) and waits. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }

  /** Starts the server again on the same port and folder (stopping it first with SIGTERM if it still runs): it
   * reloads its AOF (and ACL file). After `kill('SIGKILL')` this is the "Redis came back" step. */
  async restart(): Promise<void> {
    await this.kill('SIGTERM');
    // The port may linger a moment after the old process; retry a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.launch();
        return;
      } catch (err) {
        if (attempt >= 10 || !/Address already in use|bind/i.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Reads a file from the server's folder (e.g. the CA for --tls-ca). */
  read(name: string): string {
    return readFileSync(join(this.dir, name), 'utf8');
  }
}
