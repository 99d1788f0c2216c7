import type cliProgress from 'cli-progress';
import { createRequire } from 'node:module';
import type { InFlight, PipelineEvent } from '../pipeline/events.js';
import { setLogAbove } from '../util/log.js';

export type ProgressMode = 'auto' | 'bars' | 'plain' | 'json' | 'none';

export interface Renderer {
  onEvent(e: PipelineEvent): void;
  /** Extra rows (cluster workers) shown under the bars / in plain lines. */
  setWorkers?(rows: string[]): void;
  stop(): void;
}

const mb = (b: number) => (b / 1e6).toFixed(1);
/** An ETA is replaced by how long nothing finished once this long (and three ETAs) passed without a finished batch. */
const STALE_ETA_S = 3;

/** Shared counters every renderer reads. */
class Tally {
  totalFiles = 0;
  totalBytes = 0;
  doneFiles = 0;
  doneBytes = 0;
  symbols = 0;
  errors = 0;
  phase = 'discover';
  started = performance.now();
  indexStarted = 0;
  /** When a batch last finished (or the index phase began). */
  lastDoneAt = 0;
  inFlight = new Map<number, InFlight>();
  workers: string[] = [];

  apply(e: PipelineEvent): void {
    switch (e.type) {
      case 'phase':
        this.phase = e.phase;
        if (e.phase === 'index') this.indexStarted = this.lastDoneAt = performance.now();
        break;
      case 'planned':
        this.totalFiles = e.files;
        this.totalBytes = e.bytes;
        break;
      case 'batch-start':
        this.inFlight.set(e.batch.slot, e.batch);
        break;
      case 'batch-done':
        this.lastDoneAt = performance.now();
        this.inFlight.delete(e.batch.slot);
        this.doneFiles += e.batch.files;
        this.doneBytes += e.batch.bytes;
        this.symbols += e.symbols;
        this.errors += e.errors;
        break;
      case 'batch-failed':
        this.inFlight.delete(e.batch.slot);
        if (e.action === 'file-error') {
          this.lastDoneAt = performance.now();
          this.doneFiles += e.batch.files;
          this.doneBytes += e.batch.bytes;
          this.errors += 1;
        }
        break;
    }
  }

  rate(): number {
    const secs = this.indexStarted ? (performance.now() - this.indexStarted) / 1000 : 0;
    return secs > 0 ? this.doneBytes / 1e6 / secs : 0;
  }

  eta(): string {
    const r = this.rate();
    if (r <= 0 || this.totalBytes === 0) return '?';
    const eta = Math.ceil((this.totalBytes - this.doneBytes) / 1e6 / r);
    // The average rate says "1s" for as long as the last batches are stuck (a lost worker's lease running out):
    // past the estimate by far, say what is known instead.
    const idle = (performance.now() - this.lastDoneAt) / 1000;
    if (this.doneBytes < this.totalBytes && idle > Math.max(STALE_ETA_S, 3 * eta)) return `? (no batch finished for ${Math.round(idle)}s)`;
    return `${eta}s`;
  }

  line(): string {
    const pct = this.totalBytes ? Math.floor((100 * this.doneBytes) / this.totalBytes) : 0;
    return `${this.phase}: ${this.doneFiles}/${this.totalFiles} files (${pct}%), ${mb(this.doneBytes)}/${mb(this.totalBytes)} MB, ${this.symbols} symbols, ${this.errors} file errors, ${this.rate().toFixed(1)} MB/s, ETA ${this.eta()}`;
  }
}

/** The line shown for a `stalled` event: what is wrong and what to do. */
function stallLine(e: Extract<PipelineEvent, { type: 'stalled' }>): string {
  const secs = Math.round(e.idleMs / 1000);
  const what = `${e.inFlight} batch${e.inFlight === 1 ? '' : 'es'} waiting`;
  if (e.workersAlive === null) return `warning: the cluster has not answered for ${secs}s (${what}): is Redis reachable?`;
  if (e.workersAlive === 0) return `warning: no worker is alive (${what} for ${secs}s): start one with \`mcp-index worker --redis URL\`, or pass --workers N`;
  return `warning: no worker has taken a batch for ${secs}s though ${e.workersAlive} ${e.workersAlive === 1 ? 'is' : 'are'} alive (${what}): check the workers' logs`;
}

/** The line shown when a run is interrupted. */
function interruptLine(e: Extract<PipelineEvent, { type: 'interrupt' }>): string {
  return e.kept
    ? `interrupted: ${e.inFlight} queued batches stay in Redis; the same command resumes the run`
    : `interrupted: finishing ${e.inFlight} in-flight batches (Ctrl-C again to quit now)`;
}

