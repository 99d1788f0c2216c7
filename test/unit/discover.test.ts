/**
 * discover(): git mode (`git ls-files -co --exclude-standard`) and walk mode (directory walk + `ignore`) must agree
 * with each other and with git itself. Real temp trees and the real `git` binary; nothing is mocked.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { discover, type DiscoverOptions, type Discovery } from '../../src/discover/discover.js';

const INDEXABLE = ['.py', '.pyi', '.js', '.mjs', '.cjs', '.jsx', '.ts', '.tsx', '.mts', '.cts', '.rs'];
const isIndexable = (p: string) => {
  const base = p.slice(p.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot >= 0 && INDEXABLE.includes(base.slice(dot).toLowerCase());
};
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// Hermetic git: no user/system config (a global core.excludesFile would make git mode differ from walk mode), and
// never discover a repository above the temp dir (that would silently turn walk mode into git mode).
const GIT_ENV = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CEILING_DIRECTORIES: fs.realpathSync(os.tmpdir()),
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.invalid',
};
const savedEnv: Record<string, string | undefined> = {};
beforeAll(() => {
  for (const [k, v] of Object.entries(GIT_ENV)) {
    savedEnv[k] = process.env[k];
    process.env[k] = v; // discover() runs git with the inherited environment
  }
});
afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const made: string[] = [];
afterEach(() => {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
});

function tempDir(tag = 'disc-'): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `mcp-index-${tag}`)));
  made.push(dir);
  return dir;
}

type Tree = Record<string, string | Buffer>;

function write(root: string, tree: Tree): void {
  for (const [rel, content] of Object.entries(tree)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, content);
  }
}

function makeTree(tree: Tree): string {
  const root = tempDir();
  write(root, tree);
  return root;
}

function git(root: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function gitInit(root: string): void {
  git(root, 'init', '-q');
}

/** git's own listing of the work tree: tracked plus untracked-but-not-ignored. */
function gitOwnListing(root: string): string[] {
  return git(root, 'ls-files', '-co', '--exclude-standard', '-z').split('\0').filter(Boolean).sort(byCodeUnit);
}

/** `git check-ignore --no-index`: exit 0 = ignored, 1 = not ignored. */
function gitIgnores(root: string, rel: string): boolean {
  const r = spawnSync('git', ['check-ignore', '--no-index', '-q', '--', rel], { cwd: root });
  if (r.status === 0) return true;
  if (r.status === 1) return false;
  throw new Error(`git check-ignore ${rel} exited ${r.status}: ${r.stderr}`);
}

function opts(root: string, over: Partial<DiscoverOptions> = {}): DiscoverOptions {
  return { root, include: [], exclude: [], defaultExcludes: false, maxFileBytes: 1 << 20, ...over };
}

const paths = (d: Discovery) => d.files.map((f) => f.path);

/** Runs discover() on the tree as a plain directory, then again after `git init` (untracked files only). */
async function bothModes(root: string, over: Partial<DiscoverOptions> = {}): Promise<{ walk: Discovery; git: Discovery }> {
  const walk = await discover(opts(root, over));
  expect(walk.source).toBe('walk');
  gitInit(root);
  const viaGit = await discover(opts(root, over));
  expect(viaGit.source).toBe('git');
  return { walk, git: viaGit };
}

