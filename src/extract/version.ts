/**
 * Bump when extraction output changes for the same input: indexes built by another version re-extract every file.
 */
export const EXTRACTOR_VERSION = 3;
