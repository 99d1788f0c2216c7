/**
 * `mcp-index dashboard` (and `up --dashboard-port`): one page, its assets and a small API, from this process only
 * (nothing from a CDN: it works offline).
 *
 *   GET  /                       the page           GET /api/state    the snapshot and the throughput history (JSON)
 *   GET  /assets/<file>          its script, styles GET /api/events   the same, live (server-sent events, one a poll)
 *   POST /api/queue/pause | /api/queue/resume | /api/queue/retry-failed
 *   POST /api/workers/<id>/drain | /api/runs/<id>/cancel
 *   GET  /healthz                (no token needed: says nothing about the cluster)
 *
 * Access: bound to a loopback address, it answers only requests addressed to one (a page elsewhere cannot reach it
 * through DNS rebinding). With a token, every request must carry it: `Authorization: Bearer T`, or `?token=T` once,
 * which sets an HttpOnly SameSite=Strict cookie and redirects to the bare URL. Actions are POSTs with a JSON body,
 * which a page of another origin cannot send without a CORS preflight that this server never grants.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { UsageError } from '../../errors.js';
import type { RedisConnectOptions } from '../../transport/redis/connection.js';
import { Keys } from '../../transport/redis/keys.js';
import { cancelRun, retryFailedJobs } from '../../transport/redis/runs.js';
import { requestDrain } from '../heartbeats.js';
import { opsQueue, opsRedis } from '../redis.js';
import { ClusterWatch, type Snapshot, type ThroughputPoint } from './state.js';

export interface DashboardOptions {
  redis: RedisConnectOptions;
  namespace: string;
  port: number;
  /** Default 127.0.0.1. Anything but a loopback address needs a token. */
  host?: string;
  token?: string;
  log: Logger;
  /** Between two polls of Redis (default 1000 ms). */
  intervalMs?: number;
}

export interface Dashboard {
  readonly port: number;
  /** The page's address (with the token, if there is one: what an operator opens). */
  readonly url: string;
  readonly watch: ClusterWatch;
  close(): Promise<void>;
}

/** The page runs its own scripts only, and talks to this server only. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Bytes of events a page may leave unread (a minute of snapshots or so). */
const MAX_BACKLOG = 4 * 1024 * 1024;

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** One line for a bad --host / --token pair; null when they are fine. */
export function checkDashboardAccess(host: string, token: string | undefined): string | null {
  if (token !== undefined && token.length < 8) return 'the dashboard token must be at least 8 characters';
  if (!isLoopback(host) && !token) return `serving the dashboard on ${host} (not a loopback address) needs a token: pass --token (or MCP_INDEX_TOKEN), or keep the default --host 127.0.0.1`;
  return null;
}

const PAGE_DIR = fileURLToPath(new URL('../../../src/ops/dashboard/page/', import.meta.url));
const require = createRequire(import.meta.url);

interface Asset {
  type: string;
  body: Buffer;
}

/** The page and its assets, read once at start: a missing file is an error now, not a broken page later. */
function loadAssets(): Map<string, Asset> {
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  return new Map<string, Asset>([
    ['/', { type: 'text/html; charset=utf-8', body: readFileSync(PAGE_DIR + 'index.html') }],
    ['/assets/app.js', { type: js, body: readFileSync(PAGE_DIR + 'app.js') }],
    ['/assets/app.css', { type: css, body: readFileSync(PAGE_DIR + 'app.css') }],
    ['/assets/uplot.js', { type: js, body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) }],
    ['/assets/uplot.css', { type: css, body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) }],
  ]);
}

function send(res: ServerResponse, code: number, body: string | Buffer, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(body);
}

const json = (res: ServerResponse, code: number, v: unknown) => send(res, code, JSON.stringify(v), 'application/json');

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

/** The host part of a Host header (`[::1]:8080` -> `::1`). */
function hostOf(header: string | undefined): string {
  const h = (header ?? '').trim();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  return h.split(':')[0];
}

/** Whether a browser's Origin header (if any) names this server. */
function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (!origin) return true; // not a browser, or a same-origin GET
  try {
    return new URL(origin).host === host;
  } catch {
    return false; // "null": a sandboxed frame or a file
  }
}

