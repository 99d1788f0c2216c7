import { promisify } from 'node:util';
import { brotliCompressSync, brotliDecompress, constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { BatchHeader } from '../../protocol/types.js';

/** Upper bound of anything decoded from Redis, whatever a message claims. */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;

/** Deflated JSON: result-cache entries. */
export function encodeJson(value: unknown): Buffer {
  return deflateRawSync(Buffer.from(JSON.stringify(value)), { level: 1 });
}

export function decodeJson<T>(buf: Buffer): T {
  return JSON.parse(inflateRawSync(buf, { maxOutputLength: MAX_RESULT_BYTES }).toString('utf8')) as T;
}

/**
 * A batch result as it travels through Redis: a 4-byte length, the header as JSON, then the batch's SQLite fragment
 * compressed with Brotli at quality 3. On the stdlib that is 159 KiB a batch where deflate at level 1 gave 185 KiB,
 * in the same time (6 ms; docs/BENCHMARKS.md).
 */
export function encodeBatch(header: BatchHeader, fragment: Uint8Array): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  const body = brotliCompressSync(fragment, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_SIZE_HINT]: fragment.byteLength },
  });
  return Buffer.concat([len, head, body]);
}

const decompress = promisify(brotliDecompress);

/** The header at once; the fragment decompressed on libuv's thread pool, off the thread that merges. */
export async function decodeBatch(buf: Buffer): Promise<{ header: BatchHeader; fragment: Buffer }> {
  if (buf.length < 4) throw new Error('result too short');
  const n = buf.readUInt32BE(0);
  if (n > buf.length - 4) throw new Error('result header overruns the result');
  const header = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as BatchHeader;
  if (!header || typeof header !== 'object' || typeof header.batchId !== 'string' || typeof header.counts !== 'object') {
    throw new Error('result header is not a batch header');
  }
  const fragment = await decompress(buf.subarray(4 + n), { maxOutputLength: MAX_RESULT_BYTES });
  return { header, fragment };
}
