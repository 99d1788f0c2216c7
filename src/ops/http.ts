/**
 * The one small HTTP server of every long-running process: /healthz (liveness), /readyz (readiness, 503 with the
 * reason), /metrics (Prometheus text) and optionally /status (JSON). node:http only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { UsageError } from '../errors.js';

export interface Readiness {
  ready: boolean;
  /** Why not ready (or what is up, when ready): one line. */
  reason: string;
}

export interface OpsServerOptions {
  port: number;
  /** Address to listen on (default: all interfaces, so a scraper in another container reaches it). */
  host?: string;
  metrics: () => Promise<{ contentType: string; body: string }>;
  readiness: () => Readiness | Promise<Readiness>;
  status?: () => unknown | Promise<unknown>;
  log?: Logger;
}

export interface OpsServer {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

function send(res: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
    try {
      switch (path) {
        case '/healthz':
        case '/livez':
          return send(res, 200, 'ok\n');
        case '/readyz': {
          const r = await o.readiness();
          return send(res, r.ready ? 200 : 503, `${r.ready ? 'ready' : 'not ready'}: ${r.reason}\n`);
        }
        case '/metrics': {
          const m = await o.metrics();
          return send(res, 200, m.body, m.contentType);
        }
        case '/status':
          if (o.status) return send(res, 200, JSON.stringify(await o.status()) + '\n', 'application/json');
          break;
        case '/':
          return send(res, 200, 'mcp-index: /healthz /readyz /metrics' + (o.status ? ' /status' : '') + '\n');
      }
      send(res, 404, 'not found\n');
    } catch (err) {
      o.log?.warn({ err: (err as Error).message, path }, 'ops endpoint failed');
      if (!res.headersSent) send(res, 500, `error: ${(err as Error).message}\n`);
      else res.destroy();
    }
  };
  const server = createServer((req, res) => void handle(req, res));
  // Scrapers keep connections alive; close() must not wait for them.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot serve metrics on ${o.host ?? '*'}:${o.port}: ${err.code === 'EADDRINUSE' ? 'port already in use' : err.message}`);
  });
  server.unref(); // the process's own work decides when it ends, not a scraper
  const port = (server.address() as AddressInfo).port;
  o.log?.info({ port, host: o.host ?? '*' }, 'serving /healthz /readyz /metrics');
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
