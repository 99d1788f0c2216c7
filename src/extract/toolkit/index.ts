/**
 * The extractor toolkit: what every language shares. A language plugin gets a `SourceFile` (the text, its line
 * index, the node listing over the binding's fast path, and a sink for symbols and references) and holds only its
 * own rules.
 */
import type Parser from 'tree-sitter';
import type { RefRecord, SymbolRecord } from '../../protocol/types.js';
import { accessFor, type Access } from './access.js';
import { LineIndex } from './lines.js';
import { Sink } from './sink.js';

export type SyntaxNode = Parser.SyntaxNode;

/** What extraction returns: pure data from one tree. */
export interface Extraction {
  symbols: SymbolRecord[];
  refs: RefRecord[];
}

export interface SourceFile {
  readonly src: string;
  readonly root: SyntaxNode;
  readonly lines: LineIndex;
  readonly sink: Sink;
  /** The nodes of these types in pre-order, as integer handles (over the binding's transfer buffer when it holds). */
  nodes(types: string[]): Access;
}

/**
 * Valid syntax the grammar cannot parse. `test` gets the source and the range of one error (or missing) node and
 * says whether this gap explains it; a file whose every error is explained is indexed as `ok`, with the gap noted.
 * Every gap is first asked about the error itself (`wide` false); only when none explains it, about its
 * surroundings (`wide` true: an error may start a few lines after the construct that caused it).
 */
export interface GrammarGap {
  /** What does not parse, for the note (e.g. "`in`/`out` variance on type parameters"). */
  name: string;
  test(src: string, start: number, end: number, wide: boolean): boolean;
  /** Also asked (with `start` = `end` = the file's length) when the tree has an error but lists no error node. */
  atEnd?: boolean;
}

export interface LanguagePlugin {
  /** Separator between scope and name in qualified names. */
  sep: string;
  extract(file: SourceFile): void;
}

/** Runs a plugin over a parsed tree. */
export function extractWith(plugin: LanguagePlugin, root: SyntaxNode, src: string): Extraction {
  const lines = new LineIndex(src);
  const sink = new Sink(lines, plugin.sep);
  plugin.extract({ src, root, lines, sink, nodes: (types) => accessFor(root, types) });
  return { symbols: sink.symbols, refs: sink.refs };
}

export type { Access } from './access.js';
export { LineIndex } from './lines.js';
export { ScopeStack, TooDeepError, MAX_DEPTH, type Frame } from './scope.js';
export { Sink } from './sink.js';
export * from './text.js';
export { lineGap } from './gaps.js';
export { BraceFile, calleeName, identEnd, isBlank, isIdentChar, leadingDoc, skipAnnotations, skipBlanks } from './braces.js';
