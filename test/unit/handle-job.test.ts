/**
 * handleJob(): the one worker function every transport runs. Called directly with real files in a temp root and
 * real tree-sitter. A bad file must become a per-file error in the result; only a malformed request throws.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type FileRef, type FileResult, type JobRequest, type Language } from '../../src/protocol/types.js';
import { javascript } from '../../src/extract/languages/javascript.js';
import { MAX_DEPTH } from '../../src/extract/toolkit/index.js';
import { handleJob } from '../../src/worker/handle-job.js';
import { readUnderRoot } from '../../src/worker/read.js';

const sha1 = (b: string | Uint8Array) => createHash('sha1').update(b).digest('hex');

let base: string;
let root: string;

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'mcp-index-handlejob-')));
  root = join(base, 'repo');
  mkdirSync(root);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function put(rel: string, content: string | Buffer): FileRef {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  return ref(rel, buf);
}

function ref(path: string, content: Buffer = Buffer.alloc(0), language: Language = languageFor(path)): FileRef {
  return { path, hash: sha1(content), size: content.length, language };
}

function languageFor(path: string): Language {
  if (path.endsWith('.py')) return 'python';
  if (path.endsWith('.rs')) return 'rust';
  if (path.endsWith('.tsx')) return 'tsx';
  if (path.endsWith('.ts')) return 'typescript';
  return 'javascript';
}

const LIMITS = { maxFileBytes: 1024 * 1024, parseTimeoutMs: 10_000 };

function request(files: FileRef[], limits: Partial<JobRequest['limits']> = {}): JobRequest {
  return { v: PROTOCOL_VERSION, runId: 'run-1', batchId: 'batch-1', files, limits: { ...LIMITS, ...limits }, root };
}

async function one(f: FileRef, limits: Partial<JobRequest['limits']> = {}): Promise<FileResult> {
  const res = await handleJob(request([f], limits));
  expect(res.files).toHaveLength(1);
  return res.files[0];
}

function expectError(r: FileResult, code: string): void {
  expect(r.status, `${r.path}: ${JSON.stringify(r.error)}`).toBe('error');
  expect(r.error?.code).toBe(code);
  expect(r.error?.message).toEqual(expect.any(String));
  expect(r.error!.message.length).toBeGreaterThan(0);
  expect(r.symbols).toEqual([]);
  expect(r.refs).toEqual([]);
}

describe('handleJob: good files', () => {
  it('echoes the request ids and reports the worker and per-file results in request order', async () => {
    const a = put('ok/a.py', 'def alpha(x):\n    return beta(x)\n\n\ndef beta(y):\n    return y\n');
    const b = put('ok/b.rs', 'pub fn gamma() -> u32 { 1 }\n');
    const c = put('ok/c.ts', 'export function delta(n: number): number { return n * 2; }\n');
    const d = put('ok/d.tsx', 'export const E = () => <div className="e">e</div>;\n');
    const e = put('ok/e.js', 'function eps() { return 1; }\nmodule.exports = { eps };\n');
    const res = await handleJob(request([a, b, c, d, e]));
    expect(res.v).toBe(PROTOCOL_VERSION);
    expect(res.runId).toBe('run-1');
    expect(res.batchId).toBe('batch-1');
    expect(res.worker.pid).toBe(process.pid);
    expect(res.worker.threadId).toEqual(expect.any(Number));
    expect(res.extractorVersion).toEqual(expect.any(Number));
    expect(res.durationMs).toBeGreaterThanOrEqual(0);
    expect(res.files.map((f) => f.path)).toEqual([a, b, c, d, e].map((f) => f.path));
    for (const [i, f] of res.files.entries()) {
      const req = [a, b, c, d, e][i];
      expect(f, f.path).toMatchObject({ status: 'ok', error: null, hash: req.hash, size: req.size, language: req.language });
    }
  });

  it('an empty batch is an empty result', async () => {
    const res = await handleJob(request([]));
    expect(res.files).toEqual([]);
  });
});

describe('handleJob: bad files become per-file errors', () => {
  it('binary (a NUL byte in the first 8000 bytes)', async () => {
    const content = Buffer.concat([Buffer.from('x = 1\n'), Buffer.from([0, 1, 2, 3]), Buffer.from('\ny = 2\n')]);
    const r = await one(put('bad/blob.py', content));
    expectError(r, 'binary');
    expect(r.hash).toBe(sha1(content));
    expect(r.size).toBe(content.length);
  });

  it('a NUL byte after the first 8000 bytes is not "binary" (git\'s heuristic)', async () => {
    const content = Buffer.concat([Buffer.from('# ' + 'x'.repeat(8100) + '\n'), Buffer.from([0]), Buffer.from('\n')]);
    const r = await one(put('bad/late-nul.py', content));
    expect(r.error?.code).not.toBe('binary');
  });

  it('non-UTF-8 (0xff 0xfe ... latin-1 bytes, no NUL)', async () => {
    const content = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('var caf'), Buffer.from([0xe9]), Buffer.from(' = 1;\n')]);
    const r = await one(put('bad/latin.js', content));
    expectError(r, 'non-utf8');
    expect(r.hash).toBe(sha1(content));
  });

  it('reads a file larger than its read buffer whole, and every file of a batch as its own bytes', async () => {
    const big = Array.from({ length: 60_000 }, (_, i) => `def f${i}(): pass\n`).join(''); // ~1.2 MB
    const small = 'def tiny(): pass\n';
    const res = await handleJob(request([put('big/large.py', big), put('big/small.py', small), put('big/large2.py', big)], { maxFileBytes: 4 * 1024 * 1024 }));
    const [a, b, c] = res.files;
    expect(big.length).toBeGreaterThan(1 << 20);
    expect([a.status, b.status, c.status]).toEqual(['ok', 'ok', 'ok']);
    expect([a.hash, b.hash, c.hash]).toEqual([sha1(big), sha1(small), sha1(big)]);
    expect([a.symbols.length, b.symbols.length, c.symbols.length]).toEqual([60_000, 1, 60_000]);
    expect(b.symbols[0].name).toBe('tiny');
  });

  it('oversize (larger than limits.maxFileBytes)', async () => {
    const content = 'x = 1\n'.repeat(100); // 600 bytes
    const r = await one(put('bad/big.py', content), { maxFileBytes: 500 });
    expectError(r, 'oversize');
    expect(r.size).toBe(600);
    expect(r.error!.message).toContain('500');
    // Exactly at the limit is fine.
    expect((await one(put('bad/exact.py', 'x = 1\n'.repeat(100)), { maxFileBytes: 600 })).status).toBe('ok');
  });

  it('deleted (listed, then gone when read)', async () => {
    const r = await one(ref('gone/never-existed.py', Buffer.from('x = 1\n')));
    expectError(r, 'deleted');
  });

  it('a directory where a file was expected is "not-regular", not a crash', async () => {
    mkdirSync(join(root, 'dir.py'), { recursive: true });
    const r = await one(ref('dir.py'));
    expectError(r, 'not-regular');
  });

  it('path escape: "../x.py" and an absolute path are refused without being read', async () => {
    writeFileSync(join(base, 'outside.py'), 'SECRET = 1\n'); // exists, so a read would succeed
    const rel = await one(ref('../outside.py'));
    expectError(rel, 'path-escape');
    const nested = await one(ref('ok/../../outside.py'));
    expectError(nested, 'path-escape');
    const abs = await one(ref(join(base, 'outside.py')));
    expectError(abs, 'path-escape');
    const nul = await one(ref('ok/a.py\0.py'));
    expectError(nul, 'path-escape');
  });

  it('parse timeout on a huge file, and the next file in the same job still parses', async () => {
    // ~3 MB of Python cannot be parsed in 1 ms.
    const huge = put('slow/huge.py', 'def f(a, b):\n    return [a + b * 2 for _ in range(10) if a]\n\n'.repeat(50_000));
    const after = put('slow/after.py', 'def after():\n    return 42\n');
    const afterRs = put('slow/after.rs', 'fn after() -> u32 { 42 }\n');
    const res = await handleJob(request([huge, after, afterRs], { parseTimeoutMs: 1, maxFileBytes: 16 * 1024 * 1024 }));
    expectError(res.files[0], 'parse-timeout');
    expect(res.files[0].hash).toBe(huge.hash);
    // Same language as the timed-out file: the parser must have been reset, not resumed on the old input.
    expect(res.files[1]).toMatchObject({ path: 'slow/after.py', status: 'ok', error: null });
    expect(res.files[2]).toMatchObject({ path: 'slow/after.rs', status: 'ok', error: null });

    // And with the same parser in a later job, a normal limit gives the same result as a fresh parse.
    const fresh = await one(after);
    expect(fresh).toEqual({ ...res.files[1], parseMs: fresh.parseMs });
  });

  it('a syntax error is status "partial" with code "syntax"; what parsed is still indexed', async () => {
    const r = await one(put('bad/broken.py', 'def good():\n    return 1\n\n\ndef bad(:\n    pass\n'));
    expect(r.status).toBe('partial');
    expect(r.error?.code).toBe('syntax');
    expect(r.error?.message).toMatch(/syntax error/);
    const rs = await one(put('bad/broken.rs', 'pub fn main( {\n    let x = ;\n}\n'));
    expect(rs.status).toBe('partial');
    expect(rs.error?.code).toBe('syntax');
  });

  it('valid code the grammar cannot parse (a known gap) is "ok" with the gap noted; another error still makes it "partial"', async () => {
    const variance = 'export interface Producer<out T> {\n  make(): T;\n}\nexport function after() {}\n';
    const r = await one(put('gap/variance.ts', variance));
    expect(r).toMatchObject({ status: 'ok', error: { code: 'grammar-gap' } });
    expect(r.error?.message).toMatch(/variance annotations .* at 1:30/);
    expect(r.symbols.map((s) => s.qualified)).toEqual(['Producer', 'Producer.make', 'after']);
    const rust = await one(put('gap/nightly.rs', 'impl<T> const Default for W<T> {\n    fn default() -> Self { W(box T::default()) }\n}\n'));
    expect(rust).toMatchObject({ status: 'ok', error: { code: 'grammar-gap' } });
    expect(rust.error?.message).toMatch(/`impl const` trait impls at 1:\d+; `box` expressions at 2:\d+/);
    const both = await one(put('gap/both.ts', `${variance}const x = ;\n`));
    expect(both).toMatchObject({ status: 'partial', error: { code: 'syntax', message: expect.stringMatching(/syntax error at 5:/) } });
  });

  it('nesting past the depth guard is "too-deep"; any other extractor exception is "internal" with its message', async () => {
    const n = MAX_DEPTH + 5;
    const deep = await one(put('deep/nested.js', Array.from({ length: n }, (_, i) => `function f${i}() {`).join('') + '}'.repeat(n)));
    expectError(deep, 'too-deep');
    expect(deep.error?.message).toBe(`nesting deeper than ${MAX_DEPTH} levels`);
    // An extractor bug that happens to be a RangeError is still a bug, not a deep file.
    const original = javascript.extract;
    javascript.extract = () => {
      throw new RangeError('Invalid array length');
    };
    try {
      const bug = await one(put('bug/any.js', 'function f() {}\n'));
      expectError(bug, 'internal');
      expect(bug.error?.message).toMatch(/^RangeError: Invalid array length/);
    } finally {
      javascript.extract = original;
    }
  });
});

describe('handleJob: distrusts what is under the root', () => {
  it('a symlink out of the root, as the file or as a folder on its path, is a path-escape; a link inside the root is read', async () => {
    mkdirSync(join(base, 'elsewhere'), { recursive: true });
    writeFileSync(join(base, 'elsewhere/secret.py'), 'def leaked_user():\n    pass\n'); // exists: a followed link would read it
    symlinkSync(join(base, 'elsewhere/secret.py'), join(root, 'leak.py'));
    symlinkSync(join(base, 'elsewhere'), join(root, 'leakdir'));
    symlinkSync('/etc/passwd', join(root, 'passwd.py'));
    const inside = put('real/target.py', 'def inside():\n    pass\n');
    symlinkSync('target.py', join(root, 'real/alias.py'));
    const res = await handleJob(request([ref('leak.py'), ref('leakdir/secret.py'), ref('passwd.py'), { ...inside, path: 'real/alias.py' }]));
    for (const r of res.files.slice(0, 3)) expectError(r, 'path-escape');
    expect(res.files[3].status).toBe('ok');
    expect(res.files[3].symbols.map((s) => s.name)).toEqual(['inside']);
  });

  it('a FIFO, a device and a directory are "not-regular", a link to /dev/zero a path-escape: refused at once (no hang, no endless read)', async () => {
    execFileSync('mkfifo', [join(root, 'pipe.py')]);
    symlinkSync('/dev/zero', join(root, 'zero.py'));
    mkdirSync(join(root, 'folder.py'));
    const after = put('after-them.py', 'def still_parsed():\n    pass\n');
    const res = await handleJob(request([ref('pipe.py'), ref('zero.py'), ref('folder.py'), after]));
    expect(res.files.map((f) => [f.path, f.error?.code ?? f.status])).toEqual([
      ['pipe.py', 'not-regular'],
      ['zero.py', 'path-escape'],
      ['folder.py', 'not-regular'],
      ['after-them.py', 'ok'],
    ]);
    expect(res.files[0].error!.message).toMatch(/FIFO/);
    // A device met inside the root (here the root is /dev itself) is refused by its type, never read.
    expect(readUnderRoot('/dev', 'zero', LIMITS.maxFileBytes)).toEqual({ code: 'not-regular', message: 'a character device, not a regular file' });
  });

  it('an oversize file is refused by its fstat size, before any read: a sparse 1.5 GB file costs no memory', async () => {
    const abs = join(root, 'huge.py');
    writeFileSync(abs, '');
    truncateSync(abs, 1.5 * 1024 ** 3); // sparse: no disk used, but reading it whole would take 1.5 GB
    const r = await one(ref('huge.py'));
    expectError(r, 'oversize');
    expect(r.size).toBe(1.5 * 1024 ** 3);
    expect(r.hash).toBe('');
    expect(readUnderRoot(root, 'huge.py', LIMITS.maxFileBytes)).toEqual({ oversize: 1.5 * 1024 ** 3 });
  });
});

describe('handleJob: content', () => {
  it('a UTF-8 BOM is stripped before parsing: same symbols as without it, hash of the bytes on disk', async () => {
    const text = 'def with_bom(x):\n    return x\n\n\nclass K:\n    pass\n';
    const bomBytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    const withBom = await one(put('bom/with.py', bomBytes));
    const without = await one(put('bom/without.py', text));
    expect(withBom).toMatchObject({ status: 'ok', error: null, hash: sha1(bomBytes), size: bomBytes.length });
    expect(withBom.symbols).toEqual(without.symbols);
    expect(withBom.refs).toEqual(without.refs);
    for (const s of withBom.symbols) if (s.startLine === 1) expect(s.startCol).toBe(0);

    const js = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('export function f() { return 1; }\n')]);
    expect(await one(put('bom/with.ts', js))).toMatchObject({ status: 'ok', error: null });
  });

  it('content given in `inputs` wins over the file on disk', async () => {
    const disk = put('inputs/mod.py', 'def from_disk():\n    return 1\n');
    const given = Buffer.from('def from_inputs():\n    return 2\n\n\ndef second():\n    return 3\n');
    const res = await handleJob(request([{ ...disk, hash: sha1(given), size: given.length }]), new Map([['inputs/mod.py', new Uint8Array(given)]]));
    const r = res.files[0];
    expect(r).toMatchObject({ status: 'ok', hash: sha1(given), size: given.length });
    expect(r.hash).not.toBe(disk.hash);
    const names = r.symbols.map((s) => s.name);
    expect(names).not.toContain('from_disk');
    // Compare with the same content read from disk: identical extraction.
    const same = await one(put('inputs/same.py', given));
    expect(r.symbols).toEqual(same.symbols);
  });

  it('inputs can supply a file that does not exist on disk, and bad content there is still classified', async () => {
    const res = await handleJob(
      request([ref('virtual/only-in-inputs.rs'), ref('virtual/bin.py')]),
      new Map([
        ['virtual/only-in-inputs.rs', new Uint8Array(Buffer.from('pub struct S;\n'))],
        ['virtual/bin.py', new Uint8Array([0x61, 0x00, 0x62])],
      ]),
    );
    expect(res.files[0]).toMatchObject({ status: 'ok', error: null, size: 14 });
    expectError(res.files[1], 'binary');
  });

  it('a Uint8Array view into a larger buffer is read at its own offset', async () => {
    const backing = Buffer.from('GARBAGE(((def sliced():\n    return 1\n)))GARBAGE');
    const start = backing.indexOf('def');
    const end = backing.indexOf(')))');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + start, end - start);
    const res = await handleJob(request([ref('view/v.py')]), new Map([['view/v.py', view]]));
    expect(res.files[0]).toMatchObject({ status: 'ok', size: end - start, hash: sha1(Buffer.from(view)) });
  });

  it('files with no root and no inputs are "unreadable"', async () => {
    const req = request([ref('ok/a.py')]);
    delete req.root;
    expectError((await handleJob(req)).files[0], 'unreadable');
  });
});

describe('handleJob: malformed requests throw', () => {
  it('an unknown protocol version', async () => {
    const req = { ...request([ref('ok/a.py')]), v: 99 } as unknown as JobRequest;
    await expect(handleJob(req)).rejects.toThrow(/unsupported job message \(v=99\)/);
  });

  it('files that are not an array', async () => {
    const req = { ...request([]), files: 'ok/a.py' } as unknown as JobRequest;
    await expect(handleJob(req)).rejects.toThrow(/unsupported job message/);
  });
});
