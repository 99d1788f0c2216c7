/**
 * A seeded protocol fuzzer. Hostile job messages go through what a worker does with a message from the queue (the
 * schema check, its own caps, the check of blobs fetched for it, then handleJob reading under a real root holding a
 * link out of it, a FIFO and a link to /dev/zero); malformed results go through what a coordinator does with one (decode, the answer check, decompress,
 * then the merge into a real SQLite index). Every case must be rejected with an Error or handled (per-file errors),
 * nothing may crash or hang, and nothing outside the root may be read.
 *
 * FUZZ_CASES (default 2000) cases of each side; FUZZ_SEED (default 17) picks them. The counts by class and outcome
 * are printed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '../../src/bench/prng.js';
import { EXTRACTOR_VERSION } from '../../src/extract/version.js';
import { buildFragment, spoolFragment } from '../../src/index-store/fragment.js';
import { openIndex } from '../../src/index-store/reader.js';
import { IndexWriter } from '../../src/index-store/writer.js';
import { batchId } from '../../src/plan/plan.js';
import { JobRequestSchema } from '../../src/protocol/schema.js';
import { FILE_ERROR_CODES, headerOf, LANGUAGES, PROTOCOL_VERSION, type JobRequest } from '../../src/protocol/types.js';
import { decodeJson, decompressFragment, encodeBatch, encodeJson, readBatch } from '../../src/transport/redis/codec.js';
import { verifiedBlob } from '../../src/transport/redis/worker.js';
import { handleJob } from '../../src/worker/handle-job.js';

const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 17);
const sha1 = (b: string | Buffer) => createHash('sha1').update(b).digest('hex');
/** The worker's own caps, as `worker` applies them to every job (transport/redis/worker.ts). */
const CAPS = { maxFileBytes: 64 * 1024, parseTimeoutMs: 2000 };
/** The worker's cap on one blob (WorkerOptions.maxBlobBytes). */
const BLOB_CAP = 16 * 1024;
const SECRET = 'def outside_sentinel_fn():\n    return "read outside the root"\n';
const INSIDE = ['a.py', 'pkg/b.py', 'c.rs', 'd.ts', 'big.py', 'in-link.py'];
const HOSTILE_PATHS = ['../secret.py', '/etc/passwd', 'pkg/../../secret.py', 'out-link.py', 'out-dir/secret.py', 'fifo.py', 'zero.py', 'a.py\0.py', 'pkg', '..', './../secret.py'];

