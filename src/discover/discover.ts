import { execFile } from 'node:child_process';
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { promisify } from 'node:util';
import ignore, { type Ignore } from 'ignore';
import picomatch from 'picomatch';
import { languageOf } from '../extract/extensions.js';
import { oversizeError, type FileError, type Language } from '../protocol/types.js';

const exec = promisify(execFile);

/** Vendored, generated and tool folders that are almost never the code a person is asking about. */
export const DEFAULT_EXCLUDES = [
  '**/node_modules/**',
  '**/bower_components/**',
  '**/vendor/**',
  '**/third_party/**',
  '**/dist/**',
  '**/build/**',
  '**/target/**',
  '**/out/**',
  '**/coverage/**',
  '**/__pycache__/**',
  '**/.venv/**',
  '**/venv/**',
  '**/.tox/**',
  '**/.mypy_cache/**',
  '**/.next/**',
  '**/.git/**',
  '**/*.min.js',
];

export interface DiscoverOptions {
  root: string; // absolute, real path
  include: string[];
  exclude: string[];
  defaultExcludes: boolean;
  maxFileBytes: number;
  /** The languages to index; files of the others are counted in `turnedOff`. Null or absent: all. */
  languages?: ReadonlySet<Language> | null;
  /** Restrict to these repo-relative paths (e.g. --files, --changed-since); null means the whole tree. */
  only?: ReadonlySet<string> | null;
}

export interface DiscoveredFile {
  path: string; // POSIX, relative to root
  size: number;
  mtimeMs: number;
  language: Language;
}

export interface SkippedFile {
  path: string;
  size: number;
  language: Language;
  error: FileError;
}

export interface Discovery {
  files: DiscoveredFile[];
  skipped: SkippedFile[];
  /** How the listing was made: git's own rules, or the gitignore library over a directory walk. */
  source: 'git' | 'walk';
  /** Files seen but not indexed because no grammar handles them. */
  otherFiles: number;
  /** Files not indexed because their language is turned off (`languages`), per language. */
  turnedOff: Partial<Record<Language, number>>;
}

function realpathOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

const toPosix = (p: string) => (sep === '/' ? p : p.split(sep).join('/'));

async function gitListing(root: string): Promise<string[] | null> {
  try {
    const { stdout: inside } = await exec('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root });
    if (inside.trim() !== 'true') return null;
  } catch {
    return null; // not a work tree, or git not installed: walk instead
  }
  // A folder the enclosing repository ignores (a pyenv or vendored checkout) holds nothing by git's rules. The user
  // named it, so it is indexed as a plain folder, under its own .gitignore files.
  const ignored = await exec('git', ['check-ignore', '-q', '.'], { cwd: root }).then(
    () => true,
    () => false,
  );
  if (ignored) return null;
  // -co: tracked and untracked-but-not-ignored, exactly git's view of the tree, with its .gitignore semantics.
  const { stdout } = await exec('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: root,
    maxBuffer: 1 << 30,
  });
  return stdout.split('\0').filter(Boolean);
}

/** git init sets core.ignorecase on the file systems that are case-insensitive by default. */
const CASE_INSENSITIVE_FS = process.platform === 'darwin' || process.platform === 'win32';

