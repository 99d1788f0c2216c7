// The coordinator's decoding thread (a Piscina entry): a result's fragment decompressed and written to the spool here,
// so that the thread that receives results never holds a fragment (nor collects it).
import { spoolFragment } from '../../index-store/fragment.js';
import { decompressFragment } from './codec.js';

export interface DecodeTask {
  batchId: string;
  body: Uint8Array;
  fragmentBytes: number;
  crc: number;
}

/** Returns the spool file of the batch's fragment. */
export default function decode(t: DecodeTask): string {
  return spoolFragment(t.batchId, decompressFragment(t.body, t.fragmentBytes, t.crc));
}