describe('gitignore parity: walk mode == git mode == git itself', () => {
  const ROOT_GITIGNORE = [
    '# a comment, not a pattern',
    '*.log.py',
    '!keep.log.py',
    'build/',
    '!build/keep.py', // cannot re-include: the parent directory is excluded
    '/top.py', // anchored: only the top-level one
    '**/gen/**',
    'cache/', // directory only: the file named cache stays
    'tmp*/',
    '[abc]_class.py',
    '*.py[io]', // character class on the extension: .pyi stubs go
    '\\#hash.py', // escaped: a pattern, not a comment
    '\\!bang.py', // escaped: a literal "!", not a negation
    'trail.py   ', // trailing spaces are stripped
    'logs/**', // everything inside logs/, but not logs/ itself...
    '!logs/keep.rs', // ...so this one can come back
    'js/*',
    '!js/keep/',
    'doc/frotz/', // a slash in the middle anchors to this .gitignore
    '',
  ].join('\n');

  const TREE: Tree = {
    '.gitignore': ROOT_GITIGNORE,
    'a.log.py': '',
    'keep.log.py': '',
    'src/x.log.py': '',
    'src/keep.log.py': '',
    'build/keep.py': '',
    'build/main.rs': '',
    'lib/build/z.py': '',
    'top.py': '',
    'sub/top.py': '',
    'gen/a.py': '',
    'pkg/gen/b.js': '',
    'pkg/gen/deep/c.ts': '',
    'pkg/generator.ts': '',
    cache: 'a file named cache, not a directory',
    'cache.py': '',
    'app/cache/d.py': '',
    'tmp_util.py': '',
    'tmpdir/e.py': '',
    'a_class.py': '',
    'c_class.py': '',
    'd_class.py': '',
    'stubs.pyi': '',
    'mod.py': '',
    '#hash.py': '',
    '!bang.py': '',
    'trail.py': '',
    'trail2.py': '',
    'logs/keep.rs': '',
    'logs/other.rs': '',
    'logs/sub/keep.rs': '',
    'js/a.js': '',
    'js/keep/b.jsx': '',
    'js/keep/deep/c.mjs': '',
    'doc/frotz/f.tsx': '',
    'x/doc/frotz/f.tsx': '',
    // Nested .gitignore overriding the parent: re-includes *.log.py, anchors /local.py to py/, adds *.cjs.
    'py/.gitignore': '!*.log.py\n/local.py\n*.cjs\n',
    'py/x.log.py': '',
    'py/local.py': '',
    'py/deeper/local.py': '',
    'py/deeper/w.cjs': '',
    'w.cjs': '',
    // Three levels: rs/ ignores *.rs, rs/inner/ brings a.rs back.
    'rs/.gitignore': '*.rs\n',
    'rs/a.rs': '',
    'rs/inner/.gitignore': '!a.rs\n',
    'rs/inner/a.rs': '',
    'rs/inner/b.rs': '',
    'with space/file name.mts': '',
    'README.md': '',
    Makefile: '',
  };

  // Worked out by hand from gitignore(5); git itself confirms it below.
  const EXPECTED = [
    'cache.py',
    'd_class.py',
    'js/keep/b.jsx',
    'js/keep/deep/c.mjs',
    'keep.log.py',
    'logs/keep.rs',
    'mod.py',
    'pkg/generator.ts',
    'py/deeper/local.py',
    'py/x.log.py',
    'rs/inner/a.rs',
    'src/keep.log.py',
    'sub/top.py',
    'tmp_util.py',
    'trail2.py',
    'w.cjs',
    'with space/file name.mts',
    'x/doc/frotz/f.tsx',
  ];

  it('lists exactly the files git lists, in both modes', async () => {
    const root = makeTree(TREE);
    const { walk, git: viaGit } = await bothModes(root);

    const own = gitOwnListing(root);
    const ownIndexable = own.filter(isIndexable);
    expect(ownIndexable).toEqual(EXPECTED); // our reading of gitignore(5) agrees with git
    expect(paths(viaGit)).toEqual(ownIndexable);
    expect(paths(walk)).toEqual(ownIndexable);

    // Non-indexable files (README.md, Makefile, the .gitignore files, the file named cache) are counted alike.
    const ownOther = own.filter((p) => !isIndexable(p));
    expect(ownOther).toContain('cache');
    expect(viaGit.otherFiles).toBe(ownOther.length);
    expect(walk.otherFiles).toBe(ownOther.length);
    expect(walk.skipped).toEqual([]);
    expect(viaGit.skipped).toEqual([]);
  });

  it('agrees with git check-ignore on individual paths', async () => {
    const root = makeTree(TREE);
    gitInit(root);
    const ignored = [
      'a.log.py',
      'build/keep.py',
      'lib/build/z.py',
      'top.py',
      'pkg/gen/deep/c.ts',
      'app/cache/d.py',
      'tmpdir/e.py',
      'c_class.py',
      'stubs.pyi',
      '#hash.py',
      '!bang.py',
      'trail.py',
      'logs/other.rs',
      'logs/sub/keep.rs',
      'js/a.js',
      'doc/frotz/f.tsx',
      'py/local.py',
      'py/deeper/w.cjs',
      'rs/a.rs',
      'rs/inner/b.rs',
    ];
    const kept = ['keep.log.py', 'sub/top.py', 'cache', 'cache.py', 'tmp_util.py', 'logs/keep.rs', 'js/keep/b.jsx', 'py/x.log.py', 'py/deeper/local.py', 'rs/inner/a.rs', 'x/doc/frotz/f.tsx'];
    for (const p of ignored) expect(gitIgnores(root, p), p).toBe(true);
    for (const p of kept) expect(gitIgnores(root, p), p).toBe(false);

    const listed = paths(await discover(opts(root)));
    for (const p of ignored) expect(listed, p).not.toContain(p);
    for (const p of kept.filter(isIndexable)) expect(listed, p).toContain(p);
  });

  it.runIf(process.platform === 'linux')('matches case-sensitively, as git does on a case-sensitive file system', async () => {
    const root = makeTree({ '.gitignore': 'Upper.py\n*.JS\n', 'Upper.py': '', 'upper.py': '', 'lower.js': '', 'LOUD.JS': '' });
    const { walk, git: viaGit } = await bothModes(root);
    const own = gitOwnListing(root).filter(isIndexable);
    expect(own).toEqual(['lower.js', 'upper.py']);
    expect(paths(viaGit)).toEqual(own);
    expect(paths(walk)).toEqual(own);
  });

  it('treats a symlinked directory as a file, and does not read a symlinked .gitignore (as git does)', async () => {
    const root = makeTree({ 'real/a.py': '', 'other/rules': 'a.py\n', 'other/b.py': '' });
    fs.symlinkSync('real', path.join(root, 'cache')); // `cache/` must not match a symlink
    fs.symlinkSync('rules', path.join(root, 'other', '.gitignore'));
    fs.writeFileSync(path.join(root, '.gitignore'), 'cache/\n');
    const { walk, git: viaGit } = await bothModes(root);
    const own = gitOwnListing(root);
    expect(own).toContain('cache');
    expect(own).toContain('other/.gitignore');
    expect(paths(viaGit)).toEqual(own.filter(isIndexable));
    expect(paths(walk)).toEqual(own.filter(isIndexable));
    expect(paths(walk)).toEqual(['other/b.py', 'real/a.py']);
    expect(walk.otherFiles).toBe(viaGit.otherFiles);
  });
});

