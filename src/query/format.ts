import type { Page } from './common.js';
import type { FindResult } from './find.js';
import type { ContentResult } from './grep.js';
import type { OutlineNode, OutlineResult } from './outline.js';
import type { RefsResult } from './refs.js';
import type { SearchResult } from './search.js';
import type { IndexStatus } from './status.js';

/** How the "more results" line tells the reader to see more: `--limit N` on the CLI, `limit` for MCP tools. */
export interface FormatOptions {
  limitHint?: string;
}

const cut = (s: string, max: number) => (s.length > max ? s.slice(0, max - 1) + '…' : s);

/** Left-aligned columns; the last column is not padded. Cells longer than their cap are cut with an ellipsis. */
export function table(header: string[] | null, rows: string[][], caps: number[]): string[] {
  const all = header ? [header, ...rows] : rows;
  const cells = all.map((r) =>
    r.map((c, i) => {
      const indent = /^ */.exec(c)![0];
      return indent + cut(c.slice(indent.length).replace(/\s+/g, ' '), (caps[i] ?? 200) - indent.length);
    }),
  );
  const cols = Math.max(0, ...cells.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, i) => Math.max(0, ...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

export function moreLine(p: Page<unknown>, what: string, o: FormatOptions): string | null {
  if (p.more <= 0) return null;
  return `${p.more}${p.moreIsLowerBound ? '+' : ''} more ${what} not shown${o.limitHint ? ` (${o.limitHint})` : ''}`;
}

const loc = (path: string, line: number) => `${path}:${line}`;

export function formatFind(r: FindResult, o: FormatOptions = {}): string {
  if (r.results.length === 0) return `No symbols match "${r.query}"${r.match === 'fuzzy' ? '' : ` (${r.match} match)`}.`;
  const lines = table(
    ['KIND', 'NAME', 'LOCATION', 'SIGNATURE'],
    r.results.map((h) => [h.kind, h.qualified, loc(h.path, h.line), h.signature]),
    [12, 60, 70, 120],
  );
  const tiers = [`${r.counts.exact} exact`];
  if (r.counts.prefix !== null) tiers.push(`${r.counts.prefix} prefix`);
  if (r.counts.fuzzy !== null) tiers.push(`${r.counts.fuzzy}${r.moreIsLowerBound ? '+' : ''} fuzzy`);
  const note = r.fuzzySkipped ? '; fuzzy not searched: exact and prefix matches filled the limit' : '';
  lines.push('', `${r.results.length} of ${r.total}${r.moreIsLowerBound ? '+' : ''} matches (${tiers.join(', ')}${note})`);
  const more = moreLine(r, 'results', o);
  if (more) lines.push(more);
  return lines.join('\n');
}

export function formatSearch(r: SearchResult, o: FormatOptions = {}): string {
  if (r.results.length === 0) return `No symbols match "${r.query}".`;
  const lines = table(
    ['KIND', 'NAME', 'LOCATION', 'SIGNATURE'],
    r.results.map((h) => [h.kind, h.qualified, loc(h.path, h.line), h.signature]),
    [12, 60, 70, 120],
  );
  const more = moreLine(r, 'results', o);
  if (more) lines.push('', more);
  return lines.join('\n');
}

export function formatContent(r: ContentResult, o: FormatOptions = {}): string {
  const note = r.source === 'disk' ? ' (no content index: searched the files on disk)' : '';
  const stopped = r.timedOut ? 'The search stopped at its time limit: results and counts are incomplete.' : null;
  if (r.results.length === 0) return `No lines match ${r.regex ? '/' + r.query + '/' : `"${r.query}"`}${note}.${stopped ? ' ' + stopped : ''}`;
  const lines = r.results.map((h) => `${loc(h.path, h.line)}: ${h.text}`);
  const more = moreLine(r, 'matching lines', o);
  if (more) lines.push('', more);
  if (stopped) lines.push(stopped);
  if (note) lines.push(note.trim());
  return lines.join('\n');
}

export function formatRefs(r: RefsResult, o: FormatOptions = {}): string {
  if (r.results.length === 0) return `No references to "${r.query}".`;
  const lines: string[] = [];
  for (const f of r.files) {
    lines.push(f.path);
    const rows = table(
      null,
      f.refs.map((x) => [`${x.line}:${x.col}`, x.kind, (x.kind === 'import' ? x.module : x.context) ?? x.name, x.scope ? `in ${x.scope}` : '']),
      [12, 6, 80, 60],
    );
    lines.push(...rows.map((r) => '  ' + r));
  }
  lines.push('', `${r.total} references (${r.byKind.call} calls, ${r.byKind.import} imports) in the index`);
  const more = moreLine(r, 'references', o);
  if (more) lines.push(more);
  return lines.join('\n');
}

export function formatOutline(r: OutlineResult, o: { maxDepth?: number; limit?: number } = {}): string {
  const rows: string[][] = [];
  let shown = 0;
  let hidden = 0;
  const walk = (nodes: OutlineNode[], depth: number) => {
    for (const n of nodes) {
      if ((o.maxDepth !== undefined && depth >= o.maxDepth) || (o.limit !== undefined && shown >= o.limit)) {
        hidden += 1 + countAll(n.children);
        continue;
      }
      shown++;
      rows.push([`${n.line}-${n.endLine}`, `${'  '.repeat(depth)}${n.kind} ${n.name}`, n.signature]);
      walk(n.children, depth + 1);
    }
  };
  walk(r.symbols, 0);
  const head = `${r.path} (${r.language}, ${r.count} symbols${r.status !== 'ok' ? `, ${r.status}${r.error ? `: ${r.error.code} ${r.error.message}` : ''}` : ''})`;
  if (rows.length === 0) return `${head}\nNo symbols.`;
  const lines = [head, ...table(['LINES', 'SYMBOL', 'SIGNATURE'], rows, [13, 70, 120])];
  if (hidden) lines.push('', `${hidden} more symbols not shown`);
  return lines.join('\n');
}

function countAll(nodes: OutlineNode[]): number {
  return nodes.reduce((n, c) => n + 1 + countAll(c.children), 0);
}

const list = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

export function formatStatus(s: IndexStatus): string {
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const lines = [
    `index:     ${s.index} (${mb(s.indexBytes)})`,
    `root:      ${s.root ?? 'unknown'}`,
    `last run:  ${s.lastRun ?? 'never'}`,
    `files:     ${s.files} (${list(s.languages)}), ${mb(s.sourceBytes)} of source`,
    `symbols:   ${s.symbols} (${list(s.symbolsByKind)})`,
    `refs:      ${s.refs}`,
    `content:   ${s.content ? `${s.content.files} files, ${s.content.lines} lines searchable` : 'no content index (content search reads files from disk)'}`,
    `errors:    ${s.errors.files} files (${list(s.errors.byCode)})`,
  ];
  for (const e of s.errors.list) lines.push(`  ${e.path}: ${e.message ? `${cut(e.message, 120)} (${e.code ?? e.status})` : (e.code ?? e.status)}`);
  if (s.errors.more) lines.push(`  ${s.errors.more} more files with errors not shown`);
  if (s.stale) {
    const fresh = s.stale.changed === 0 && s.stale.missing === 0;
    lines.push(`stale:     ${fresh ? `up to date (${s.stale.checked} files checked)` : `${s.stale.changed} changed, ${s.stale.missing} missing of ${s.stale.checked} indexed files: re-run mcp-index to update`}`);
    for (const p of s.stale.changedPaths) lines.push(`  changed: ${p}`);
    for (const p of s.stale.missingPaths) lines.push(`  missing: ${p}`);
  } else {
    lines.push('stale:     unknown (repository root not known)');
  }
  return lines.join('\n');
}
