/**
 * A simulated cluster worker for the fan-in replay (replay.ts): a real BullMQ worker on the real queue that answers
 * each batch with its precomputed result after `--worker-ms`, as a worker thread with a core of its own would, but
 * without parsing. `--concurrency` batches at a time stand for that many worker threads.
 *
 *   node dist/bench/replay-worker.js --redis URL --namespace NS --concurrency C --worker-ms W --results DIR
 *
 * DIR holds one file per batch, `<batchId>.bin`: the encoded result exactly as a real worker stores it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Worker } from 'bullmq';
import { createRedis } from '../transport/redis/connection.js';
import { Keys } from '../transport/redis/keys.js';

const { values } = parseArgs({
  options: {
    redis: { type: 'string' },
    namespace: { type: 'string' },
    concurrency: { type: 'string' },
    'worker-ms': { type: 'string' },
    results: { type: 'string' },
  },
});
const url = values.redis!;
const keys = new Keys(values.namespace!);
const workerMs = Number(values['worker-ms']);
const results = new Map<string, Buffer>();
for (const f of readdirSync(values.results!)) if (f.endsWith('.bin')) results.set(f.slice(0, -4), readFileSync(join(values.results!, f)));

const redis = createRedis({ url });
const worker = new Worker(
  keys.queue,
  async (job) => {
    const { runId, batchId } = job.data as { runId: string; batchId: string };
    const result = results.get(batchId);
    if (!result) throw new Error(`no precomputed result for batch ${batchId}`);
    await sleep(workerMs);
    await redis.set(keys.result(runId, batchId), result, 'EX', 3600);
    return null;
  },
  { connection: createRedis({ url }), prefix: keys.prefix, concurrency: Number(values.concurrency), lockDuration: 60_000, autorun: true },
);
worker.on('error', (err) => process.stderr.write(`replay worker: ${err.message}\n`));
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void worker.close(true).finally(() => {
    redis.disconnect();
    process.exit(0);
  });
});
