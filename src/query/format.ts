import type { Page } from './common.js';
import type { FindResult } from './find.js';
import type { CalleesResult, CallersResult, ImpactResult, ImportersResult, Via } from './graph.js';
import type { ContentResult } from './grep.js';
import type { OutlineNode, OutlineResult } from './outline.js';
import type { RefsResult } from './refs.js';
import type { SearchResult } from './search.js';
import type { SourceResult } from './source.js';
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
/** path:line-endLine: where the name is, and where the definition ends. */
const span = (h: { path: string; line: number; endLine: number }) => `${h.path}:${h.line}${h.endLine > h.line ? `-${h.endLine}` : ''}`;
/** Signatures are stored up to 240 characters: shown whole. */
const SIGNATURE_CAP = 240;

export function formatFind(r: FindResult, o: FormatOptions = {}): string {
  if (r.results.length === 0) return `No symbols match "${r.query}"${r.match === 'fuzzy' ? '' : ` (${r.match} match)`}.`;
  const lines = table(
    ['KIND', 'MATCH', 'NAME', 'LOCATION', 'SIGNATURE'],
    r.results.map((h) => [h.kind, h.match, h.qualified, span(h), h.signature]),
    [12, 6, 60, 80, SIGNATURE_CAP],
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
  const ignored = r.ignored.length ? `Not searched for: ${r.ignored.join(' ')}.` : null;
  if (r.results.length === 0) return [`No symbols match "${r.query}".`, ...(ignored ? [ignored] : [])].join('\n');
  const rows = table(
    ['KIND', 'NAME', 'LOCATION', 'SIGNATURE'],
    r.results.map((h) => [h.kind, h.qualified, span(h), h.signature]),
    [12, 60, 80, SIGNATURE_CAP],
  );
  const lines = [rows[0]];
  if (r.allMatches === 0) lines.push(`(no symbol matches all of: ${r.words.join(' ')}; these match some of them, best first)`);
  rows.slice(1).forEach((row, i) => {
    if (i === r.allMatches && i > 0) lines.push(`(matching some of the words:)`);
    lines.push(row);
  });
  const more = moreLine(r, 'results', o);
  if (more) lines.push('', more);
  if (ignored) lines.push(ignored);
  return lines.join('\n');
}

export function formatContent(r: ContentResult, o: FormatOptions = {}): string {
  const note = r.source === 'disk' ? ' (no content index: searched the files on disk)' : '';
  const stopped = r.timedOut ? 'The search stopped at its time limit: results and counts are incomplete.' : null;
  if (r.results.length === 0) return `No lines match ${r.regex ? '/' + r.query + '/' : `"${r.query}"`}${note}.${stopped ? ' ' + stopped : ''}`;
  const lines: string[] = [];
  if (r.context === 0) {
    for (const h of r.results) lines.push(`${loc(h.path, h.line)}: ${h.text}`);
  } else {
    // grep -C: `path:N: match`, `path-N- context`, `--` between groups of lines that do not touch
    const groups: { path: string; rows: Map<number, [string, boolean]> }[] = [];
    for (const h of r.results) {
      let g = groups[groups.length - 1];
      if (!g || g.path !== h.path) groups.push((g = { path: h.path, rows: new Map() }));
      const before = h.before ?? [];
      before.forEach((t, i) => {
        const n = h.line - before.length + i;
        if (!g.rows.has(n)) g.rows.set(n, [t, false]);
      });
      g.rows.set(h.line, [h.full ?? h.text, true]);
      (h.after ?? []).forEach((t, i) => {
        if (!g.rows.get(h.line + 1 + i)?.[1]) g.rows.set(h.line + 1 + i, [t, false]);
      });
    }
    for (const g of groups) {
      let prev = -1;
      for (const n of [...g.rows.keys()].sort((a, b) => a - b)) {
        if (lines.length && n !== prev + 1) lines.push('--');
        const [t, isMatch] = g.rows.get(n)!;
        lines.push(isMatch ? `${g.path}:${n}: ${t}` : `${g.path}-${n}- ${t}`);
        prev = n;
      }
    }
  }
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
      rows.push([`${n.startLine}-${n.endLine}`, `${'  '.repeat(depth)}${n.kind} ${n.name}`, n.signature]);
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

const others = (r: { others: { qualified: string; kind: string; path: string; line: number }[] }, what: string): string[] =>
  r.others.length
    ? [
        `(${r.others.length} other definition${r.others.length > 1 ? 's match' : ' matches'} the name; pass path or line to ${what} another: ${r.others.map((h) => `${h.qualified} ${h.path}:${h.line}`).join(', ')})`,
      ]
    : [];

const head = (t: { kind: string; qualified: string; path: string; line: number; endLine: number }) => `${t.kind} ${t.qualified}  ${span(t)}`;

export function formatSource(r: SourceResult): string {
  const s = r.symbol;
  const lines = [head(s), `signature: ${r.signature}`];
  // A docstring inside the range is in the source already; a doc comment above it may not be.
  const docFirst = r.doc?.split('\n').find((l) => l.trim())?.trim();
  if (r.doc && docFirst && !r.text.includes(docFirst)) lines.push('doc:', ...r.doc.split('\n').map((l) => `  ${l}`));
  if (r.changedOnDisk) lines.push(`(${s.path} changed since it was indexed: lines may have moved)`);
  const width = String(r.to).length;
  lines.push(...r.text.split('\n').map((l, i) => `${String(r.from + i).padStart(width)}  ${l}`));
  if (r.cut) {
    lines.push(`(cut at max_lines: lines ${r.from}-${r.to} of ${s.startLine}-${s.endLine})`);
    if (r.hiddenMembers.length) lines.push(`(below the cut: ${r.hiddenMembers.map((m) => `${m.kind} ${m.qualified}:${m.line}`).join(', ')})`);
  }
  lines.push(...others(r, 'read'));
  return lines.join('\n');
}

const VIA_TEXT: Record<Via | 'external' | 'unresolved', string> = {
  'same-file': 'same file',
  import: 'import',
  scope: 'scope',
  name: 'name only',
  external: 'external',
  unresolved: 'not in the index',
};

export function formatCallers(r: CallersResult, o: FormatOptions = {}): string {
  const lines = [`Callers of ${head(r.target)}`];
  const counts = (Object.entries(r.byVia) as [Via, number][]).filter(([, n]) => n > 0).map(([v, n]) => `${n} ${VIA_TEXT[v]}`);
  if (r.results.length === 0) lines.push('No calls resolve to it.');
  let path = '';
  for (const e of r.results) {
    if (e.path !== path) lines.push((path = e.path));
    const amb = e.candidates > 1 ? ` (1 of ${e.candidates})` : '';
    lines.push(`  ${e.line}:${e.col}  ${VIA_TEXT[e.via]}${amb}  ${e.callee}${e.caller ? `  in ${e.caller}` : ''}`);
  }
  lines.push('', `${r.byVia['same-file'] + r.byVia.import + r.byVia.scope + r.byVia.name} calls found (${counts.join(', ') || 'none'}); resolved by name and scope, without types`);
  if (r.ambiguous) lines.push(`${r.ambiguous} calls through objects of unknown type not listed: each could be one of more than ${r.maxCandidates} definitions of that name (raise max_candidates to list them)`);
  const more = moreLine(r, 'callers', o);
  if (more) lines.push(more);
  lines.push(...others(r, 'ask for'));
  return lines.join('\n');
}

export function formatCallees(r: CalleesResult, o: FormatOptions = {}): string {
  const lines = [`Calls made by ${head(r.target)}`];
  if (r.results.length === 0) lines.push('No calls.');
  for (const e of r.results) {
    const where = e.caller ? `  (in ${e.caller})` : '';
    let to: string;
    if (e.via === 'external') to = `outside the index (${e.module})`;
    else if (e.via === 'unresolved') to = 'not in the index';
    else {
      const shown = e.targets.slice(0, 3).map((t) => `${t.kind} ${t.qualified} ${t.path}:${t.line}`);
      to = `${shown.join(' | ')}${e.candidates > shown.length ? ` | ... (${e.candidates} candidates)` : ''}  [${VIA_TEXT[e.via]}]`;
    }
    lines.push(`  ${e.line}:${e.col}  ${e.callee} -> ${to}${where}`);
  }
  const more = moreLine(r, 'calls', o);
  if (more) lines.push('', more);
  lines.push(...others(r, 'ask for'));
  return lines.join('\n');
}

export function formatImpact(r: ImpactResult): string {
  const lines = [`Impact of changing ${head(r.target)} (callers up to depth ${r.depth}, resolved by name and scope)`];
  if (r.nodes.length === 0) lines.push('No callers found.');
  for (let d = 1; d <= r.depth; d++) {
    const at = r.nodes.filter((n) => n.depth === d);
    if (!at.length) continue;
    lines.push(`depth ${d}:`);
    const rows = at.map((n) => [
      n.qualified ? `${n.kind} ${n.qualified}` : '(module level)',
      `${n.path}:${n.qualified ? n.line : n.callLine}`,
      `calls ${n.calls} at line ${n.callLine} [${VIA_TEXT[n.via]}${n.candidates > 1 ? `, 1 of ${n.candidates}` : ''}]${n.expanded || d === r.depth || !n.qualified ? '' : ' (not followed)'}`,
    ]);
    lines.push(...table(null, rows, [70, 80, 120]).map((l) => '  ' + l));
  }
  if (r.truncated) lines.push(`(stopped at ${r.nodes.length} definitions: ask for a smaller depth or a caller's own impact)`);
  lines.push(...others(r, 'ask for'));
  return lines.join('\n');
}

export function formatImporters(r: ImportersResult, o: FormatOptions = {}): string {
  const what = r.files.length ? `${r.query} (${r.files.join(', ')})` : `${r.query} (not a file of the index: matched by its name)`;
  if (r.results.length === 0) return `No imports of ${what}.`;
  const lines = [`Imports of ${what}`];
  let path = '';
  for (const h of r.results) {
    if (h.path !== path) lines.push((path = h.path));
    lines.push(`  ${h.line}  ${h.name === h.module ? h.module : `${h.name} from ${h.module}`}${h.match === 'by-name' ? '  (by name)' : ''}`);
  }
  lines.push('', `${r.total} imports in ${r.importingFiles} files`);
  const more = moreLine(r, 'imports', o);
  if (more) lines.push(more);
  return lines.join('\n');
}
