/** Messages between the `up` supervisor and its worker children (over the Node IPC channel). */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

export type ChildState = 'starting' | 'ready' | 'draining' | 'stopped';
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export type ToParent =
  /** `requested`: draining because it was asked through Redis (the dashboard), so it is not to be restarted. */
  | { mcpIndex: 1; type: 'state'; state: ChildState; id?: string; requested?: boolean }
  | { mcpIndex: 1; type: 'metrics'; reqId: number; metrics: MetricsJson };

export type ToChild = { mcpIndex: 1; type: 'metrics?'; reqId: number };

export function isMessage<T extends { mcpIndex: 1 }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && (m as { mcpIndex?: unknown }).mcpIndex === 1;
}

/** Sends to the parent if there is an IPC channel; resolves when handed to the channel (or at once without one). */
export function sendToParent(m: ToParent): Promise<void> {
  if (!process.send || !process.connected) return Promise.resolve();
  return new Promise((resolve) => {
    try {
      process.send!(m, undefined, {}, () => resolve());
    } catch {
      resolve();
    }
  });
}
