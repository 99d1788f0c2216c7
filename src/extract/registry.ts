/**
 * Languages: one entry each, naming the grammar, the extractor plugin and the grammar's known gaps. A new language
 * is a file in ./languages/, an entry here, its extensions in ./extensions.ts, and golden fixtures.
 */
import { createRequire } from 'node:module';
import Parser from 'tree-sitter';
import type { FileError, Language } from '../protocol/types.js';
import { python } from './languages/python.js';
import { javascript, typescript, typescriptGaps } from './languages/javascript.js';
import { rust, rustGaps } from './languages/rust.js';
import { go, goGaps } from './languages/go.js';
import { java } from './languages/java.js';
import { c, cGaps } from './languages/c.js';
import { cpp, cppGaps } from './languages/cpp.js';
import { csharp, csharpGaps } from './languages/csharp.js';
import { ruby } from './languages/ruby.js';
import { php } from './languages/php.js';
import { extractWith, type Extraction, type GrammarGap, type LanguagePlugin, type SyntaxNode } from './toolkit/index.js';

const require = createRequire(import.meta.url);

interface LanguageSpec {
  /** npm package of the tree-sitter grammar, and the export holding it when the package has several. */
  grammar: { package: string; export?: string };
  plugin: LanguagePlugin;
  /** Valid syntax this grammar version rejects (see README "What does not parse"). */
  gaps: readonly GrammarGap[];
}

const SPECS: Readonly<Record<Language, LanguageSpec>> = {
  python: { grammar: { package: 'tree-sitter-python' }, plugin: python, gaps: [] },
  javascript: { grammar: { package: 'tree-sitter-javascript' }, plugin: javascript, gaps: [] },
  typescript: { grammar: { package: 'tree-sitter-typescript', export: 'typescript' }, plugin: typescript, gaps: typescriptGaps },
  tsx: { grammar: { package: 'tree-sitter-typescript', export: 'tsx' }, plugin: typescript, gaps: typescriptGaps },
  rust: { grammar: { package: 'tree-sitter-rust' }, plugin: rust, gaps: rustGaps },
  go: { grammar: { package: 'tree-sitter-go' }, plugin: go, gaps: goGaps },
  java: { grammar: { package: 'tree-sitter-java' }, plugin: java, gaps: [] },
  c: { grammar: { package: 'tree-sitter-c' }, plugin: c, gaps: cGaps },
  cpp: { grammar: { package: 'tree-sitter-cpp' }, plugin: cpp, gaps: cppGaps },
  csharp: { grammar: { package: 'tree-sitter-c-sharp' }, plugin: csharp, gaps: csharpGaps },
  ruby: { grammar: { package: 'tree-sitter-ruby' }, plugin: ruby, gaps: [] },
  php: { grammar: { package: 'tree-sitter-php', export: 'php' }, plugin: php, gaps: [] },
};

const parsers = new Map<Language, Parser>();

/**
 * One parser per language per thread (tree-sitter parsers are not thread-safe, and creating them is not free).
 * Grammars load on first use: a worker that only sees Python never loads the Rust grammar.
 */
export function parserFor(language: Language): Parser {
  let parser = parsers.get(language);
  if (!parser) {
    const g = SPECS[language].grammar;
    const mod = require(g.package) as Record<string, unknown>;
    parser = new Parser();
    parser.setLanguage((g.export ? mod[g.export] : mod) as Parser.Language);
    parsers.set(language, parser);
  }
  return parser;
}

/** Symbols and references of a parsed file. Throws TooDeepError past the depth guard; anything else is a bug. */
export function extract(language: Language, root: SyntaxNode, src: string): Extraction {
  return extractWith(SPECS[language].plugin, root, src);
}

/** Examined at most: a file with more error nodes than this is not a known gap. */
const MAX_PROBLEMS = 256;

/**
 * Null for a clean tree. Otherwise `syntax` at the first error no known grammar gap explains, or, when every error
 * is a known gap, `grammar-gap` naming them (the file is then `ok`).
 */
export function syntaxError(language: Language, root: SyntaxNode, src: string): FileError | null {
  if (!root.hasError) return null;
  const spec = SPECS[language];
  const found = new Map<string, string>(); // gap name -> first position
  const stack: SyntaxNode[] = [root];
  let seen = 0;
  while (stack.length) {
    const n = stack.pop()!;
    const isError = n.type === 'ERROR';
    if (isError || n.isMissing) {
      const at = `${n.startPosition.row + 1}:${n.startPosition.column}`;
      const explains = (wide: boolean) => (g: GrammarGap) => g.test(src, n.startIndex, n.endIndex, wide);
      const gap = ++seen <= MAX_PROBLEMS ? (spec.gaps.find(explains(false)) ?? spec.gaps.find(explains(true))) : undefined;
      if (!gap) return { code: 'syntax', message: `syntax error at ${at}` };
      if (!found.has(gap.name)) found.set(gap.name, at);
      if (isError) continue;
    }
    const children = n.children;
    for (let i = children.length - 1; i >= 0; i--) if (children[i].hasError || children[i].isMissing) stack.push(children[i]);
  }
  if (!found.size) {
    // no error node to be found (tree-sitter-go's MISSING terminator at the end of a file is not a listed child):
    // the gaps that can be there are asked about the end of the file
    const end = spec.gaps.find((g) => g.atEnd && g.test(src, src.length, src.length, true));
    if (!end) return { code: 'syntax', message: 'syntax error' };
    found.set(end.name, 'the end');
  }
  const list = [...found].map(([name, at]) => `${name} at ${at}`).join('; ');
  return { code: 'grammar-gap', message: `valid syntax that ${spec.grammar.package} does not parse: ${list}` };
}

/** Parse + extract in one call, for tests and golden snapshots. The worker adds limits and error handling. */
export function parseAndExtract(language: Language, src: string): Extraction & { hasError: boolean; error: FileError | null } {
  const tree = parserFor(language).parse(src, undefined, { bufferSize: src.length + 1 });
  return { ...extract(language, tree.rootNode, src), hasError: tree.rootNode.hasError, error: syntaxError(language, tree.rootNode, src) };
}
