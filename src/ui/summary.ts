import type { RunSummary } from '../pipeline/events.js';

const list = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';

/** The end-of-run summary for people (stderr). `--json` prints the RunSummary itself on stdout instead. */
export function formatSummary(s: RunSummary): string {
  const secs = (s.timings.totalMs / 1000).toFixed(2);
  // A grammar gap is a note on a file indexed as ok, not an error: counted on a line of its own.
  const { 'grammar-gap': gaps, ...errors } = s.index.errorsByCode as Record<string, number>;
  const lines = [
    s.interrupted ? `interrupted after ${secs}s: the previous index at ${s.out} was left unchanged` : `indexed ${s.root} in ${secs}s -> ${s.out}`,
    `  files:    ${s.index.files} (${list(s.index.byLanguage)}); parsed ${s.run.filesParsed}${s.run.filesCached ? `, from the result cache ${s.run.filesCached}` : ''}, unchanged ${s.run.filesReused}, removed ${s.run.filesRemoved}`,
    `  symbols:  ${s.index.symbols} (${list(s.index.symbolsByKind)}); references ${s.index.refs}`,
    `  errors:   ${s.index.fileErrors} files (${list(errors)})`,
    `  speed:    ${s.throughput.mbPerSec} MB/s, ${s.throughput.filesPerSec} files/s, ${s.throughput.symbolsPerSec} symbols/s on ${s.threads} ${s.transport === 'local' ? 'threads' : 'slots'}`,
    `  time:     discover ${s.timings.discoverMs} ms, hash ${s.timings.hashMs} ms, plan ${s.timings.planMs} ms, index ${s.timings.indexMs} ms, commit ${s.timings.commitMs} ms; peak RSS ${s.peakRssMb} MB`,
  ];
  const off = Object.entries(s.run.languagesOff).sort(([a], [b]) => (a < b ? -1 : 1));
  if (gaps) lines.push(`  gaps:     ${gaps} files indexed as ok with a grammar-gap note (valid code the grammar does not parse)`);
  if (off.length) lines.push(`  off:      not indexed, language turned off: ${off.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (s.rebuilt) lines.push(`  note:     ${s.rebuilt}`);
  if (s.run.splits || s.run.retries || s.run.stalls) {
    lines.push(`  delivery: ${s.run.retries} retries, ${s.run.stalls} stalls, ${s.run.splits} batch splits`);
  }
  return lines.join('\n');
}
