/**
 * The progress bars on a (simulated) terminal: what cli-progress draws first already has the run's values, never the
 * raw `{files}` template.
 */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { createRenderer } from '../../src/ui/progress.js';
import { createLogger } from '../../src/util/log.js';

/** A stream that keeps what is written to it (`text()`); `tty` makes it look like a terminal to cli-progress. */
function capture(tty: boolean): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  const term = { isTTY: true, columns: 160, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true };
  return { out: (tty ? Object.assign(w, term) : w) as unknown as NodeJS.WriteStream, text: () => text };
}

it('the first frame of the bars shows values, not the {placeholders} of the template', async () => {
  const tty = capture(true);
  const r = createRenderer('bars', false, 1, 5, tty.out);
  await sleep(120); // cli-progress's own first frames (10 fps), before the renderer's first update (200 ms)
  const first = tty.text();
  r.stop();
  expect(first).toMatch(/0\/0 files/);
  expect(first + tty.text()).not.toMatch(/\{files\}|\{mbs\}|\{phase\}|\{etaText\}/);
});

it('"ETA 1s" does not stand still while the last batch is stuck: it says how long nothing has finished', async () => {
  const plain = capture(false);
  const r = createRenderer('plain', false, 2, 0.2, plain.out);
  const batch = (slot: number, bytes: number) => ({ slot, batchId: `b${slot}`, files: 1, bytes, firstPath: `f${slot}.py` });
  r.onEvent({ type: 'planned', runId: 'r', batches: 2, files: 2, bytes: 1_000_000, reused: 0 });
  r.onEvent({ type: 'phase', phase: 'index' });
  r.onEvent({ type: 'batch-start', batch: batch(0, 960_000) });
  r.onEvent({ type: 'batch-start', batch: batch(1, 40_000) });
  r.onEvent({ type: 'batch-done', batch: batch(0, 960_000), symbols: 1, errors: 0, fileErrors: [], worker: 'w', durationMs: 1 });
  // Batch 1 is held by a worker that is gone: 96% done, and nothing more finishes.
  await sleep(3600);
  r.stop();
  const last = plain.text().trim().split('\n').pop()!;
  expect(last).toMatch(/\(96%\)/);
  expect(last).toMatch(/ETA \? \(no batch finished for \d+s\)$/);
}, 20_000);

it('a log line while the bars are drawn goes above them, not raw onto stderr (it would tear them)', async () => {
  const tty = capture(true);
  const r = createRenderer('bars', false, 1, 5, tty.out);
  const log = createLogger('warn', 'mcp-index', 'pretty');
  log.warn({ worker: 'w-1' }, 'worker lost: its heartbeat stopped');
  await sleep(300);
  r.stop();
  expect(tty.text()).toMatch(/worker lost: its heartbeat stopped/);
});