let base: string;
let root: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'mcp-index-fuzz-')));
  root = join(base, 'repo');
  mkdirSync(join(root, 'pkg'), { recursive: true });
  writeFileSync(join(base, 'secret.py'), SECRET);
  writeFileSync(join(root, 'a.py'), 'def a():\n    return 1\n');
  writeFileSync(join(root, 'pkg/b.py'), 'class B:\n    def m(self):\n        pass\n');
  writeFileSync(join(root, 'c.rs'), 'pub fn c() -> u8 { 1 }\n');
  writeFileSync(join(root, 'd.ts'), 'export function d(): number { return 1; }\n');
  writeFileSync(join(root, 'big.py'), 'x = 1\n'.repeat(20_000)); // over the caps' 64 KiB
  symlinkSync('a.py', join(root, 'in-link.py'));
  symlinkSync(join(base, 'secret.py'), join(root, 'out-link.py'));
  symlinkSync(base, join(root, 'out-dir'));
  execFileSync('mkfifo', [join(root, 'fifo.py')]);
  symlinkSync('/dev/zero', join(root, 'zero.py'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

type Tally = Map<string, Map<string, number>>;
function count(t: Tally, cls: string, outcome: string): void {
  const m = t.get(cls) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  t.set(cls, m);
}
function table(t: Tally): string {
  return [...t].map(([cls, m]) => `  ${cls.padEnd(18)} ${[...m].map(([o, n]) => `${o} ${n}`).join(', ')}`).join('\n');
}

function randomJson(r: Prng, depth = 0): unknown {
  const k = r.int(0, depth > 3 ? 3 : 6);
  if (k === 0) return null;
  if (k === 1) return r.next() < 0.5;
  if (k === 2) return r.next() < 0.5 ? r.int(-1e9, 1e9) : r.next() * 1e300 * (r.next() < 0.5 ? -1 : 1);
  if (k === 3) return Array.from({ length: r.int(0, 12) }, () => String.fromCharCode(r.int(0, 0xffff))).join('');
  if (k === 4) return Array.from({ length: r.int(0, 5) }, () => randomJson(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (const key of ['v', 'runId', 'batchId', 'files', 'limits', 'root', 'cache', '__proto__', 'x']) if (r.next() < 0.4) o[key] = randomJson(r, depth + 1);
  return o;
}

function validJob(r: Prng, paths: string[]): Record<string, unknown> {
  return {
    v: PROTOCOL_VERSION,
    runId: `run-${r.int(0, 99)}`,
    batchId: `b-${r.int(0, 1e6)}`,
    files: paths.map((path) => ({ path, hash: r.next() < 0.5 ? sha1(SECRET) : sha1(String(r.next())), size: r.int(0, 1e5), language: LANGUAGES[r.int(0, LANGUAGES.length - 1)] })),
    // Greedy limits, up to what the schema allows: the caps must decide.
    limits: { maxFileBytes: r.int(1, 64 * 1024 * 1024), parseTimeoutMs: r.int(1, 600_000) },
    ...(r.next() < 0.3 ? { root: r.next() < 0.5 ? '/' : '/etc' } : {}),
  };
}

/** One hostile message of `cls`. */
function jobCase(r: Prng, cls: string): unknown {
  const pick = <T>(xs: readonly T[]) => xs[r.int(0, xs.length - 1)];
  switch (cls) {
    case 'random-json':
      return randomJson(r);
    case 'wrong-types': {
      const job = validJob(r, [pick(INSIDE)]);
      const key = pick(['v', 'runId', 'batchId', 'files', 'limits', 'files.0', 'files.0.size', 'files.0.hash', 'limits.maxFileBytes', 'files.0.language']);
      const [a, b] = key.split('.');
      const bad = pick([null, 'str', -1, 1.5, [], {}, true, 2 ** 60]);
      if (!b) job[a] = bad;
      else if (a === 'files') (job.files as Record<string, unknown>[])[0] = key === 'files.0' ? (bad as Record<string, unknown>) : { ...(job.files as Record<string, unknown>[])[0], [key.split('.')[2]]: bad };
      else (job.limits as Record<string, unknown>)[b] = bad;
      return job;
    }
    case 'huge-arrays': {
      const k = r.int(0, 2);
      if (k === 0) return validJob(r, Array.from({ length: 10_001 + r.int(0, 5000) }, () => pick(INSIDE)));
      if (k === 1) return validJob(r, ['p/'.repeat(r.int(2049, 5000)) + 'a.py']);
      return { ...validJob(r, [pick(INSIDE)]), runId: 'r'.repeat(r.int(129, 100_000)) };
    }
    case 'wrong-version':
      return { ...validJob(r, [pick(INSIDE)]), v: pick([0, PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1, 99, -2, String(PROTOCOL_VERSION), null, 2.5]) };
    case 'path-escape':
      return validJob(r, Array.from({ length: r.int(1, 4) }, () => pick(HOSTILE_PATHS)));
    case 'lying-blobs': {
      // Content fetched as blobs (no checkout): some match their hash, some lie, are cut short, or are too big.
      const job = validJob(r, Array.from({ length: r.int(1, 4) }, (_, i) => `blob${i}.py`));
      const blobs = (job.files as { path: string; hash: string }[]).map((f) => {
        const content = Buffer.from(`def from_blob_${r.int(0, 1e6)}():\n    return 1\n`);
        f.hash = sha1(content);
        const k = r.int(0, 3);
        return k === 0 ? content : k === 1 ? Buffer.from(SECRET) : k === 2 ? content.subarray(0, r.int(0, content.length - 1)) : Buffer.alloc(BLOB_CAP + 1, 0x61);
      });
      return { job, blobs };
    }
    default: // 'valid-mixed': what a real coordinator might send, files inside and hostile ones together
      return validJob(r, Array.from({ length: r.int(1, 6) }, () => pick(r.next() < 0.7 ? INSIDE : HOSTILE_PATHS)));
  }
}

/**
 * What a worker does with a message (transport/redis/worker.ts processJob), on a checkout at `root`, or with the
 * blobs fetched for it (`{ job, blobs }`: a worker without a checkout).
 */
async function workerHandles(message: unknown): Promise<'rejected' | 'handled'> {
  const fetched = (message as { blobs?: Buffer[] })?.blobs;
  const data = fetched ? (message as { job: unknown }).job : message;
  const parsed = JobRequestSchema.safeParse(data);
  if (!parsed.success) return 'rejected';
  const { cache: _cache, ...job } = parsed.data;
  const limits = { ...job.limits, maxFileBytes: Math.min(job.limits.maxFileBytes, CAPS.maxFileBytes), parseTimeoutMs: Math.min(job.limits.parseTimeoutMs, CAPS.parseTimeoutMs) };
  const req: JobRequest = { ...job, limits, root: fetched ? undefined : root };
  let inputs: Map<string, Uint8Array> | undefined;
  if (fetched) {
    try {
      inputs = new Map(req.files.map((f, i) => [f.path, verifiedBlob(f, fetched[i], BLOB_CAP)]));
    } catch {
      return 'rejected'; // the attempt fails; nothing is indexed under a hash its content does not have
    }
  }
  const res = await handleJob(req, inputs);
  if (fetched) for (const [i, f] of res.files.entries()) if (f.status !== 'error') expect(f.hash).toBe(req.files[i].hash);
  expect(res.files.map((f) => f.path)).toEqual(req.files.map((f) => f.path));
  for (const f of res.files) {
    if (f.error) expect(FILE_ERROR_CODES).toContain(f.error.code);
    // Nothing outside the root was read: the secret's one definition never shows up.
    expect(f.symbols.some((s) => s.name === 'outside_sentinel_fn'), f.path).toBe(false);
    if (f.status === 'ok') expect(f.size).toBeLessThanOrEqual(CAPS.maxFileBytes);
  }
  return 'handled';
}

const JOB_CLASSES = ['random-json', 'wrong-types', 'huge-arrays', 'wrong-version', 'path-escape', 'lying-blobs', 'valid-mixed'];
const RESULT_CLASSES = ['random-bytes', 'truncated', 'header-lies', 'size-lies', 'bad-compression', 'wrong-answer', 'truncated-deflate', 'valid'];

describe(`protocol fuzzer (seed ${SEED}, ${CASES} cases a side)`, () => {
  it('hostile job messages: each rejected or handled with per-file errors, nothing read outside the root', async () => {
    const r = new Prng(SEED);
    const tally: Tally = new Map();
    for (let i = 0; i < CASES; i++) {
      const cls = JOB_CLASSES[i % JOB_CLASSES.length];
      count(tally, cls, await workerHandles(jobCase(r, cls)));
    }
    console.log(`jobs (seed ${SEED}):\n${table(tally)}`);
    // Every class was exercised, and the hostile ones were refused by the schema or turned into per-file errors.
    expect([...tally.keys()].sort()).toEqual([...JOB_CLASSES].sort());
    expect(tally.get('wrong-version')!.get('handled') ?? 0).toBe(0);
    expect(tally.get('huge-arrays')!.get('handled') ?? 0).toBe(0);
    expect(tally.get('path-escape')!.get('handled')).toBeGreaterThan(0); // links, FIFOs, devices pass the schema
    // Blobs that lie are refused, honest ones indexed.
    expect(tally.get('lying-blobs')!.get('rejected')).toBeGreaterThan(0);
    expect(tally.get('lying-blobs')!.get('handled')).toBeGreaterThan(0);
  }, 600_000);

  it('malformed results: each rejected with an Error or merged, and the index still commits whole', async () => {
    const r = new Prng(SEED + 1);
    const pick = <T>(xs: readonly T[]) => xs[r.int(0, xs.length - 1)];
    const files = ['a.py', 'pkg/b.py'].map((path) => ({ path, hash: '', size: 0, language: 'python' as const }));
    const req: JobRequest = { v: PROTOCOL_VERSION, runId: 'fuzz', batchId: 'b', files, limits: CAPS, root };
    const res = await handleJob(req);
    const sentId = batchId(req.files);
    const good = encodeBatch(headerOf(res, sentId), buildFragment(res.files));
    const out = join(base, 'fuzz-index.db');
    const writer = new IndexWriter(out, { incremental: false, extractorVersion: EXTRACTOR_VERSION, patch: true });
    const tally: Tally = new Map();
    const mutate = (buf: Buffer, n: number) => {
      const b = Buffer.from(buf);
      for (let k = 0; k < n; k++) b[r.int(0, b.length - 1)] = r.int(0, 255);
      return b;
    };
    const headed = (header: unknown, body: Buffer) => {
      const head = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(head.length);
      return Buffer.concat([len, head, body]);
    };
    const { header: readHeader, body: goodBody, crc } = readBatch(good);
    const goodHeader = { ...readHeader, fragmentCrc: crc };
    for (let i = 0; i < CASES; i++) {
      const cls = RESULT_CLASSES[i % RESULT_CLASSES.length];
      let buf: Buffer;
      if (cls === 'random-bytes') buf = Buffer.from(Array.from({ length: r.int(0, 2000) }, () => r.int(0, 255)));
      else if (cls === 'truncated') buf = good.subarray(0, r.int(0, good.length - 1));
      else if (cls === 'header-lies') buf = headed(pick([null, [], 'x', { ...goodHeader, counts: null }, { ...goodHeader, batchId: 7 }, { ...goodHeader, parsed: null }, { ...goodHeader, fragmentCrc: undefined }, randomJson(r)]), goodBody);
      // The size is only a hint, clamped to MAX_RESULT_BYTES: a lie there costs nothing.
      else if (cls === 'size-lies') buf = headed({ ...goodHeader, fragmentBytes: pick([2 ** 62, -1, 0, 1, 'x', null]) }, goodBody);
      else if (cls === 'bad-compression') buf = headed({ ...goodHeader, fragmentBytes: 4096 }, r.next() < 0.5 ? mutate(goodBody, r.int(1, 8)) : goodBody.subarray(0, r.int(0, goodBody.length - 1)));
      else if (cls === 'wrong-answer') buf = headed({ ...goodHeader, parsed: pick(['', 'other', sentId.slice(1)]), batchId: pick(['b', 'c']) }, goodBody);
      else if (cls === 'truncated-deflate') {
        // A result-cache entry cut short: decodeJson must throw, never return half a value.
        const entry = encodeJson({ status: 'ok', symbols: [{ name: 'x' }] });
        const cut = entry.subarray(0, r.int(0, entry.length - 1));
        let outcome = 'rejected';
        try {
          decodeJson(cut);
          outcome = 'decoded';
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
        }
        count(tally, cls, outcome);
        continue;
      } else buf = good;
      // What the coordinator does with a result (transport/redis/coordinator.ts completed()), then the merge.
      let outcome: string;
      try {
        const got = readBatch(buf);
        if (got.header.batchId !== req.batchId || got.header.parsed !== sentId) throw new Error('does not answer the batch');
        const fragment = spoolFragment(`fuzz-${i}`, decompressFragment(got.body, got.fragmentBytes, got.crc));
        writer.apply(`fuzz-${i}`, [fragment]);
        outcome = 'merged';
      } catch (e) {
        expect(e, cls).toBeInstanceOf(Error);
        outcome = 'rejected';
      }
      count(tally, cls, outcome);
    }
    writer.commit();
    console.log(`results (seed ${SEED + 1}):\n${table(tally)}`);
    for (const cls of ['valid', 'size-lies']) expect(tally.get(cls)!.get('rejected') ?? 0, cls).toBe(0);
    // A damaged body is caught by the fragment's CRC-32, even when it decompresses into a valid database.
    for (const cls of ['random-bytes', 'truncated', 'header-lies', 'bad-compression', 'wrong-answer']) expect(tally.get(cls)!.get('merged') ?? 0, cls).toBe(0);
    expect(tally.get('truncated-deflate')!.get('decoded') ?? 0).toBe(0);
    // The index committed whole: SQLite finds it intact, with the good batch's files.
    const db = openIndex(out);
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((db.prepare('SELECT path FROM files ORDER BY path').all() as { path: string }[]).map((f) => f.path)).toEqual(['a.py', 'pkg/b.py']);
    } finally {
      db.close();
    }
  }, 600_000);
});
