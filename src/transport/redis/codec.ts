import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { JobResult } from '../../protocol/types.js';

/** Results travel deflated: symbol records are repetitive JSON and shrink ~8x, keeping Redis traffic small. */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;

/** Deflated JSON: batch results and result-cache entries. */
export function encodeJson(value: unknown): Buffer {
  return deflateRawSync(Buffer.from(JSON.stringify(value)), { level: 1 });
}

export function decodeJson<T>(buf: Buffer): T {
  return JSON.parse(inflateRawSync(buf, { maxOutputLength: MAX_RESULT_BYTES }).toString('utf8')) as T;
}

export function encodeResult(res: JobResult): Buffer {
  return encodeJson(res);
}

export function decodeResult(buf: Buffer): JobResult {
  return decodeJson<JobResult>(buf);
}
