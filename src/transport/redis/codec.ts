import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { JobResult } from '../../protocol/types.js';

/** Results travel deflated: symbol records are repetitive JSON and shrink ~8x, keeping Redis traffic small. */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;

export function encodeResult(res: JobResult): Buffer {
  return deflateRawSync(Buffer.from(JSON.stringify(res)), { level: 1 });
}

export function decodeResult(buf: Buffer): JobResult {
  return JSON.parse(inflateRawSync(buf, { maxOutputLength: MAX_RESULT_BYTES }).toString('utf8')) as JobResult;
}
