import type { Language } from '../protocol/types.js';

// Apart from the registry so that discovery can classify files without loading tree-sitter and every grammar.

/** Extension -> language. The only place that decides what a file is. */
const EXTENSIONS: Readonly<Record<string, Language>> = {
  '.py': 'python',
  '.pyi': 'python',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascript',
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'tsx',
  '.rs': 'rust',
};

export function languageOf(path: string): Language | null {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return null;
  return EXTENSIONS[path.slice(dot).toLowerCase()] ?? null;
}