async function readBody(req: IncomingMessage, max = 16 * 1024): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > max) throw new Error('request body too large');
  }
  return body;
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const host = o.host ?? '127.0.0.1';
  const problem = checkDashboardAccess(host, o.token);
  if (problem) throw new UsageError(problem);
  const assets = loadAssets();
  const keys = new Keys(o.namespace);
  // Reads that fail within a second while Redis is away: the page says so instead of freezing.
  const redis: Redis = opsRedis(o.redis);
  const shared = await opsQueue(redis, o.namespace);
  const { queue } = shared;
  const watch = new ClusterWatch(redis, queue, keys, o.intervalMs ?? 1000);
  const streams = new Set<ServerResponse>();
  let cookieName = 'mcp_index_token';
  const log = o.log;

  const sse = (res: ServerResponse, event: string, data: unknown) => {
    // A page that stopped reading (a frozen tab, a dead link) is dropped rather than buffered without end.
    if (res.writableLength > MAX_BACKLOG) return void res.destroy();
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  watch.subscribe((snapshot: Snapshot, point: ThroughputPoint) => {
    for (const res of streams) sse(res, 'state', { snapshot, point });
  });

  /** Whether the request may go on; when not, the answer (a refusal, or the token's redirect) has been sent. */
  const admitted = (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (!o.token) {
      // No token: only requests addressed to this machine by a loopback name (DNS rebinding sends another name).
      const name = hostOf(req.headers.host);
      if (!(isLoopback(name) || name === host)) {
        send(res, 403, `forbidden: this dashboard answers requests addressed to ${host} only\n`);
        return false;
      }
      return true;
    }
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7) : (url.searchParams.get('token') ?? cookie(req, cookieName));
    if (given !== undefined && sameSecret(given, o.token)) {
      if (url.searchParams.has('token') && req.method === 'GET' && url.pathname === '/') {
        // Keep the token out of the address bar and history: a cookie carries it from now on.
        send(res, 303, '', 'text/plain', {
          location: '/',
          'set-cookie': `${cookieName}=${encodeURIComponent(o.token)}; HttpOnly; SameSite=Strict; Path=/`,
        });
        return false;
      }
      return true;
    }
    log.warn({ path: url.pathname, remote: req.socket.remoteAddress }, 'dashboard request without a valid token');
    send(res, 401, 'unauthorized: this dashboard needs its token (open it as /?token=TOKEN, or send Authorization: Bearer TOKEN)\n', 'text/plain; charset=utf-8', {
      'www-authenticate': 'Bearer realm="mcp-index dashboard"',
    });
    return false;
  };

  /** The actions, each through the code the CLI and the transport use. */
  const act = async (path: string, who: Record<string, unknown>): Promise<{ code: number; body: unknown }> => {
    const m = /^\/api\/(?:(queue)\/(pause|resume|retry-failed)|(workers|runs)\/([^/]+)\/(drain|cancel))$/.exec(path);
    if (!m) return { code: 404, body: { error: 'no such action' } };
    if (m[1] === 'queue') {
      if (m[2] === 'pause') {
        await queue.pause(); // BullMQ's global pause: workers finish what they hold and take nothing new
        log.info(who, 'dashboard: queue paused');
        return { code: 200, body: { paused: true } };
      }
      if (m[2] === 'resume') {
        await queue.resume();
        log.info(who, 'dashboard: queue resumed');
        return { code: 200, body: { paused: false } };
      }
      const r = await retryFailedJobs(redis, queue, keys);
      log.info({ ...who, ...r }, 'dashboard: failed jobs retried');
      return { code: 200, body: r };
    }
    const id = decodeURIComponent(m[4]);
    if (m[3] === 'workers' && m[5] === 'drain') {
      if (!(await requestDrain(redis, keys, id))) return { code: 404, body: { error: `no live worker ${id}` } };
      log.info({ ...who, worker: id }, 'dashboard: worker asked to drain');
      return { code: 200, body: { worker: id, drain: 'requested' } };
    }
    if (m[3] === 'runs' && m[5] === 'cancel') {
      if (!/^[0-9a-f]{16}$/.test(id)) return { code: 400, body: { error: `not a run id: ${id}` } };
      const r = await cancelRun(redis, queue, keys, id, 'from the dashboard');
      if (!r.found) return { code: 404, body: { error: `no run ${id}` } };
      log.info({ ...who, runId: id, ...r }, 'dashboard: run cancelled');
      return { code: 200, body: r };
    }
    return { code: 404, body: { error: 'no such action' } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (!admitted(req, res, url)) return;
    if (req.method === 'POST') {
      // A JSON body (a CORS preflight for any other origin) and, if the browser says, this origin.
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '') || !sameOrigin(req.headers.origin, req.headers.host)) {
        return json(res, 403, { error: 'actions are POSTs with a JSON body, from this page' });
      }
      await readBody(req);
      const who = { remote: req.socket.remoteAddress, action: path };
      const r = await act(path, who).catch((err: Error) => {
        log.error({ ...who, err: err.message }, 'dashboard: action failed');
        return { code: 502, body: { error: err.message } };
      });
      json(res, r.code, r.body);
      void watch.poll(); // every page sees the effect now, not at the next tick
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    if (path === '/api/state') return json(res, 200, { snapshot: watch.latest, history: watch.history() });
    if (path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write('retry: 2000\n\n');
      sse(res, 'hello', { snapshot: watch.latest, history: watch.history(), token: !!o.token });
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    const asset = assets.get(path);
    if (asset) return send(res, 200, req.method === 'HEAD' ? '' : asset.body, asset.type, path === '/' ? { 'content-security-policy': CSP } : {});
    send(res, 404, 'not found\n');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      log.warn({ err: err.message, path: req.url }, 'dashboard request failed');
      if (!res.headersSent) send(res, 500, `error: ${err.message}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  const close = async () => {
    await watch.stop();
    for (const res of streams) res.end();
    streams.clear();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await shared.close().catch(() => {});
    redis.disconnect();
  };
  try {
    await watch.start();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await close();
    const e = err as NodeJS.ErrnoException;
    if (e.code) throw new UsageError(`cannot serve the dashboard on ${host}:${o.port}: ${e.code === 'EADDRINUSE' ? 'port already in use' : e.message}`);
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  cookieName = `mcp_index_token_${port}`; // cookies ignore ports: two dashboards on one host keep theirs apart
  const shown = isIP(host) === 6 ? `[${host}]` : host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${shown}:${port}/${o.token ? `?token=${encodeURIComponent(o.token)}` : ''}`;
  log.info({ port, host, namespace: o.namespace, token: !!o.token }, 'dashboard serving');
  return { port, url, watch, close };
}
