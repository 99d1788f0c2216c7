/**
 * Whether an existing index can be patched is read from its meta table. "No such key" (or no index of ours: a
 * damaged or foreign file) means rebuild; "cannot read" (a lock held past the busy timeout, a folder in its place)
 * is reported, never answered with a silent rebuild.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { EXTRACTOR_VERSION } from '../../src/extract/version.js';
import { SCHEMA_VERSION } from '../../src/index-store/schema.js';
import { isCompatible } from '../../src/index-store/writer.js';

const dir = mkdtempSync(join(tmpdir(), 'mcp-index-read-meta-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function indexWith(name: string, meta: Record<string, string>): string {
  const path = join(dir, name);
  const db = new Database(path);
  db.pragma('journal_mode = DELETE');
  db.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)');
  for (const [k, v] of Object.entries(meta)) db.prepare('INSERT INTO meta VALUES (?, ?)').run(k, v);
  db.close();
  return path;
}

describe('reading an index before patching it', () => {
  const current = { schema_version: String(SCHEMA_VERSION), extractor_version: String(EXTRACTOR_VERSION) };

  it('an index of this version can be patched; one without the keys, or not SQLite at all, is rebuilt', () => {
    expect(isCompatible(indexWith('ok.db', current), EXTRACTOR_VERSION)).toBe(true);
    expect(isCompatible(indexWith('no-keys.db', {}), EXTRACTOR_VERSION)).toBe(false);
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'this is not a database, it is long enough to have a header: '.repeat(20));
    expect(isCompatible(junk, EXTRACTOR_VERSION)).toBe(false);
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    expect(isCompatible(empty, EXTRACTOR_VERSION)).toBe(false);
  });

  it('a folder where the index should be is reported', () => {
    const folder = join(dir, 'folder.db');
    mkdirSync(folder);
    expect(() => isCompatible(folder, EXTRACTOR_VERSION)).toThrow(UsageError);
    expect(() => isCompatible(folder, EXTRACTOR_VERSION)).toThrow(/cannot read the index .*folder\.db/);
  });

  it('an index locked by another writer is reported, not rebuilt', () => {
    const path = indexWith('locked.db', current);
    const holder = new Database(path);
    holder.exec('BEGIN EXCLUSIVE');
    holder.prepare("UPDATE meta SET value = 'x' WHERE key = 'schema_version'").run();
    try {
      expect(() => isCompatible(path, EXTRACTOR_VERSION)).toThrow(/cannot read the index .*locked\.db: database is locked/);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(isCompatible(path, EXTRACTOR_VERSION)).toBe(true);
  }, 30_000);
});
