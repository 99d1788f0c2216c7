/**
 * The two readings of the index that change when the extraction work (#14) lands, each behind one function so
 * the switch is one edit here:
 * - the position shown for a symbol: today the start of its range, which is also its name's line; with #14 the
 *   range grows to include decorators and the doc comment, and the name's own position is `name_line`/`name_col`;
 * - the module an import ref names: today parsed out of `context` (the module for Python and JS, the whole `use`
 *   path for Rust); with #14 it is the `module` column.
 */

/** SQL for the line and column shown for a symbol (the name's position); `s` aliases the symbols table. */
export function symbolPositionSql(s = 's'): { line: string; col: string } {
  return { line: `${s}.start_line`, col: `${s}.start_col` }; // #14: `${s}.name_line`, `${s}.name_col`
}

/** SQL for what `importModule` reads, refs aliased `r`; selected `AS module_raw`. */
export const IMPORT_MODULE_SQL = (r = 'r') => `${r}.context`; // #14: `${r}.module`

/**
 * The module specifier of an import ref (`app.store`, `./client`, `std::collections`), from the column
 * IMPORT_MODULE_SQL reads. Rust's `context` is the whole path including the imported name
 * (`std::collections::HashMap`), so the name is cut off.
 */
export function importModule(name: string, raw: string | null, language: string): string | null {
  if (raw === null || raw === '') return null;
  if (language === 'rust') {
    // #14: return raw;
    if (raw === name) return null; // `use foo;`, `extern crate foo;`: the crate itself
    if (raw.endsWith('::' + name)) return raw.slice(0, -(name.length + 2)); // also `a::*` (name `*`)
  }
  return raw;
}