describe('walk mode specifics', () => {
  it('never lists anything under a .git directory, even when it is not a valid repository', async () => {
    // No HEAD: git does not recognise it, so discovery walks; the walk must still leave .git alone.
    const root = makeTree({ '.git/hooks/pre-commit.py': '', '.git/objects/x.js': '', 'sub/.git': 'gitdir: /nonexistent\n', 'sub/a.py': '', 'b.rs': '' });
    const d = await discover(opts(root, { defaultExcludes: false }));
    expect(d.source).toBe('walk');
    expect(paths(d)).toEqual(['b.rs', 'sub/a.py']);
    expect(d.otherFiles).toBe(0);
  });
});

describe('git mode specifics', () => {
  it('lists tracked files even when ignored, and drops tracked files deleted from the work tree', async () => {
    const root = makeTree({ 'a.py': '', 'gone.py': '', 'forced.py': '' });
    gitInit(root);
    git(root, 'add', '.');
    git(root, 'commit', '-q', '-m', 'init');
    fs.writeFileSync(path.join(root, '.gitignore'), 'forced.py\nnew_ignored.py\n');
    fs.writeFileSync(path.join(root, 'new_ignored.py'), '');
    fs.writeFileSync(path.join(root, 'untracked.rs'), '');
    fs.rmSync(path.join(root, 'gone.py'));

    const d = await discover(opts(root));
    expect(d.source).toBe('git');
    expect(paths(d)).toEqual(['a.py', 'forced.py', 'untracked.rs']);
    expect(d.skipped).toEqual([]);
  });

  it('lists paths relative to the root when the root is a subdirectory of a work tree', async () => {
    const top = makeTree({ 'outer.py': '', 'pkg/inner.py': '', 'pkg/sub/deep.rs': '', 'pkg/.gitignore': 'sub/\n' });
    gitInit(top);
    const d = await discover(opts(path.join(top, 'pkg')));
    expect(d.source).toBe('git');
    expect(paths(d)).toEqual(['inner.py']);
  });

  it('walks a root that the enclosing repository ignores, under the root\'s own .gitignore files', async () => {
    const top = makeTree({
      '.gitignore': '/vendored/\n',
      'outer.py': '',
      'vendored/lib.py': '',
      'vendored/.gitignore': 'build/\n',
      'vendored/build/gen.py': '',
    });
    gitInit(top);
    const d = await discover(opts(path.join(top, 'vendored')));
    expect(d.source).toBe('walk');
    expect(paths(d)).toEqual(['lib.py']);
    // From the top, git's rules still hold: the ignored folder is not listed.
    expect(paths(await discover(opts(top)))).toEqual(['outer.py']);
  });
});

