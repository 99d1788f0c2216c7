import type { GrammarGap } from './index.js';

/**
 * The text an error is judged by: its line and the `after - 1` lines after it; `wide`, also the three lines before
 * it (an error can surface a few lines below the construct that caused it). Capped, so a minified line stays cheap.
 */
function errorLines(src: string, start: number, wide: boolean, after: number): string {
  let from = src.lastIndexOf('\n', start - 1) + 1;
  for (let k = 0; wide && k < 3 && from > 0; k++) from = src.lastIndexOf('\n', from - 2) + 1;
  let to = start;
  for (let k = 0; k < after && to < src.length; k++) {
    const nl = src.indexOf('\n', to);
    to = nl < 0 ? src.length : nl + 1;
  }
  return src.slice(Math.max(from, start - 1200), Math.min(to, start + 1200));
}

/** A grammar gap recognised by a pattern in the lines around the error (see `errorLines`). */
export function lineGap(name: string, re: RegExp, after: number): GrammarGap {
  return { name, test: (src, start, _end, wide) => re.test(errorLines(src, start, wide, after)) };
}