/** Directory walk honouring nested .gitignore files, for trees that are not git work trees. */
async function walkListing(root: string, excludedDir: (p: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const stack: { dir: string; rules: { base: string; ig: Ignore }[] }[] = [{ dir: '', rules: [] }];
  while (stack.length) {
    const { dir, rules: parentRules } = stack.pop()!;
    const abs = join(root, dir);
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch {
      continue; // unreadable directory: nothing under it can be listed (git behaves the same)
    }
    let rules = parentRules;
    if (entries.some((e) => e.name === '.gitignore' && e.isFile())) {
      const text = await readFile(join(abs, '.gitignore'), 'utf8').catch(() => '');
      // Case-sensitive like git on Linux (core.ignorecase is false there); `ignore` defaults to case-insensitive.
      rules = [...parentRules, { base: dir, ig: ignore({ ignorecase: CASE_INSENSITIVE_FS }).add(text) }];
    }
    const ignored = (rel: string, isDir: boolean): boolean => {
      let verdict = false;
      for (const { base, ig } of rules) {
        const local = base ? rel.slice(base.length + 1) : rel;
        const r = ig.test(isDir ? local + '/' : local);
        if (r.ignored) verdict = true;
        else if (r.unignored) verdict = false;
      }
      return verdict;
    };
    for (const e of entries) {
      if (e.name === '.git') continue;
      const rel = dir ? `${dir}/${e.name}` : e.name;
      const isDir = e.isDirectory();
      if (ignored(rel, isDir)) continue;
      if (isDir) {
        if (!excludedDir(rel)) stack.push({ dir: rel, rules });
      } else if (e.isFile() || e.isSymbolicLink()) {
        out.push(rel);
      }
    }
  }
  return out;
}

/**
 * Every file of the tree as git sees it (or, outside git, as the gitignore rules say), minus the exclude globs, as
 * repo-relative POSIX paths: what discovery starts from, and what content search reads besides the indexed files.
 */
export async function listRepository(opts: Pick<DiscoverOptions, 'root' | 'include' | 'exclude' | 'defaultExcludes'>): Promise<{ paths: string[]; source: 'git' | 'walk' }> {
  const excludeGlobs = [...opts.exclude, ...(opts.defaultExcludes ? DEFAULT_EXCLUDES : [])];
  const isExcluded = excludeGlobs.length ? picomatch(excludeGlobs, { dot: true }) : () => false;
  const isIncluded = opts.include.length ? picomatch(opts.include, { dot: true }) : () => true;
  // The walk may skip a directory only if every path under it is excluded: true when the directory matches the
  // part of a `<prefix>/**` glob before `/**`. (Testing `dir/` against all globs is not: `src/*` matches `src/gen/`
  // yet not `src/gen/a.ts`, which git mode would list.)
  const dirGlobs = excludeGlobs.filter((g) => g.endsWith('/**') && g.length > 3 && !g.startsWith('!')).map((g) => g.slice(0, -3));
  const isExcludedDir = dirGlobs.length ? picomatch(dirGlobs, { dot: true }) : () => false;

  const listed = await gitListing(opts.root);
  const source = listed ? 'git' : 'walk';
  const paths = (listed ?? (await walkListing(opts.root, isExcludedDir))).map(toPosix).filter((p) => !isExcluded(p) && isIncluded(p));
  return { paths, source };
}

export async function discover(opts: DiscoverOptions): Promise<Discovery> {
  const { paths, source } = await listRepository(opts);

  const files: DiscoveredFile[] = [];
  const skipped: SkippedFile[] = [];
  let otherFiles = 0;
  const turnedOff: Partial<Record<Language, number>> = {};
  const rootPrefix = opts.root.endsWith(sep) ? opts.root : opts.root + sep;

  const candidates: { path: string; language: Language }[] = [];
  for (const path of paths) {
    if (opts.only && !opts.only.has(path)) continue;
    const language = languageOf(path);
    if (!language) {
      otherFiles++;
      continue;
    }
    if (opts.languages && !opts.languages.has(language)) {
      turnedOff[language] = (turnedOff[language] ?? 0) + 1;
      continue;
    }
    candidates.push({ path, language });
  }

  // Synchronous stats: a re-run finds them in the kernel's cache, where a promise per file costs more than the call.
  for (const { path, language } of candidates) {
    const abs = join(opts.root, path);
    try {
      const l = lstatSync(abs);
      let s = l;
      if (l.isSymbolicLink()) {
        // Never follow a link out of the root; a link inside it is indexed under its own path.
        const target = realpathOrNull(abs);
        if (!target || !(target + sep).startsWith(rootPrefix)) {
          skipped.push({ path, size: 0, language, error: { code: 'path-escape', message: 'symlink points outside the repository' } });
          continue;
        }
        s = statSync(abs);
      }
      if (!s.isFile()) continue; // a directory listed by git (submodule) or a socket
      if (s.size > opts.maxFileBytes) {
        skipped.push({ path, size: s.size, language, error: oversizeError(s.size, opts.maxFileBytes) });
        continue;
      }
      files.push({ path, size: s.size, mtimeMs: Math.trunc(s.mtimeMs), language });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && source === 'git') continue; // tracked but deleted in the work tree: not part of it
      skipped.push({
        path,
        size: 0,
        language,
        error: code === 'ENOENT' ? { code: 'deleted', message: 'file vanished during discovery' } : { code: 'unreadable', message: String((err as Error).message) },
      });
    }
  }

  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  files.sort(byPath);
  skipped.sort(byPath);
  return { files, skipped, source, otherFiles, turnedOff };
}

