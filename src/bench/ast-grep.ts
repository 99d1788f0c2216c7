/**
 * ast-grep, the bench's second anchor: native tree-sitter parsing plus one structural match per file, the least a
 * tree-sitter tool does with a tree. Its binary comes from the `@ast-grep/cli` package (a devDependency).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Language } from '../protocol/types.js';

/** ast-grep's language names, and the node kind of a function definition in each. */
const RULES: Record<Language, { lang: string; kind: string }> = {
  python: { lang: 'python', kind: 'function_definition' },
  javascript: { lang: 'javascript', kind: 'function_declaration' },
  typescript: { lang: 'typescript', kind: 'function_declaration' },
  tsx: { lang: 'tsx', kind: 'function_declaration' },
  rust: { lang: 'rust', kind: 'function_item' },
  go: { lang: 'go', kind: 'function_declaration' },
  java: { lang: 'java', kind: 'method_declaration' },
  c: { lang: 'c', kind: 'function_definition' },
  cpp: { lang: 'cpp', kind: 'function_definition' },
  csharp: { lang: 'csharp', kind: 'method_declaration' },
  ruby: { lang: 'ruby', kind: 'method' },
  php: { lang: 'php', kind: 'function_definition' },
};

/** One rule per language present: `ast-grep scan --inline-rules` parses each file once and matches. */
export function astGrepRules(languages: Iterable<Language>): string {
  return [...new Set(languages)]
    .sort()
    .map((l) => `id: fn-${l}\nlanguage: ${RULES[l].lang}\nseverity: info\nrule:\n  kind: ${RULES[l].kind}`)
    .join('\n---\n');
}

/**
 * The ast-grep binary and its version: the package's own, or (when the package manager skipped its postinstall,
 * which puts the binary in place) the platform package's. Null with the reason when neither runs.
 */
export function astGrepBinary(): { ok: true; bin: string; version: string } | { ok: false; reason: string } {
  const require = createRequire(import.meta.url);
  const candidates: string[] = [];
  try {
    candidates.push(join(dirname(require.resolve('@ast-grep/cli/package.json')), 'ast-grep'));
  } catch {
    return { ok: false, reason: 'ast-grep not installed (npm i -D @ast-grep/cli)' };
  }
  const platform = `@ast-grep/cli-${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : process.platform === 'win32' ? '-msvc' : ''}`;
  try {
    candidates.push(join(dirname(require.resolve(`${platform}/package.json`)), 'ast-grep'));
  } catch {
    // not installed for this platform
  }
  for (const bin of candidates) {
    if (!existsSync(bin)) continue;
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { ok: true, bin, version: r.stdout.trim() };
  }
  return { ok: false, reason: `no runnable ast-grep binary in @ast-grep/cli or ${platform}` };
}
