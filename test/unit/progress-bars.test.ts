/**
 * The progress bars on a (simulated) terminal: what cli-progress draws first already has the run's values, never the
 * raw `{files}` template.
 */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { createRenderer } from '../../src/ui/progress.js';

it('the first frame of the bars shows values, not the {placeholders} of the template', async () => {
  let drawn = '';
  const tty = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        drawn += String(chunk);
        done();
      },
    }),
    { isTTY: true, columns: 160, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true },
  ) as unknown as NodeJS.WriteStream;
  const r = createRenderer('bars', false, 1, 5, tty);
  await sleep(120); // cli-progress's own first frames (10 fps), before the renderer's first update (200 ms)
  const first = drawn;
  r.stop();
  expect(first).toMatch(/0\/0 files/);
  expect(first + drawn).not.toMatch(/\{files\}|\{mbs\}|\{phase\}|\{etaText\}/);
});
