/** php: skeleton plugin (no definitions yet); its rules are being written. */
import type { LanguagePlugin } from '../toolkit/index.js';

export const php: LanguagePlugin = {
  sep: '\\',
  extract() {},
};
