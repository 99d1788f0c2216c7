import type { RefKind, RefRecord, SymbolKind, SymbolRecord } from '../../protocol/types.js';
import type { LineIndex } from './lines.js';
import { context, DOC_MAX, truncate } from './text.js';

/** A definition as an extractor sees it: offsets into the source, not lines. */
export interface Definition {
  name: string;
  kind: SymbolKind;
  /** Qualified name of the enclosing symbol, or null at top level. */
  scope: string | null;
  /** Offset of the name itself (the identifier after `def`, `fn`, `class`; the property name). */
  nameAt: number;
  /** The enclosing range: decorators/attributes and the leading doc comment included, body included. */
  start: number;
  end: number;
  signature: string;
  doc: string | null;
  flags?: string[] | null;
}

/**
 * Collects one file's symbols and references, turning offsets into 1-based lines and 0-based UTF-16 columns, joining
 * scope and name with the language's separator, and capping docs and contexts at the shared limits.
 */
export class Sink {
  readonly symbols: SymbolRecord[] = [];
  readonly refs: RefRecord[] = [];

  constructor(
    private readonly lines: LineIndex,
    readonly sep: string,
  ) {}

  qualify(scope: string | null, name: string): string {
    return scope === null ? name : scope + this.sep + name;
  }

  /** Records a definition; returns its qualified name. */
  def(d: Definition): string {
    const L = this.lines;
    const qualified = this.qualify(d.scope, d.name);
    const sr = L.row(d.start);
    const nr = L.row(d.nameAt);
    const er = L.row(d.end);
    const sym: SymbolRecord = {
      name: d.name,
      kind: d.kind,
      scope: d.scope,
      qualified,
      nameLine: nr + 1,
      nameCol: L.col(d.nameAt, nr),
      startLine: sr + 1,
      startCol: L.col(d.start, sr),
      endLine: er + 1,
      endCol: L.col(d.end, er),
      signature: d.signature,
      doc: d.doc === null ? null : truncate(d.doc, DOC_MAX),
    };
    if (d.flags && d.flags.length) sym.flags = d.flags;
    this.symbols.push(sym);
    return qualified;
  }

  /**
   * Records a reference at offset `at`: for a call, the called name (`parse` in `a.b.parse(`); for an import, the
   * imported name. `text` (the callee, or the import as written) becomes the context, collapsed and capped.
   */
  ref(kind: RefKind, name: string, at: number, scope: string | null, text: string | null, module: string | null = null, flags: string[] | null = null): void {
    const row = this.lines.row(at);
    const r: RefRecord = { kind, name, line: row + 1, col: this.lines.col(at, row), scope, context: text === null ? null : context(text), module };
    if (flags && flags.length) r.flags = flags;
    this.refs.push(r);
  }
}
