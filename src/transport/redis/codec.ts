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
  const head = Buffer.from(JSON.stringify({ ...header, fragmentBytes: fragment.byteLength }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  const body = brotliCompressSync(fragment, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_SIZE_HINT]: fragment.byteLength },
  });
  return Buffer.concat([len, head, body]);
}

const decompress = promisify(brotliDecompress);

type WireHeader = BatchHeader & { fragmentBytes: number };

function readHeader(buf: Buffer): { header: WireHeader; end: number } {
  if (buf.length < 4) throw new Error('result too short');
  const n = buf.readUInt32BE(0);
  if (n > buf.length - 4) throw new Error('result header overruns the result');
  const header = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as WireHeader;
  if (!header || typeof header !== 'object' || typeof header.batchId !== 'string' || typeof header.parsed !== 'string' || typeof header.counts !== 'object') {
    throw new Error('result header is not a batch header');
  }
  return { header, end: 4 + n };
}

/**
 * The header at once; the fragment decompressed on libuv's thread pool, in one piece (the header says its size),
 * so the thread that waits for it sees one callback rather than one per 16 KiB.
 */
export async function decodeBatch(buf: Buffer): Promise<{ header: BatchHeader; fragment: Buffer }> {
  const { header: { fragmentBytes, ...header }, end } = readHeader(buf);
  const size = Number.isInteger(fragmentBytes) && fragmentBytes > 0 ? Math.min(fragmentBytes, MAX_RESULT_BYTES) : 64 * 1024;
  const fragment = await decompress(buf.subarray(end), { maxOutputLength: MAX_RESULT_BYTES, chunkSize: Math.max(size, 64) });
  return { header, fragment };
}

/** What a stored result answers (its `parsed`), from the start of it; undefined when that start is not enough. */
export function parsedBy(head: Buffer): string | undefined {
  try {
    return readHeader(head).header.parsed;
  } catch {
    return undefined;
  }
}
