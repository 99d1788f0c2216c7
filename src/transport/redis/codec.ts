import { brotliCompressSync, brotliDecompressSync, constants, crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
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
 * in the same time (6 ms; docs/BENCHMARKS.md). The header carries the fragment's CRC-32: Brotli has no checksum, and
 * a result damaged on the way can otherwise decompress into a valid database with altered rows (the fuzzer found one).
 */
export function encodeBatch(header: BatchHeader, fragment: Uint8Array): Buffer {
  const head = Buffer.from(JSON.stringify({ ...header, fragmentBytes: fragment.byteLength, fragmentCrc: crc32(fragment) }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  const body = brotliCompressSync(fragment, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 3, [constants.BROTLI_PARAM_SIZE_HINT]: fragment.byteLength },
  });
  return Buffer.concat([len, head, body]);
}

type WireHeader = BatchHeader & { fragmentBytes: number; fragmentCrc: number };

/** A stored result's header, and its body still compressed (with the size the fragment will have). */
export function readBatch(buf: Buffer): { header: BatchHeader; body: Buffer; fragmentBytes: number; crc: number } {
  if (buf.length < 4) throw new Error('result too short');
  const n = buf.readUInt32BE(0);
  if (n > buf.length - 4) throw new Error('result header overruns the result');
  const { fragmentBytes, fragmentCrc, ...header } = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as WireHeader;
  if (!header || typeof header !== 'object' || typeof header.batchId !== 'string' || typeof header.parsed !== 'string' || typeof header.counts !== 'object' || header.counts === null) {
    throw new Error('result header is not a batch header');
  }
  if (!Number.isInteger(fragmentCrc)) throw new Error('result header has no fragment checksum');
  const size = Number.isInteger(fragmentBytes) && fragmentBytes > 0 ? Math.min(fragmentBytes, MAX_RESULT_BYTES) : 64 * 1024;
  return { header, body: buf.subarray(4 + n), fragmentBytes: size, crc: fragmentCrc };
}

/** The fragment of a result body, in one piece (the header says its size), checked against the header's CRC-32. */
export function decompressFragment(body: Uint8Array, fragmentBytes: number, crc: number): Buffer {
  const fragment = brotliDecompressSync(body, { maxOutputLength: MAX_RESULT_BYTES, chunkSize: Math.max(fragmentBytes, 64) });
  if (crc32(fragment) !== crc) throw new Error('result fragment does not match its checksum (damaged on the way)');
  return fragment;
}

/** What a stored result answers (its `parsed`), from the start of it; undefined when that start is not enough. */
export function parsedBy(head: Buffer): string | undefined {
  try {
    return readBatch(head).header.parsed;
  } catch {
    return undefined;
  }
}
