/**
 * Text cleaning shared by every language, with one set of limits: signatures, reference contexts and docs.
 */

/** Longest signature kept (characters, after collapsing blanks). */
export const SIGNATURE_MAX = 240;
/** Longest doc kept. */
export const DOC_MAX = 2000;
/** Longest reference context kept. */
export const CONTEXT_MAX = 120;

/** Cuts `text` to `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

/** Blanks collapsed to single spaces, ends trimmed, at most `max` characters. */
export function collapse(text: string, max: number): string {
  if (text.length <= max && !needsCollapse(text)) return text;
  // Long text: collapse a bounded prefix only, so a huge expression costs no more than a short one.
  const cut = text.length > max * 8;
  const s = truncate((cut ? text.slice(0, max * 8) : text).replace(/\s+/g, ' ').trim(), max);
  return cut && !s.endsWith('…') ? s.slice(0, max - 1) + '…' : s;
}

/** Whether `collapse` would change `text` (checked without a regex: most texts are already clean). */
function needsCollapse(text: string): boolean {
  const n = text.length;
  if (n === 0) return false;
  if (text.charCodeAt(0) === 32 || text.charCodeAt(n - 1) === 32) return true;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    // (anything non-ASCII goes the slow way: \s also matches Unicode spaces)
    if (c === 32 ? text.charCodeAt(i + 1) === 32 : c < 32 ? c >= 9 && c <= 13 : c > 127) return true;
  }
  return false;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13 || c === 11 || c === 12 || c === 0xa0 || c === 0xfeff;
}

/**
 * A definition's header `src[start, end)` as its signature: trailing blanks and `{ = : ; ,` dropped, blanks
 * collapsed, at most SIGNATURE_MAX characters.
 */
export function signature(src: string, start: number, end: number): string {
  let e = Math.min(end, start + SIGNATURE_MAX * 8);
  const cut = e < end;
  if (!cut) {
    for (;;) {
      const c = src.charCodeAt(e - 1);
      if (e > start && (isBlank(c) || c === 123 || c === 61 || c === 58 || c === 59 || c === 44)) e--;
      else break;
    }
  }
  const s = collapse(src.slice(start, e), SIGNATURE_MAX);
  return cut && !s.endsWith('…') ? s.slice(0, SIGNATURE_MAX - 1) + '…' : s;
}

/** A reference's context: blanks collapsed, at most CONTEXT_MAX characters. */
export function context(text: string): string {
  return collapse(text, CONTEXT_MAX);
}

/**
 * The text of a `/** … *\/` (or `/*! … *\/`) comment: markers and the leading ` * ` of each line removed, nothing
 * else (a `//` or `#` inside a code example stays).
 */
export function blockDoc(comment: string): string | null {
  const body = comment.slice(3, comment.endsWith('*/') ? -2 : undefined);
  const lines = body.split('\n').map((l) => l.replace(/^\s*\*(?!\/) ?/, '').trimEnd());
  return docText(lines.join('\n'));
}

/**
 * Line comments (`///`, `#`) given in source order as one doc: `marker` characters and one following space removed
 * from each line.
 */
export function lineDoc(lines: readonly string[], marker: number): string | null {
  return docText(lines.map((l) => l.slice(l.charCodeAt(marker) === 32 ? marker + 1 : marker).trimEnd()).join('\n'));
}

/** A doc trimmed, null when empty. (The sink caps it at DOC_MAX.) */
export function docText(text: string): string | null {
  const t = text.trim();
  return t ? t : null;
}
