/**
 * Deferred work done while a thread has time to spare. Over the last WINDOW_MS, if the thread's own work (not
 * counting these steps) kept it busy less than SHARE of the time, steps run back to back; otherwise they wait. A
 * merge that keeps up with many workers therefore leaves the work for the end instead of making them wait, and one
 * that waits for its workers does it meanwhile.
 */
const POLL_MS = 5;
const WINDOW_MS = 200;
const SHARE = 0.5;

export class IdleWork {
  private scheduled = false;
  private stopped = false;
  private mark = performance.eventLoopUtilization();
  private stepsMs = 0;

  /** `step` does one small piece and returns false when nothing is left; it throws only on a real failure. */
  constructor(
    private readonly step: () => boolean,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** There may be work again (called after each piece of real work). */
  wake(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setTimeout(this.tick, POLL_MS).unref();
  }

  stop(): void {
    this.stopped = true;
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    if (this.stopped) return;
    const elu = performance.eventLoopUtilization(this.mark);
    const span = elu.active + elu.idle;
    const own = Math.max(0, elu.active - this.stepsMs);
    if (span >= WINDOW_MS) {
      this.mark = performance.eventLoopUtilization();
      this.stepsMs = 0;
    }
    this.scheduled = true;
    if (span < POLL_MS || own > SHARE * span) {
      setTimeout(this.tick, POLL_MS).unref();
      return;
    }
    const t0 = performance.now();
    let more = false;
    try {
      more = this.step();
    } catch (err) {
      this.stopped = true;
      this.onError(err);
    }
    this.stepsMs += performance.now() - t0;
    if (more && !this.stopped) setImmediate(this.tick);
    else this.scheduled = false;
  };
}
