/**
 * Golden snapshots, scip-typescript style: every fixture under fixtures/extract/<language>/ is printed with the
 * symbols and references found on each line, and compared with the checked-in `<file>.golden`. Fixtures are named
 * by the behaviour they pin (commonjs-assignments.js, decorated-defs.py, macro-calls.rs, ...).
 * Regenerate with `npm run golden:update` and review the diff; a missing golden file fails.
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accessStats, resetAccessStats, setDirectAccess } from '../../src/extract/toolkit/access.js';
import { languageOf } from '../../src/extract/extensions.js';
import { parseAndExtract } from '../../src/extract/registry.js';
import type { FileError, RefRecord, SymbolRecord } from '../../src/protocol/types.js';

const ROOT = join(import.meta.dirname, '../../fixtures/extract');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function annotate(src: string, symbols: SymbolRecord[], refs: RefRecord[], error: FileError | null): string {
  const byLine = new Map<number, string[]>();
  const add = (line: number, s: string) => {
    const list = byLine.get(line) ?? [];
    list.push(s);
    byLine.set(line, list);
  };
  for (const s of symbols) {
    let note = `def ${s.kind} ${s.qualified} @${s.nameCol} [${s.startLine}:${s.startCol}-${s.endLine}:${s.endCol}] sig=${JSON.stringify(s.signature)}`;
    if (s.doc) note += ` doc=${JSON.stringify(s.doc)}`;
    if (s.flags?.length) note += ` flags=${JSON.stringify(s.flags)}`;
    add(s.nameLine, note);
  }
  for (const r of refs) {
    let note = `ref ${r.kind} ${r.name} @${r.col} in=${r.scope ?? '-'} ctx=${JSON.stringify(r.context)}`;
    if (r.module !== null) note += ` module=${JSON.stringify(r.module)}`;
    if (r.flags?.length) note += ` flags=${JSON.stringify(r.flags)}`;
    add(r.line, note);
  }
  const status = error ? `${error.code}: ${error.message}` : 'ok';
  const out: string[] = [`# symbols=${symbols.length} refs=${refs.length} ${status}`];
  src.split('\n').forEach((text, i) => {
    out.push(`${String(i + 1).padStart(4)} | ${text}`);
    for (const note of byLine.get(i + 1) ?? []) out.push(`     > ${note}`);
  });
  return out.join('\n') + '\n';
}

const languages = readdirSync(ROOT).filter((d) => !d.startsWith('.'));
const fixtures = languages.flatMap((lang) =>
  readdirSync(join(ROOT, lang))
    .filter((f) => !f.endsWith('.golden'))
    .map((file) => ({ lang, file, path: join(ROOT, lang, file) })),
);

describe('golden symbol snapshots', () => {
  for (const { lang, file, path } of fixtures) {
    it(`${lang}/${file}`, () => {
      const language = languageOf(file);
      expect(language, `no language for ${file}`).not.toBeNull();
      const src = readFileSync(path, 'utf8');
      resetAccessStats();
      const { symbols, refs, error } = parseAndExtract(language!, src);
      // the binding's fast path served the extraction (a silent fallback would hide a broken layout check)
      expect(accessStats()).toEqual({ direct: 1, public: 0 });
      const actual = annotate(src, symbols, refs, error);
      const goldenPath = `${path}.golden`;
      if (UPDATE) writeFileSync(goldenPath, actual);
      else if (!existsSync(goldenPath)) throw new Error(`missing golden file ${goldenPath}: create it with \`npm run golden:update\` and review it`);
      expect(actual).toBe(readFileSync(goldenPath, 'utf8'));
      expect(symbols.length + refs.length).toBeGreaterThan(0);
    });
  }
});

describe('node access', () => {
  it('the transfer-buffer path and the public-API path give identical results on every fixture', () => {
    try {
      for (const { file, path } of fixtures) {
        const src = readFileSync(path, 'utf8');
        resetAccessStats();
        setDirectAccess(true);
        const direct = parseAndExtract(languageOf(file)!, src);
        expect(accessStats(), `${file}: fast path`).toEqual({ direct: 1, public: 0 });
        setDirectAccess(false);
        const viaPublic = parseAndExtract(languageOf(file)!, src);
        expect(accessStats(), `${file}: public path`).toEqual({ direct: 1, public: 1 });
        expect(viaPublic, file).toEqual(direct);
        expect(direct.symbols.length + direct.refs.length, file).toBeGreaterThan(0);
      }
    } finally {
      setDirectAccess(true);
    }
    expect(fixtures.length).toBeGreaterThanOrEqual(20);
  });
});
