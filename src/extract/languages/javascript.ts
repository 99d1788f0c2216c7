import type { Extraction, SyntaxNode } from '../common.js';

export function extract(_root: SyntaxNode, _src: string): Extraction {
  return { symbols: [], refs: [] };
}
