/**
 * LocalTransport (the Piscina pool) with 2 threads, running the built worker (dist/worker/thread.js: build first).
 *
 * Concurrency is shown without timing: each barrier task opens a file held by a fanotify gate, which blocks its thread
 * in open() until this test lets it through; when the gate reports both tasks' opens, both are executing at once. The same trick shows that a third
 * task does not start while two are running (capacity 2), and that the pool recovers after a rejected task.
 */
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type FileRef, type JobRequest, type Language } from '../../src/protocol/types.js';
import { LocalTransport } from '../../src/transport/local.js';
import type { BatchResult } from '../../src/transport/types.js';
import { handleJob } from '../../src/worker/handle-job.js';
import { batchRows, expectedRows } from '../helpers/fragment.js';

const sha1 = (b: string | Uint8Array) => createHash('sha1').update(b).digest('hex');
const MIXED = join(import.meta.dirname, '../../fixtures/mixed');
const LIMITS = { maxFileBytes: 16 << 20, parseTimeoutMs: 10_000 };
/** The batch's file rows, read from the fragment the pool thread wrote. */
const fileRows = (r: BatchResult) => batchRows(r.fragments).map((f) => f.file);

/** Only a failure deadline (so a broken pool fails instead of hanging), never a performance threshold. */
const DEADLINE_MS = 60_000;

let root: string;
let transport: LocalTransport;
let gateSeq = 0;
const barriers: Barrier[] = [];

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'mcp-index-local-')));
  transport = new LocalTransport({ threads: 2 });
  gate = await OpenGate.start();
});
afterAll(async () => {
  // A failed test can leave tasks blocked in their gated opens (or queued behind them): unblock them so close() returns.
  const until = Date.now() + 10_000;
  while (barriers.some((b) => !b.done) && Date.now() < until) {
    for (const b of barriers) if (!b.done && b.reading()) await b.release();
    await sleep(10);
  }
  gate.stop(); // lets any open still held through
  await transport.close();
  rmSync(root, { recursive: true, force: true });
});

function request(batchId: string, files: FileRef[]): JobRequest {
  return { v: PROTOCOL_VERSION, runId: 'local-test', batchId, files, limits: LIMITS, root };
}

function put(path: string, content: string, language: Language): FileRef {
  const abs = join(root, path);
  mkdirSync(join(abs, '..'), { recursive: true });
  writeFileSync(abs, content);
  return { path, hash: sha1(content), size: Buffer.byteLength(content), language };
}

/**
 * The open() gate (test/helpers/open-gate.py): a real kernel mechanism, fanotify permission events, that holds a
 * thread inside open() of a regular file until this test lets it through. (A FIFO no longer blocks a reader: the
 * worker refuses it at once.)
 */
