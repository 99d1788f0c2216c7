/**
 * Helpers for the operations tests: scraping the ops HTTP endpoints of real processes and reading Prometheus text.
 * Processes, the CLI snapshot and the trees come from the cluster tests' helpers; Redis from test/helpers.
 */
import { freePort } from '../helpers/redis-server.js';

export { freePort };

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition -> samples (comments skipped). */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `labels` (null when there is no such series). */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | null {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length ? hits.reduce((n, s) => n + s.value, 0) : null;
}

export interface HttpReply {
  status: number;
  body: string;
}

/** GET http://127.0.0.1:port/path; null when nothing answers (not listening yet, or gone). */
export async function get(port: number, path: string, timeoutMs = 20_000): Promise<HttpReply | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, body: await r.text() };
  } catch {
    return null;
  }
}

export async function scrape(port: number): Promise<Sample[] | null> {
  const r = await get(port, '/metrics');
  return r && r.status === 200 ? parseProm(r.body) : null;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `f` returns a value other than undefined/false; fails with `what` after `timeoutMs`. */
export async function poll<T>(f: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 300_000, everyMs = 200): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Whether a process id is alive (signal 0). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
