/**
 * Two readings of the index that several queries share, each in one place:
 * - the position shown for a symbol: its name's own position (`name_line`/`name_col`), not the start of its
 *   enclosing range, which includes decorators and the doc comment;
 * - the module an import ref names: the `module` column.
 */

/** SQL for the line and column shown for a symbol (the name's position); `s` aliases the symbols table. */
export function symbolPositionSql(s = 's'): { line: string; col: string } {
  return { line: `${s}.name_line`, col: `${s}.name_col` };
}

/** SQL for what `importModule` reads, refs aliased `r`; selected `AS module_raw`. */
export const IMPORT_MODULE_SQL = (r = 'r') => `${r}.module`;

/** The module specifier of an import ref (`app.store`, `./client`, `std::collections`), or null when it has none. */
export function importModule(raw: string | null): string | null {
  return raw === null || raw === '' ? null : raw;
}
