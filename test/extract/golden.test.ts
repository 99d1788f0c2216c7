/**
 * Golden snapshots, scip-typescript style: every fixture under fixtures/extract/<language>/ is printed with the
 * symbols and references found on each line, and compared with the checked-in `<file>.golden`.
 * Regenerate with `npm run golden:update` and review the diff.
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setDirectAccess } from '../../src/extract/access.js';
import { languageOf } from '../../src/extract/extensions.js';
import { parseAndExtract } from '../../src/extract/registry.js';
import type { RefRecord, SymbolRecord } from '../../src/protocol/types.js';

const ROOT = join(import.meta.dirname, '../../fixtures/extract');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function annotate(src: string, symbols: SymbolRecord[], refs: RefRecord[], hasError: boolean): string {
  const byLine = new Map<number, string[]>();
  const add = (line: number, s: string) => {
    const list = byLine.get(line) ?? [];
    list.push(s);
    byLine.set(line, list);
  };
  for (const s of symbols) {
    let note = `def ${s.kind} ${s.qualified} [${s.startLine}:${s.startCol}-${s.endLine}:${s.endCol}] sig=${JSON.stringify(s.signature)}`;
    if (s.doc) note += ` doc=${JSON.stringify(s.doc)}`;
    if (s.flags?.length) note += ` flags=${s.flags.join(',')}`;
    add(s.startLine, note);
  }
  for (const r of refs) {
    add(r.line, `ref ${r.kind} ${r.name} @${r.col} in=${r.scope ?? '-'} ctx=${JSON.stringify(r.context)}`);
  }
  const out: string[] = [`# symbols=${symbols.length} refs=${refs.length} hasError=${hasError}`];
  src.split('\n').forEach((text, i) => {
    out.push(`${String(i + 1).padStart(4)} | ${text}`);
    for (const note of byLine.get(i + 1) ?? []) out.push(`     > ${note}`);
  });
  return out.join('\n') + '\n';
}

const languages = readdirSync(ROOT).filter((d) => !d.startsWith('.'));

describe('golden symbol snapshots', () => {
  for (const lang of languages) {
    const dir = join(ROOT, lang);
    const sources = readdirSync(dir).filter((f) => !f.endsWith('.golden'));
    for (const file of sources) {
      it(`${lang}/${file}`, () => {
        const language = languageOf(file);
        expect(language, `no language for ${file}`).not.toBeNull();
        const src = readFileSync(join(dir, file), 'utf8');
        const { symbols, refs, hasError } = parseAndExtract(language!, src);
        const actual = annotate(src, symbols, refs, hasError);
        const goldenPath = join(dir, `${file}.golden`);
        if (UPDATE || !existsSync(goldenPath)) {
          if (!UPDATE && process.env.CI) throw new Error(`missing golden ${goldenPath}; run npm run golden:update`);
          writeFileSync(goldenPath, actual);
        }
        expect(actual).toBe(readFileSync(goldenPath, 'utf8'));
        expect(symbols.length).toBeGreaterThan(0);
      });
    }
  }
});

describe('node access', () => {
  it('the transfer-buffer path and the public-API path give identical results on every fixture', () => {
    let files = 0;
    try {
      for (const lang of languages) {
        for (const file of readdirSync(join(ROOT, lang)).filter((f) => !f.endsWith('.golden'))) {
          const src = readFileSync(join(ROOT, lang, file), 'utf8');
          setDirectAccess(true);
          const direct = parseAndExtract(languageOf(file)!, src);
          setDirectAccess(false);
          const viaPublic = parseAndExtract(languageOf(file)!, src);
          expect(viaPublic, file).toEqual(direct);
          expect(direct.symbols.length, file).toBeGreaterThan(0);
          files++;
        }
      }
    } finally {
      setDirectAccess(true);
    }
    expect(files).toBeGreaterThanOrEqual(11);
  });
});
