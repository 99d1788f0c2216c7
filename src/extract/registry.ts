import { createRequire } from 'node:module';
import Parser from 'tree-sitter';
import type { Language } from '../protocol/types.js';
import type { Extraction, SyntaxNode } from './common.js';
import { extract as extractPython } from './languages/python.js';
import { extract as extractJavaScript } from './languages/javascript.js';
import { extract as extractRust } from './languages/rust.js';

const require = createRequire(import.meta.url);

type Extractor = (root: SyntaxNode, src: string) => Extraction;

interface LanguageSpec {
  grammar: () => unknown;
  extract: Extractor;
}

// Grammars load lazily: a worker that only sees Python never pays for the Rust grammar.
const SPECS: Record<Language, LanguageSpec> = {
  python: { grammar: () => require('tree-sitter-python'), extract: extractPython },
  javascript: { grammar: () => require('tree-sitter-javascript'), extract: extractJavaScript },
  typescript: { grammar: () => require('tree-sitter-typescript').typescript, extract: extractJavaScript },
  tsx: { grammar: () => require('tree-sitter-typescript').tsx, extract: extractJavaScript },
  rust: { grammar: () => require('tree-sitter-rust'), extract: extractRust },
};

const parsers = new Map<Language, Parser>();

/** One parser per language per thread (tree-sitter parsers are not thread-safe, and creating them is not free). */
export function parserFor(language: Language): Parser {
  let parser = parsers.get(language);
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(SPECS[language].grammar() as Parser.Language);
    parsers.set(language, parser);
  }
  return parser;
}

export function extractorFor(language: Language): Extractor {
  return SPECS[language].extract;
}

/** Parse + extract in one call; used by tests and golden snapshots. The worker adds limits and error handling. */
export function parseAndExtract(language: Language, src: string): Extraction & { hasError: boolean } {
  const tree = parserFor(language).parse(src, undefined, { bufferSize: src.length + 1 });
  return { ...extractorFor(language)(tree.rootNode, src), hasError: tree.rootNode.hasError };
}