/** Plain lines for CI logs: one every `intervalSec`, plus one at each phase change. */
class PlainRenderer implements Renderer {
  private t = new Tally();
  private timer: NodeJS.Timeout;
  constructor(
    private out: NodeJS.WritableStream,
    intervalSec: number,
  ) {
    this.timer = setInterval(() => this.print(), intervalSec * 1000);
    this.timer.unref();
  }
  private print() {
    this.out.write(`mcp-index ${this.t.line()}\n`);
    for (const w of this.t.workers) this.out.write(`mcp-index   ${w}\n`);
  }
  onEvent(e: PipelineEvent) {
    this.t.apply(e);
    if (e.type === 'discovered') this.out.write(`mcp-index discovered ${e.files} files (${mb(e.bytes)} MB) via ${e.source}, ${e.skipped} skipped\n`);
    if (e.type === 'planned') this.out.write(`mcp-index planned ${e.batches} batches: ${e.files} files to parse, ${e.reused} unchanged\n`);
    if (e.type === 'interrupt') this.out.write(`mcp-index ${interruptLine(e)}\n`);
    if (e.type === 'stalled') this.out.write(`mcp-index ${stallLine(e)}\n`);
    if (e.type === 'batch-failed') this.out.write(`mcp-index batch ${e.batch.batchId} failed (${e.error}): ${e.action}\n`);
  }
  setWorkers(rows: string[]) {
    this.t.workers = rows;
  }
  stop() {
    clearInterval(this.timer);
  }
}

/** JSON lines for machines: every event as it happens. */
class JsonRenderer implements Renderer {
  constructor(private out: NodeJS.WritableStream) {}
  onEvent(e: PipelineEvent) {
    this.out.write(JSON.stringify({ ts: Date.now(), ...e }) + '\n');
  }
  setWorkers(rows: string[]) {
    this.out.write(JSON.stringify({ ts: Date.now(), type: 'workers', rows }) + '\n');
  }
  stop() {}
}

/** Live bars on a TTY: totals, then one row per busy thread, then one per cluster worker. */
class BarsRenderer implements Renderer {
  private t = new Tally();
  private multi: cliProgress.MultiBar;
  private main: cliProgress.SingleBar;
  private threadRows: cliProgress.SingleBar[] = [];
  private workerRows: cliProgress.SingleBar[] = [];
  private timer: NodeJS.Timeout;

  constructor(out: NodeJS.WritableStream, slots: number) {
    // Loaded only for bars: CI, --quiet and JSON progress never need it.
    const bars = createRequire(import.meta.url)('cli-progress') as typeof cliProgress;
    this.multi = new bars.MultiBar(
      { stream: out as NodeJS.WriteStream, hideCursor: true, clearOnComplete: false, autopadding: true, fps: 10, format: '{text}' },
      bars.Presets.shades_classic,
    );
    // With its values from the start: an empty payload would show the raw {files} template until the first render.
    this.main = this.multi.create(1, 0, this.payload(), {
      format: ' {bar} {percentage}% | {files} files | {mbs} MB | {symbols} symbols | {rate} MB/s | ETA {etaText} | {phase}',
    });
    for (let i = 0; i < slots; i++) this.threadRows.push(this.multi.create(1, 0, { text: `  thread ${i}: idle` }));
    setLogAbove((line) => this.multi.log(line)); // a "worker lost" warning must not tear the bars
    this.timer = setInterval(() => this.render(), 200);
  }

  private payload() {
    const t = this.t;
    return { files: `${t.doneFiles}/${t.totalFiles}`, mbs: `${mb(t.doneBytes)}/${mb(t.totalBytes)}`, symbols: t.symbols, rate: t.rate().toFixed(1), etaText: t.eta(), phase: t.phase };
  }

  private render() {
    const t = this.t;
    this.main.setTotal(Math.max(t.totalBytes, 1));
    this.main.update(t.doneBytes, this.payload());
    // Transports run batches in hand-out order, so the oldest in-flight ones are the running ones; the rest are queued.
    const running = [...t.inFlight.values()];
    this.threadRows.forEach((row, i) => {
      const b = running[i];
      row.update(0, { text: b ? `  thread ${i}: batch ${b.batchId.slice(0, 8)} ${b.files} files ${(b.bytes / 1024).toFixed(0)} KiB  ${b.firstPath}` : `  thread ${i}: idle` });
    });
    t.workers.forEach((w, i) => {
      this.workerRows[i] ??= this.multi.create(1, 0, { text: '' });
      this.workerRows[i].update(0, { text: `  ${w}` });
    });
  }

  onEvent(e: PipelineEvent) {
    this.t.apply(e);
    // Printed above the bars, which are redrawn below (a raw write would tear them).
    if (e.type === 'interrupt') this.multi.log(`mcp-index ${interruptLine(e)}\n`);
    if (e.type === 'stalled') this.multi.log(`mcp-index ${stallLine(e)}\n`);
  }

  setWorkers(rows: string[]) {
    this.t.workers = rows;
  }

  stop() {
    clearInterval(this.timer);
    this.render();
    this.multi.stop();
    setLogAbove(null);
  }
}

export function createRenderer(mode: ProgressMode, quiet: boolean, slots: number, intervalSec: number, out: NodeJS.WriteStream = process.stderr): Renderer {
  if (quiet || mode === 'none') return { onEvent() {}, stop() {} };
  const resolved = mode === 'auto' ? (out.isTTY && !process.env.CI ? 'bars' : 'plain') : mode;
  if (resolved === 'json') return new JsonRenderer(out);
  if (resolved === 'bars') return new BarsRenderer(out, slots);
  return new PlainRenderer(out, intervalSec);
}
