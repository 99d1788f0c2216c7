/** go: skeleton plugin (no definitions yet); its rules are being written. */
import type { LanguagePlugin } from '../toolkit/index.js';

export const go: LanguagePlugin = {
  sep: '.',
  extract() {},
};