describe.each(['walk', 'git'] as const)('%s mode', (mode) => {
  async function run(tree: Tree, over: Partial<DiscoverOptions> = {}, setup?: (root: string) => void) {
    const root = makeTree(tree);
    setup?.(root);
    if (mode === 'git') gitInit(root);
    const d = await discover(opts(root, over));
    expect(d.source).toBe(mode);
    return { root, d };
  }

  describe('default excludes', () => {
    const TREE: Tree = {
      'src/app.js': '',
      'src/main.py': '',
      'src/app.min.js': '',
      'node_modules/x/index.js': '',
      'a/node_modules/y.js': '',
      'vendor/v.rs': '',
      'dist/out.js': '',
      'target/debug/build.rs': '',
      '__pycache__/m.py': '',
      'pkg/__pycache__/n.py': '',
      // Near misses that must stay.
      'distance/d.py': '',
      'vendor.py': '',
      'src/min.js': '',
      'my_node_modules/z.js': '',
    };
    const EXCLUDED = [
      'src/app.min.js',
      'node_modules/x/index.js',
      'a/node_modules/y.js',
      'vendor/v.rs',
      'dist/out.js',
      'target/debug/build.rs',
      '__pycache__/m.py',
      'pkg/__pycache__/n.py',
    ];
    const ALL = Object.keys(TREE).sort(byCodeUnit);

    it('skips vendored and generated folders and *.min.js when on', async () => {
      const { d } = await run(TREE, { defaultExcludes: true });
      expect(paths(d)).toEqual(ALL.filter((p) => !EXCLUDED.includes(p)));
      expect(d.otherFiles).toBe(0); // excluded files are not "other" files either
    });

    it('keeps everything when off', async () => {
      const { d } = await run(TREE, { defaultExcludes: false });
      expect(paths(d)).toEqual(ALL);
    });
  });

  describe('include / exclude / only', () => {
    const TREE: Tree = {
      'src/a.ts': '',
      'src/a.test.ts': '',
      'src/gen/b.ts': '',
      'src/deep/er/c.rs': '',
      'lib/d.py': '',
      'lib/e.py': '',
      'x.py/inner.rs': '', // a directory whose name looks like a Python file
      'top.js': '',
      'notes.md': '',
      'src/notes.md': '',
    };

    it('include restricts, exclude removes, exclude wins over include', async () => {
      expect(paths((await run(TREE, { include: ['src/**'] })).d)).toEqual(['src/a.test.ts', 'src/a.ts', 'src/deep/er/c.rs', 'src/gen/b.ts']);
      expect(paths((await run(TREE, { exclude: ['**/*.test.ts', 'lib/**'] })).d)).toEqual([
        'src/a.ts',
        'src/deep/er/c.rs',
        'src/gen/b.ts',
        'top.js',
        'x.py/inner.rs',
      ]);
      expect(paths((await run(TREE, { include: ['src/**', 'lib/d.py'], exclude: ['**/*.test.ts'] })).d)).toEqual([
        'lib/d.py',
        'src/a.ts',
        'src/deep/er/c.rs',
        'src/gen/b.ts',
      ]);
    });

    it('a glob that names a directory level does not drop files deeper down', async () => {
      // `src/*` matches src/a.ts but not src/gen/b.ts; `*.py` and `**/*.py` match x.py/ but not x.py/inner.rs.
      expect(paths((await run(TREE, { exclude: ['src/*'] })).d)).toEqual([
        'lib/d.py',
        'lib/e.py',
        'src/deep/er/c.rs',
        'src/gen/b.ts',
        'top.js',
        'x.py/inner.rs',
      ]);
      expect(paths((await run(TREE, { exclude: ['**/*.py'] })).d)).toEqual([
        'src/a.test.ts',
        'src/a.ts',
        'src/deep/er/c.rs',
        'src/gen/b.ts',
        'top.js',
        'x.py/inner.rs',
      ]);
      expect(paths((await run(TREE, { exclude: ['*.py'] })).d)).toContain('x.py/inner.rs');
      expect(paths((await run(TREE, { exclude: ['src/*/*'] })).d)).toContain('src/deep/er/c.rs');
    });

    it('a directory glob removes the whole directory', async () => {
      expect(paths((await run(TREE, { exclude: ['src/**'] })).d)).toEqual(['lib/d.py', 'lib/e.py', 'top.js', 'x.py/inner.rs']);
      expect(paths((await run(TREE, { exclude: ['**/gen/**', 'src/deep/**'] })).d)).toEqual([
        'lib/d.py',
        'lib/e.py',
        'src/a.test.ts',
        'src/a.ts',
        'top.js',
        'x.py/inner.rs',
      ]);
    });

    it('only restricts to the given paths, still subject to excludes', async () => {
      const only = new Set(['src/a.ts', 'lib/d.py', 'src/a.test.ts', 'notes.md', 'missing.py', 'src']);
      const { d } = await run(TREE, { only, exclude: ['**/*.test.ts'] });
      expect(paths(d)).toEqual(['lib/d.py', 'src/a.ts']);
      expect(d.otherFiles).toBe(1); // notes.md; src/notes.md is not in the set
      expect(d.skipped).toEqual([]); // a path in the set that does not exist is simply absent
    });

    it('an empty only set lists nothing', async () => {
      const { d } = await run(TREE, { only: new Set() });
      expect(d.files).toEqual([]);
      expect(d.otherFiles).toBe(0);
    });
  });

  describe('oversize files', () => {
    it('become SkippedFile with code oversize and are never listed', async () => {
      const { d } = await run({ 'small.py': 'x'.repeat(100), 'edge.rs': 'y'.repeat(1000), 'big.ts': 'z'.repeat(1001), 'huge.js': 'w'.repeat(5000) }, { maxFileBytes: 1000 });
      expect(d.files.map((f) => [f.path, f.size])).toEqual([
        ['edge.rs', 1000], // exactly the limit is allowed
        ['small.py', 100],
      ]);
      expect(d.skipped.map((s) => [s.path, s.size, s.language, s.error.code])).toEqual([
        ['big.ts', 1001, 'typescript', 'oversize'],
        ['huge.js', 5000, 'javascript', 'oversize'],
      ]);
      for (const s of d.skipped) expect(s.error.message).toMatch(/1000/);
    });
  });

  describe('symlinks', () => {
    it('a link to a file outside the root is a path-escape; a link inside the root is listed under its own path', async () => {
      const outside = tempDir('outside-');
      fs.writeFileSync(path.join(outside, 'secret.py'), 'password = 1\n');
      const { d, root } = await run({ 'real/orig.py': 'def f(): pass\n', 'a.py': '' }, {}, (root) => {
        fs.symlinkSync(path.join(outside, 'secret.py'), path.join(root, 'escape.py'));
        fs.symlinkSync(path.relative(path.join(root, 'real'), path.join(outside, 'secret.py')), path.join(root, 'real', 'rel-escape.py'));
        // A sibling whose name extends the root's: a naive prefix test would let it through.
        const sibling = root + '-evil';
        made.push(sibling);
        fs.mkdirSync(sibling);
        fs.writeFileSync(path.join(sibling, 'x.py'), '');
        fs.symlinkSync(path.join(sibling, 'x.py'), path.join(root, 'prefix-escape.py'));
        // Chain: inside link -> inside link -> outside.
        fs.symlinkSync('escape.py', path.join(root, 'chain.py'));
        fs.symlinkSync('real/orig.py', path.join(root, 'alias.py'));
        fs.symlinkSync(path.join(root, 'real', 'orig.py'), path.join(root, 'abs-alias.rs'));
      });
      expect(paths(d)).toEqual(['a.py', 'abs-alias.rs', 'alias.py', 'real/orig.py']);
      const alias = d.files.find((f) => f.path === 'alias.py')!;
      expect(alias.size).toBe(fs.statSync(path.join(root, 'real/orig.py')).size);
      expect(alias.language).toBe('python');
      expect(d.skipped.map((s) => [s.path, s.error.code])).toEqual([
        ['chain.py', 'path-escape'],
        ['escape.py', 'path-escape'],
        ['prefix-escape.py', 'path-escape'],
        ['real/rel-escape.py', 'path-escape'],
      ]);
    });

    it('a dangling link is never listed', async () => {
      const { d } = await run({ 'a.py': '' }, {}, (root) => fs.symlinkSync('nowhere.py', path.join(root, 'dangling.py')));
      expect(paths(d)).toEqual(['a.py']);
      expect(d.skipped.map((s) => s.path)).toEqual(['dangling.py']);
    });

    it('a symlinked directory loop does not hang and is not followed', async () => {
      const { d } = await run({ 'a/b/c.py': '', 'top.rs': '' }, {}, (root) => {
        fs.symlinkSync('.', path.join(root, 'loop'));
        fs.symlinkSync('../..', path.join(root, 'a', 'b', 'up'));
        fs.symlinkSync(root, path.join(root, 'a', 'self.py')); // a link to a directory with a source-like name
      });
      expect(paths(d)).toEqual(['a/b/c.py', 'top.rs']);
      expect(d.skipped).toEqual([]);
    });
  });

  describe('ordering and counting', () => {
    // Names chosen so that creation order, readdir order and locale order all differ from code-unit order.
    const names = ['b.py', 'B.py', 'a.py', '_x.py', 'Z/z.rs', 'a/b.ts', 'a-b.ts', 'a.b/c.ts', 'a0.js', 'é.py', 'e.py', 'A/a.tsx', 'a/A.mts', 'aa/b.cts', 'a/b/c/d.pyi'];
    const TREE: Tree = {};
    for (let i = 0; i < 60; i++) TREE[`d${(i * 37) % 60}/f${(i * 13) % 60}.${['py', 'rs', 'ts'][i % 3]}`] = `${i}\n`;
    for (const n of names) TREE[n] = n;
    Object.assign(TREE, { 'README.md': '', Makefile: '', 'data/x.json': '{}', 'img.png': Buffer.from([0x89, 0x50]), 'noext/LICENSE': '' });
    const sourceCount = Object.keys(TREE).filter(isIndexable).length;

    it('sorts by path (code-unit order), deterministically, and counts other files', async () => {
      const { d, root } = await run(TREE);
      const listed = paths(d);
      expect(listed).toEqual([...listed].sort(byCodeUnit));
      expect(listed).toEqual(Object.keys(TREE).filter(isIndexable).sort(byCodeUnit));
      expect(listed.length).toBe(sourceCount);
      expect(new Set(listed).size).toBe(listed.length);
      // 5 non-source files, plus nothing else (no .gitignore here; .git is never listed).
      expect(d.otherFiles).toBe(5);
      const again = await discover(opts(root));
      expect(again).toEqual(d);
    });

    it('reports language, size and mtime of each file', async () => {
      const { d, root } = await run({ 'a.pyi': 'x: int\n', 'b.tsx': '<a/>', 'c.mts': '', 'd.CJS': '1', 'e.rs': 'fn main(){}' });
      expect(d.files.map((f) => [f.path, f.language, f.size])).toEqual([
        ['a.pyi', 'python', 7],
        ['b.tsx', 'tsx', 4],
        ['c.mts', 'typescript', 0],
        ['d.CJS', 'javascript', 1],
        ['e.rs', 'rust', 11],
      ]);
      for (const f of d.files) {
        expect(f.mtimeMs).toBe(Math.trunc(fs.statSync(path.join(root, f.path)).mtimeMs));
        expect(Number.isInteger(f.mtimeMs)).toBe(true);
      }
    });

    it('skipped files are sorted by path too', async () => {
      const big = 'x'.repeat(50);
      const { d } = await run({ 'z.py': big, 'a.py': big, 'm/n.rs': big, 'B.ts': big, 'ok.py': '' }, { maxFileBytes: 10 });
      expect(d.skipped.map((s) => s.path)).toEqual(['B.ts', 'a.py', 'm/n.rs', 'z.py']);
      expect(paths(d)).toEqual(['ok.py']);
    });
  });
});

describe('languages turned off', () => {
  it('are not listed, and are counted per language in both modes (others and oversize files as before)', async () => {
    const root = makeTree({ 'a.go': 'package a\n', 'b/c.go': 'package b\n', 'D.java': 'class D {}\n', 'e.py': 'x = 1\n', 'big.py': 'x = 1\n'.repeat(100), 'notes.txt': 'hi\n' });
    const { walk, git: viaGit } = await bothModes(root, { languages: new Set(['python', 'java'] as const), maxFileBytes: 100 });
    for (const d of [walk, viaGit]) {
      expect(paths(d)).toEqual(['D.java', 'e.py']);
      expect(d.turnedOff).toEqual({ go: 2 });
      expect(d.skipped.map((s) => s.path)).toEqual(['big.py']);
      expect(d.otherFiles).toBe(1);
    }
    const all = await discover(opts(root));
    expect(all.turnedOff).toEqual({});
    expect(paths(all)).toEqual(['D.java', 'a.go', 'b/c.go', 'big.py', 'e.py']);
  });
});
