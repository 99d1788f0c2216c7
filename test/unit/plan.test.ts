/**
 * plan(): deterministic, size-balanced batches whose ids depend only on the files' paths and content hashes.
 * hashFiles(): content hashes with the size+mtime fast path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DiscoveredFile } from '../../src/discover/discover.js';
import { hashFiles, sha1 } from '../../src/plan/hash.js';
import { batchId, DEFAULT_PLAN, plan, split, type Batch, type PlanOptions } from '../../src/plan/plan.js';
import type { FileRef, Language } from '../../src/protocol/types.js';

/** mulberry32: a small seeded PRNG, so "random" inputs are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const LANGS: Language[] = ['python', 'javascript', 'typescript', 'tsx', 'rust'];

function ref(p: string, size: number, content = `${p}:${size}`): FileRef {
  return { path: p, size, hash: sha1(content), language: LANGS[p.length % LANGS.length] };
}

/** n files with sizes uniform in [min, max], deterministic for a seed. */
function randomFiles(n: number, seed: number, min = 1, max = 100_000): FileRef[] {
  const rand = rng(seed);
  return Array.from({ length: n }, (_, i) => ref(`dir${i % 17}/file${i}.py`, min + Math.floor(rand() * (max - min + 1))));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const allPaths = (batches: Batch[]) => batches.flatMap((b) => b.files.map((f) => f.path));

function checkInvariants(files: readonly FileRef[], batches: Batch[], opts: PlanOptions): void {
  // Every file exactly once, unchanged.
  const seen = allPaths(batches);
  expect(seen.length).toBe(files.length);
  expect(new Set(seen).size).toBe(files.length);
  expect([...seen].sort()).toEqual(files.map((f) => f.path).sort());
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const b of batches) {
    expect(b.files.length).toBeGreaterThan(0);
    expect(b.files.length).toBeLessThanOrEqual(opts.maxFiles);
    expect(b.bytes).toBe(sum(b.files.map((f) => f.size)));
    expect(b.id).toBe(batchId(b.files));
    expect(b.id).toMatch(/^[0-9a-f]{16}$/);
    for (const f of b.files) expect(f).toEqual(byPath.get(f.path));
    // Files inside a batch are in path order (that is what makes the id order-independent).
    const ps = b.files.map((f) => f.path);
    expect(ps).toEqual([...ps].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
  }
  // Largest batch first.
  for (let i = 1; i < batches.length; i++) expect(batches[i - 1].bytes).toBeGreaterThanOrEqual(batches[i].bytes);
  // Distinct file sets, distinct ids.
  expect(new Set(batches.map((b) => b.id)).size).toBe(batches.length);
}

describe('plan', () => {
  it('empty input plans no batches', () => {
    expect(plan([])).toEqual([]);
    expect(plan([], { targetBytes: 1, maxFiles: 1 })).toEqual([]);
  });

  it('a small tree fits one batch', () => {
    const files = [ref('b.py', 10), ref('a.rs', 20), ref('c.ts', 0)];
    const batches = plan(files);
    expect(batches).toHaveLength(1);
    expect(batches[0].files.map((f) => f.path)).toEqual(['a.rs', 'b.py', 'c.ts']);
    expect(batches[0].bytes).toBe(30);
    checkInvariants(files, batches, DEFAULT_PLAN);
  });

  it('is independent of input order: identical batches and ids', () => {
    const files = randomFiles(500, 1);
    const opts = { targetBytes: 1_000_000, maxFiles: 64 };
    const reference = plan(files, opts);
    expect(reference.length).toBeGreaterThan(10);
    checkInvariants(files, reference, opts);
    const rand = rng(99);
    for (let i = 0; i < 5; i++) expect(plan(shuffle(files, rand), opts)).toEqual(reference);
    expect(plan([...files].reverse(), opts)).toEqual(reference);
  });

  it('is independent of input order even when many sizes tie', () => {
    const files = Array.from({ length: 300 }, (_, i) => ref(`f${(i * 7919) % 300}.py`, [100, 200, 300][i % 3]));
    const opts = { targetBytes: 5_000, maxFiles: 32 };
    const reference = plan(files, opts);
    checkInvariants(files, reference, opts);
    const rand = rng(7);
    for (let i = 0; i < 5; i++) expect(plan(shuffle(files, rand), opts)).toEqual(reference);
  });

  it('does not mutate its input', () => {
    const files = randomFiles(50, 3);
    const copy = structuredClone(files);
    plan(files, { targetBytes: 100_000, maxFiles: 8 });
    expect(files).toEqual(copy);
  });

  it("changes exactly one batch id when one file's content hash changes", () => {
    const files = randomFiles(400, 2);
    const opts = { targetBytes: 1_000_000, maxFiles: 64 };
    const before = plan(files, opts);
    const victim = files[123];
    const edited = files.map((f) => (f === victim ? { ...f, hash: sha1('new content, same size') } : f));
    const after = plan(edited, opts);
    checkInvariants(edited, after, opts);

    // Same placement (placement depends on sizes and paths only)...
    expect(after.map((b) => b.files.map((f) => f.path))).toEqual(before.map((b) => b.files.map((f) => f.path)));
    // ...but the batch holding the edited file has a new id, and only that one.
    const changed = before.map((b, i) => [b.id !== after[i].id, b.files.some((f) => f.path === victim.path)]);
    expect(changed.filter(([idChanged]) => idChanged)).toHaveLength(1);
    for (const [idChanged, holdsVictim] of changed) expect(idChanged).toBe(holdsVictim);
  });

  it('the id depends on the set of paths and hashes, not their order, and nothing else', () => {
    const a = ref('a.py', 10, 'A');
    const b = ref('b.py', 20, 'B');
    const [one] = plan([a, b]);
    const [two] = plan([b, a]);
    expect(one.id).toBe(two.id);
    expect(plan([a])[0].id).not.toBe(one.id);
    expect(plan([{ ...a, path: 'c.py' }, b])[0].id).not.toBe(one.id); // a rename changes it
    expect(plan([{ ...a, hash: sha1('A2') }, b])[0].id).not.toBe(one.id); // an edit changes it
    expect(plan([{ ...a, language: 'rust' }, b])[0].id).toBe(one.id); // language is not part of it
  });

  it('balances bytes across batches for many random sizes', () => {
    for (const seed of [11, 12, 13]) {
      const files = randomFiles(3000, seed, 1, 50_000);
      const total = sum(files.map((f) => f.size));
      const opts = { targetBytes: 2_000_000, maxFiles: 1000 };
      const batches = plan(files, opts);
      checkInvariants(files, batches, opts);
      expect(batches).toHaveLength(Math.ceil(total / opts.targetBytes));
      const bytes = batches.map((b) => b.bytes);
      const max = Math.max(...bytes);
      const min = Math.min(...bytes);
      // LPT with items much smaller than a batch: the spread is at most about one item.
      expect(max - min).toBeLessThanOrEqual(50_000);
      expect(max / min).toBeLessThan(1.05);
      expect(max).toBeLessThanOrEqual(opts.targetBytes + 50_000);
    }
  });

  it('respects maxFiles, and spreads many tiny files evenly', () => {
    const files = Array.from({ length: 1000 }, (_, i) => ref(`t/${i}.js`, 1 + (i % 5)));
    const opts = { targetBytes: 1 << 30, maxFiles: 30 }; // bytes alone would make one batch
    const batches = plan(files, opts);
    checkInvariants(files, batches, opts);
    expect(batches).toHaveLength(Math.ceil(1000 / 30));
    for (const b of batches) expect(b.files.length).toBeLessThanOrEqual(30);
  });

  it('respects maxFiles when one huge file and many zero-byte files compete', () => {
    const files = [ref('huge.rs', 10_000_000), ...Array.from({ length: 95 }, (_, i) => ref(`z/${i}.py`, 0))];
    const opts = { targetBytes: 1_000_000, maxFiles: 10 };
    const batches = plan(files, opts);
    checkInvariants(files, batches, opts);
    expect(batches[0].files.map((f) => f.path)).toContain('huge.rs');
  });

  it('maxFiles = 1 gives one batch per file, largest first', () => {
    const files = [ref('a.py', 5), ref('b.py', 50), ref('c.py', 500)];
    const opts = { targetBytes: 1 << 30, maxFiles: 1 };
    const batches = plan(files, opts);
    checkInvariants(files, batches, opts);
    expect(batches.map((b) => b.files.map((f) => f.path))).toEqual([['c.py'], ['b.py'], ['a.py']]);
  });

  it('a file larger than targetBytes gets a batch of its own', () => {
    const files = [ref('big.ts', 5_000), ...Array.from({ length: 20 }, (_, i) => ref(`s${i}.ts`, 100))];
    const opts = { targetBytes: 1_000, maxFiles: 100 };
    const batches = plan(files, opts);
    checkInvariants(files, batches, opts);
    expect(batches[0].files.map((f) => f.path)).toEqual(['big.ts']);
    expect(batches.length).toBe(Math.ceil(7_000 / 1_000));
  });
});

describe('split', () => {
  const files = Array.from({ length: 7 }, (_, i) => ref(`f${i}.py`, i));

  it('halves, first half taking the odd one, keeping order and every file', () => {
    const [a, b] = split(files);
    expect(a.map((f) => f.path)).toEqual(['f0.py', 'f1.py', 'f2.py', 'f3.py']);
    expect(b.map((f) => f.path)).toEqual(['f4.py', 'f5.py', 'f6.py']);
    const [c, d] = split(files.slice(0, 6));
    expect([c.length, d.length]).toEqual([3, 3]);
    expect([...c, ...d]).toEqual(files.slice(0, 6));
  });

  it('repeated halving isolates a single file', () => {
    let part: FileRef[] = files;
    const target = 'f5.py';
    while (part.length > 1) {
      const [a, b] = split(part);
      expect(a.length + b.length).toBe(part.length);
      expect(a.length).toBeGreaterThan(0);
      expect(b.length).toBeGreaterThan(0);
      part = a.some((f) => f.path === target) ? a : b;
    }
    expect(part.map((f) => f.path)).toEqual([target]);
  });

  it('edge sizes', () => {
    expect(split([files[0]])).toEqual([[files[0]], []]);
    expect(split([])).toEqual([[], []]);
  });

  it('does not mutate its input', () => {
    const copy = [...files];
    split(files);
    expect(files).toEqual(copy);
  });
});

describe('hashFiles', () => {
  const made: string[] = [];
  afterEach(() => {
    while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
  });

  function tree(files: Record<string, string>): { root: string; discovered: DiscoveredFile[] } {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-index-hash-')));
    made.push(root);
    const discovered: DiscoveredFile[] = [];
    for (const [p, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      fs.writeFileSync(path.join(root, p), content);
      const st = fs.statSync(path.join(root, p));
      discovered.push({ path: p, size: st.size, mtimeMs: Math.trunc(st.mtimeMs), language: 'python' });
    }
    return { root, discovered };
  }

  it('hashes content with sha1, in input order', async () => {
    const { root, discovered } = tree({ 'b.py': 'print(1)\n', 'a/a.py': '', 'c.py': 'ü' });
    const h = await hashFiles(root, discovered);
    expect(h.refs).toEqual([
      { path: 'b.py', hash: sha1('print(1)\n'), size: 9, language: 'python' },
      { path: 'a/a.py', hash: 'da39a3ee5e6b4b0d3255bfef95601890afd80709', size: 0, language: 'python' },
      { path: 'c.py', hash: sha1(Buffer.from('ü', 'utf8')), size: 2, language: 'python' },
    ]);
    expect(h.reused).toBe(0);
    expect(h.skipped).toEqual([]);
  });

  it('reuses the prior hash only when size and mtime both match', async () => {
    const { root, discovered } = tree({ 'same.py': 'x = 1\n', 'size.py': 'y = 2\n', 'mtime.py': 'z = 3\n' });
    const [same, size, mtime] = discovered;
    const prior = new Map([
      ['same.py', { size: same.size, mtimeMs: same.mtimeMs, hash: 'prior-same' }],
      ['size.py', { size: size.size + 1, mtimeMs: size.mtimeMs, hash: 'prior-size' }],
      ['mtime.py', { size: mtime.size, mtimeMs: mtime.mtimeMs - 1000, hash: 'prior-mtime' }],
    ]);
    const h = await hashFiles(root, discovered, prior);
    expect(h.reused).toBe(1);
    expect(h.refs.map((r) => [r.path, r.hash])).toEqual([
      ['same.py', 'prior-same'],
      ['size.py', sha1('y = 2\n')],
      ['mtime.py', sha1('z = 3\n')],
    ]);
  });

  it('a file deleted after discovery is skipped as deleted, the rest are hashed', async () => {
    const { root, discovered } = tree({ 'a.py': 'a', 'gone.py': 'g', 'c.py': 'c' });
    fs.rmSync(path.join(root, 'gone.py'));
    const h = await hashFiles(root, discovered);
    expect(h.refs.map((r) => r.path)).toEqual(['a.py', 'c.py']);
    expect(h.skipped.map((s) => [s.path, s.error.code])).toEqual([['gone.py', 'deleted']]);
  });

  it('records the size actually read when the file grew after discovery', async () => {
    const { root, discovered } = tree({ 'grow.py': 'a' });
    fs.writeFileSync(path.join(root, 'grow.py'), 'abc');
    const h = await hashFiles(root, discovered);
    expect(h.refs).toEqual([{ path: 'grow.py', hash: sha1('abc'), size: 3, language: 'python' }]);
  });

  it('handles more files than its concurrency, keeping order', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 100; i++) files[`f${String(i).padStart(3, '0')}.py`] = `v = ${i}\n`;
    const { root, discovered } = tree(files);
    const h = await hashFiles(root, discovered);
    expect(h.refs.map((r) => r.path)).toEqual(Object.keys(files));
    expect(h.refs.map((r) => r.hash)).toEqual(Object.values(files).map((c) => sha1(c)));
  });
});