class OpenGate {
  private readonly proc: ChildProcess;
  private out = '';
  private constructor() {
    this.proc = spawn('python3', [join(import.meta.dirname, '../helpers/open-gate.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
  }
  static async start(): Promise<OpenGate> {
    const g = new OpenGate();
    await waitFor('the open gate to start', () => g.said('ready'));
    return g;
  }
  said(line: string): boolean {
    return this.out.split('\n').includes(line);
  }
  async gate(abs: string): Promise<void> {
    this.proc.stdin!.write(`gate ${abs}\n`);
    await waitFor(`${abs} gated`, () => this.said(`gated ${abs}`));
  }
  allow(abs: string): void {
    this.proc.stdin!.write(`allow ${abs}\n`);
  }
  stop(): void {
    this.proc.stdin!.end();
  }
}
let gate: OpenGate;

/** A task that blocks in its first file's open until `release()`. */
class Barrier {
  readonly path: string;
  readonly ref: FileRef;
  private released = false;
  private constructor(readonly content: string) {
    this.path = `gated/${gateSeq++}.py`;
    this.ref = put(this.path, content, 'python');
    barriers.push(this);
  }
  static async create(content = 'def barrier():\n    return 1\n'): Promise<Barrier> {
    const b = new Barrier(content);
    await gate.gate(join(root, b.path));
    return b;
  }
  get done(): boolean {
    return this.released;
  }
  /** True once a task is inside the open of its file (it is executing and blocked there). */
  reading(): boolean {
    return gate.said(`open ${join(root, this.path)}`);
  }
  /** Lets the open through. Waits for a task to be in it if none is yet. */
  async release(): Promise<void> {
    if (this.released) return;
    await waitFor(`${this.path}: a task to open it`, () => this.reading());
    this.released = true;
    gate.allow(join(root, this.path));
  }
}

async function waitFor(what: string, cond: () => boolean): Promise<void> {
  const until = Date.now() + DEADLINE_MS;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

async function releaseAll(barriers: Barrier[]): Promise<void> {
  // In whatever order the tasks reach their reads (a task waiting for a free thread has not opened its FIFO yet).
  await Promise.all(barriers.map((b) => b.release()));
}

describe('LocalTransport with 2 threads', () => {
  it('reports its capacity', () => {
    expect(transport.name).toBe('local');
    expect(transport.capacity).toBe(2);
  });

  it('runs two batches at the same time on two different threads', async () => {
    const a = await Barrier.create();
    const b = await Barrier.create();
    const pa = transport.submit(request('barrier-a', [a.ref]));
    const pb = transport.submit(request('barrier-b', [b.ref]));
    try {
      // Both tasks are inside their reads at once: they overlap in time.
      await waitFor('both barrier tasks to be executing at once', () => a.reading() && b.reading());
    } finally {
      await releaseAll([a, b]);
    }
    const [ra, rb] = await Promise.all([pa, pb]);
    expect(ra.worker.threadId).not.toBe(rb.worker.threadId);
    expect(ra.worker.pid).toBe(process.pid);
    for (const r of [ra, rb]) expect(fileRows(r)[0]).toMatchObject({ status: 'ok', error: null, hash: a.ref.hash });
    expect(transport.threads).toBe(2);
  });

  it('never runs more than 2 at once: a third batch waits until one of the first two finishes', async () => {
    const bs = [await Barrier.create(), await Barrier.create(), await Barrier.create()];
    const ps = bs.map((b, i) => transport.submit(request(`cap-${i}`, [b.ref])));
    try {
      await waitFor('two of the three tasks executing', () => bs.filter((b) => b.reading()).length >= 2);
      const running = bs.filter((b) => b.reading());
      const waiting = bs.filter((b) => !b.reading());
      expect(running).toHaveLength(2);
      // Give the pool every chance to start the third one: it must not, while both threads are busy.
      await sleep(300);
      expect(waiting[0].reading()).toBe(false);
      await running[0].release();
      await waitFor('the third task to start once a thread is free', () => waiting[0].reading());
    } finally {
      await releaseAll(bs);
    }
    const results = await Promise.all(ps);
    expect(new Set(results.map((r) => r.worker.threadId)).size).toBe(2);
  });

  it('several batches of real files submitted at once: results equal handleJob, spread over both threads', async () => {
    const files: FileRef[] = [];
    const mixed: [string, Language][] = [
      ['inventory/models.py', 'python'],
      ['inventory/service.py', 'python'],
      ['scripts/report.js', 'javascript'],
      ['web/api.ts', 'typescript'],
      ['web/components/ItemList.tsx', 'tsx'],
      ['crates/stock/src/lib.rs', 'rust'],
    ];
    for (const [p, lang] of mixed) files.push(put(p, readFileSync(join(MIXED, p), 'utf8'), lang));
    for (let i = 0; i < 6; i++) {
      const body = Array.from({ length: 400 }, (_, j) => `def f_${i}_${j}(x):\n    return g_${j}(x) + ${j}\n`).join('\n');
      files.push(put(`gen/m${i}.py`, body, 'python'));
    }
    const batches = Array.from({ length: 6 }, (_, i) => files.filter((_, j) => j % 6 === i));
    const results = await Promise.all(batches.map((b, i) => transport.submit(request(`real-${i}`, b))));

    expect(results.map((r) => r.batchId)).toEqual(batches.map((_, i) => `real-${i}`));
    expect(new Set(results.map((r) => r.worker.threadId)).size).toBe(2);
    for (const [i, r] of results.entries()) {
      const rows = batchRows(r.fragments);
      expect(rows.map((f) => f.path)).toEqual(batches[i].map((f) => f.path).sort());
      // Same rows as the worker function's output run in this thread.
      const direct = await handleJob(request(`real-${i}`, batches[i]));
      expect(rows).toEqual(expectedRows(direct.files));
      expect(r.counts.symbols).toBe(direct.files.reduce((n, f) => n + f.symbols.length, 0));
      expect(r.counts.symbols).toBeGreaterThan(0);
      for (const f of rows) expect(f.file, f.path).toMatchObject({ status: 'ok', error: null });
    }
  });

  it('a malformed request rejects its promise, and the pool keeps working on both threads', async () => {
    const bad = { ...request('bad', []), v: 99 } as unknown as JobRequest;
    await expect(transport.submit(bad)).rejects.toThrow(/unsupported job message \(v=99\)/);
    const bad2 = { ...request('bad2', []), files: null } as unknown as JobRequest;
    await expect(transport.submit(bad2)).rejects.toThrow(/unsupported job message/);

    const ok = await transport.submit(request('after-bad', [put('after/ok.rs', 'pub fn ok() -> u8 { 1 }\n', 'rust')]));
    expect(fileRows(ok)[0]).toMatchObject({ status: 'ok', error: null });

    // Both threads are still alive and run concurrently.
    const a = await Barrier.create();
    const b = await Barrier.create();
    const pa = transport.submit(request('again-a', [a.ref]));
    const pb = transport.submit(request('again-b', [b.ref]));
    try {
      await waitFor('both threads executing after the rejection', () => a.reading() && b.reading());
    } finally {
      await releaseAll([a, b]);
    }
    const [ra, rb] = await Promise.all([pa, pb]);
    expect(ra.worker.threadId).not.toBe(rb.worker.threadId);
    expect(transport.threads).toBe(2);
  });

  it('a rejected task among concurrent ones does not disturb the others', async () => {
    const a = await Barrier.create();
    const pa = transport.submit(request('with-bad-a', [a.ref]));
    const pbad = transport.submit({ ...request('with-bad', []), v: 99 } as unknown as JobRequest);
    await expect(pbad).rejects.toThrow(/unsupported job message/);
    await releaseAll([a]);
    expect(fileRows(await pa)[0]).toMatchObject({ status: 'ok' });
  });
});

describe('LocalTransport with a V8 heap cap per thread', () => {
  it('a thread out of its JS heap is replaced (the process lives on); a one-file batch becomes an "oom" file, a larger one fails', async () => {
    // 250,000 assignments: about 80 MB of symbols and refs in the extractor's JS heap, past a 32 MiB heap.
    const many = put('heap/many.py', Array.from({ length: 250_000 }, (_, i) => `v${i} = f${i}(a, b)\n`).join(''), 'python');
    const small = put('heap/small.py', 'def fine():\n    pass\n', 'python');
    const capped = new LocalTransport({ threads: 1, threadHeapMb: 32 });
    try {
      const alone = await capped.submit(request('heap-alone', [many]));
      expect(alone.failures).toEqual([{ path: 'heap/many.py', code: 'oom', message: 'its thread ran out of its 32 MiB JS heap, twice' }]);
      expect(fileRows(alone)[0]).toMatchObject({ status: 'error', error_code: 'oom', hash: many.hash });
      // The replaced thread works.
      expect(fileRows(await capped.submit(request('heap-after', [small])))[0]).toMatchObject({ status: 'ok', error: null });
      // Several files: which one ran out is not known, so the batch fails (the pipeline splits it).
      await expect(capped.submit(request('heap-pair', [many, small]))).rejects.toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY' });
    } finally {
      await capped.close();
    }
  }, 120_000);
});
