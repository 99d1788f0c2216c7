import type Parser from 'tree-sitter';
import type { Range, RefRecord, SymbolKind, SymbolRecord } from '../protocol/types.js';

export type SyntaxNode = Parser.SyntaxNode;

/** What a language file returns: pure data from one tree. */
export interface Extraction {
  symbols: SymbolRecord[];
  refs: RefRecord[];
}

export const SIGNATURE_MAX = 240;
export const DOC_MAX = 2000;
export const CONTEXT_MAX = 120;

export function rangeOf(node: SyntaxNode): Range {
  return {
    startLine: node.startPosition.row + 1,
    startCol: node.startPosition.column,
    endLine: node.endPosition.row + 1,
    endCol: node.endPosition.column,
  };
}

export function collapse(text: string, max: number): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/**
 * The header of a definition: its text up to (not including) the body node, whitespace collapsed.
 * Without a body the whole node is the signature (a field, a type alias, a one-line const).
 */
export function signatureOf(src: string, node: SyntaxNode, body: SyntaxNode | null | undefined): string {
  const end = body && body.startIndex > node.startIndex ? body.startIndex : node.endIndex;
  return collapse(src.slice(node.startIndex, end).replace(/[\s:{=]+$/, ''), SIGNATURE_MAX);
}

export function qualify(scope: string | null, name: string, sep: string): string {
  return scope ? `${scope}${sep}${name}` : name;
}

/** Builds a SymbolRecord with the shared fields filled in. */
export function makeSymbol(
  node: SyntaxNode,
  opts: {
    name: string;
    kind: SymbolKind;
    scope: string | null;
    sep: string;
    signature: string;
    doc: string | null;
    flags?: string[];
  },
): SymbolRecord {
  const sym: SymbolRecord = {
    name: opts.name,
    kind: opts.kind,
    scope: opts.scope,
    qualified: qualify(opts.scope, opts.name, opts.sep),
    ...rangeOf(node),
    signature: opts.signature,
    doc: opts.doc && opts.doc.length > DOC_MAX ? opts.doc.slice(0, DOC_MAX - 1) + '…' : opts.doc,
  };
  if (opts.flags && opts.flags.length) sym.flags = opts.flags;
  return sym;
}

export function makeRef(
  node: SyntaxNode,
  kind: RefRecord['kind'],
  name: string,
  scope: string | null,
  context: string | null,
): RefRecord {
  return {
    kind,
    name,
    line: node.startPosition.row + 1,
    col: node.startPosition.column,
    scope,
    context: context === null ? null : collapse(context, CONTEXT_MAX),
  };
}

/**
 * Consecutive comment siblings directly above `node` (no blank line between), nearest last.
 * `accept` picks which comments count as docs (e.g. only `///` in Rust, only `/** *\/` in JS).
 */
export function leadingComments(node: SyntaxNode, accept: (text: string) => boolean): string[] {
  const out: string[] = [];
  let line = node.startPosition.row;
  for (let prev = node.previousSibling; prev; prev = prev.previousSibling) {
    if (!prev.type.includes('comment')) break;
    if (prev.endPosition.row < line - 1) break; // a blank line ends the doc block
    const text = prev.text;
    if (!accept(text)) break;
    out.unshift(text);
    line = prev.startPosition.row;
  }
  return out;
}

/** Strips comment markers from `/** ... *\/`, `///`, `//!`, `#` and joins the lines. */
export function cleanComment(lines: string[]): string | null {
  const text = lines
    .flatMap((c) => c.split('\n'))
    .map((l) =>
      l
        .replace(/^\s*\/\*\*?/, '')
        .replace(/\*\/\s*$/, '')
        .replace(/^\s*\*(?!\/) ?/, '')
        .replace(/^\s*\/\/[/!]? ?/, '')
        .replace(/^\s*# ?/, '')
        .trimEnd(),
    )
    .join('\n')
    .trim();
  return text.length ? text : null;
}

/** Raised by an extractor that refuses to go deeper; the worker records it as a `too-deep` file error. */
export class TooDeepError extends Error {
  constructor(public readonly depth: number) {
    super(`nesting deeper than ${depth} levels`);
  }
}

/**
 * Lexical scopes from document order alone. Feed it nodes in pre-order (as `descendantsOfType` returns them);
 * it pops containers that ended before the node starts, so scope costs no extra calls into the native tree.
 */
export class ScopeStack {
  private stack: { end: number; qualified: string; kind: string }[] = [];

  /** The qualified name of the innermost open container at `node`, or null at top level. */
  at(node: SyntaxNode): string | null {
    const start = node.startIndex;
    while (this.stack.length && this.stack[this.stack.length - 1].end <= start) this.stack.pop();
    return this.stack.length ? this.stack[this.stack.length - 1].qualified : null;
  }

  /** Kind of the innermost open container (call `at` first). */
  kind(): string | null {
    return this.stack.length ? this.stack[this.stack.length - 1].kind : null;
  }

  /** Opens `node` as a container named `qualified` until its end. */
  push(node: SyntaxNode, qualified: string, kind: string): void {
    this.stack.push({ end: node.endIndex, qualified, kind });
  }
}
