/**
 * Lexical scopes from document order alone, and the one depth guard every extractor shares.
 *
 * Extractors visit nodes in pre-order (as `descendantsOfType` lists them). A frame is a named container with its
 * [start, end) offsets; `at(offset)` closes the frames that ended before `offset`, so finding the scope costs no
 * parent walks in the native tree. Frames found ahead of the walk (class members read from their class body) wait
 * in `later` until the walk reaches them.
 */

/** Named containers nested deeper than this make the file `too-deep`: qualified names grow with the square of it. */
export const MAX_DEPTH = 1000;

/** Raised by the depth guard; the worker records the file as `too-deep`. */
export class TooDeepError extends Error {
  constructor(public readonly depth: number) {
    super(`nesting deeper than ${depth} levels`);
    this.name = 'TooDeepError';
  }
}

export interface Frame<K> {
  start: number;
  end: number;
  /** Qualified name of the container; null for the file itself. */
  qualified: string | null;
  kind: K;
}

export class ScopeStack<K, F extends Frame<K> = Frame<K>> {
  private readonly open: F[] = [];
  private readonly pending: F[] = [];
  private pendingAt = 0;

  /** `top` is the file: open everywhere. */
  constructor(private readonly top: F) {}

  /** The innermost frame open at `offset`. Offsets must not go backwards between calls. */
  at(offset: number): F {
    const open = this.open;
    for (;;) {
      while (open.length && open[open.length - 1].end <= offset) open.pop();
      const p = this.pending;
      if (this.pendingAt < p.length && p[this.pendingAt].start <= offset) {
        const f = p[this.pendingAt++];
        if (f.end > offset) this.push(f);
        continue;
      }
      return open.length ? open[open.length - 1] : this.top;
    }
  }

  /** Opens a frame at the walk's position. */
  push(frame: F): void {
    if (this.open.length >= MAX_DEPTH) throw new TooDeepError(MAX_DEPTH);
    this.open.push(frame);
  }

  /** A frame that starts ahead of the walk: opened when `at` reaches its start. */
  later(frame: F): void {
    const p = this.pending;
    let i = p.length;
    while (i > this.pendingAt && p[i - 1].start > frame.start) i--;
    p.splice(i, 0, frame);
  }

  /** The frames open right now, outermost first (after the last `at`). */
  get frames(): readonly F[] {
    return this.open;
  }
}
