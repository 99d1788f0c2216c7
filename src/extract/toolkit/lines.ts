/**
 * Line numbers from string offsets, without asking the tree. tree-sitter counts rows at '\n' and, for string input,
 * columns in UTF-16 code units (the binding halves byte offsets), which is exactly `offset - lineStart` on a JS string.
 */
export class LineIndex {
  private readonly starts: number[] = [0];
  private readonly last: number;
  /** The row of the previous lookup: positions in pre-order mostly move forward a little. */
  private hint = 0;

  constructor(src: string) {
    for (let i = src.indexOf('\n'); i !== -1; i = src.indexOf('\n', i + 1)) this.starts.push(i + 1);
    this.last = this.starts.length - 1;
  }

  /** 0-based row of `offset`. */
  row(offset: number): number {
    const s = this.starts;
    let lo = this.hint;
    if (s[lo] <= offset) {
      if (lo === this.last || s[lo + 1] > offset) return lo;
      if (lo + 1 === this.last || s[lo + 2] > offset) return (this.hint = lo + 1);
    } else lo = 0;
    let hi = this.last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return (this.hint = lo);
  }

  /** 0-based column of `offset` on `row` (UTF-16 units). */
  col(offset: number, row = this.row(offset)): number {
    return offset - this.starts[row];
  }

  /** Offset of the first character of `row`. */
  lineStart(row: number): number {
    return this.starts[row];
  }

  /** Offset of the '\n' that ends `row`, or `length` for the last row. */
  lineEnd(row: number, length: number): number {
    return row < this.last ? this.starts[row + 1] - 1 : length;
  }
}
