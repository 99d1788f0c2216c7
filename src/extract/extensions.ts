import type { Language } from '../protocol/types.js';

// Apart from the registry so that discovery can classify files without loading tree-sitter, a grammar or an
// extractor. A language's row here goes with its entry in registry.ts (the compiler asks for both).

/** File name endings of each language. The only place that decides what a file is. */
const EXTENSIONS: Readonly<Record<Language, readonly string[]>> = {
  python: ['.py', '.pyi'],
  javascript: ['.js', '.mjs', '.cjs', '.jsx'],
  typescript: ['.ts', '.mts', '.cts'],
  tsx: ['.tsx'],
  rust: ['.rs'],
  go: ['.go'],
  java: ['.java'],
  c: ['.c', '.h'],
  cpp: ['.cc', '.cpp', '.cxx', '.hpp', '.hh', '.hxx'],
  csharp: ['.cs'],
  ruby: ['.rb'],
  php: ['.php'],
};

const BY_EXTENSION = new Map<string, Language>(
  (Object.entries(EXTENSIONS) as [Language, readonly string[]][]).flatMap(([language, exts]) => exts.map((e) => [e, language] as const)),
);

export function languageOf(path: string): Language | null {
  const dot = path.lastIndexOf('.');
  if (dot < 0 || dot < path.lastIndexOf('/')) return null;
  return BY_EXTENSION.get(path.slice(dot).toLowerCase()) ?? null;
}
