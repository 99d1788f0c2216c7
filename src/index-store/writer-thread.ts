/**
 * The store's writer on a thread of its own (a big build): the thread that receives results only hands over
 * fragment files, and the SQLite work of merging them runs beside it. Calls arrive as messages and run in order;
 * between them, while the thread has time to spare, it adds the deferred search rows (idle.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IdleWork } from './idle.js';
import { BuildSession } from './session.js';
import type { WriterOptions } from './writer.js';

export interface WriterThreadData {
  path: string;
  opts: WriterOptions;
}

export type WriterCall = { id: number; method: keyof BuildSession; args: unknown[] };
export type WriterReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { message: string; stack?: string; code?: string } };

const port = parentPort!;
const { path, opts } = workerData as WriterThreadData;
let failure: unknown = null;
let session: BuildSession | null = null;
try {
  session = new BuildSession(path, opts);
} catch (err) {
  failure = err;
}
const idle = new IdleWork(
  () => session!.idleStep(),
  (err) => (failure ??= err),
);

const errorOf = (err: unknown) => ({ message: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack, code: (err as { code?: string })?.code });

// One call at a time, in arrival order, even while one awaits (the commit reads files for the content index).
let queue: Promise<void> = Promise.resolve();
port.on('message', (msg: WriterCall) => {
  queue = queue.then(() => handle(msg));
});

async function handle(msg: WriterCall): Promise<void> {
  let reply: WriterReply;
  try {
    if (failure) throw failure;
    const fn = session![msg.method] as (...a: unknown[]) => unknown;
    const value = await fn.apply(session, msg.args);
    reply = { id: msg.id, ok: true, value };
  } catch (err) {
    reply = { id: msg.id, ok: false, error: errorOf(err) };
  }
  if (msg.method === 'commit' || msg.method === 'abort') idle.stop();
  else idle.wake();
  port.postMessage(reply);
}
