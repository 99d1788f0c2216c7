import type { FileRef } from '../protocol/types.js';
import { sha1 } from './hash.js';

export interface Batch {
  /** Derived from the files' paths and content hashes: the same tree always plans the same ids. */
  id: string;
  files: FileRef[];
  bytes: number;
}

export interface PlanOptions {
  /** Aim for batches of about this many bytes. */
  targetBytes: number;
  /** Never more files than this in one batch (many tiny files cost per-file overhead, not bytes). */
  maxFiles: number;
}

export const DEFAULT_PLAN: PlanOptions = { targetBytes: 512 * 1024, maxFiles: 256 };

/**
 * Size-balanced batches: files largest first, each into the currently lightest batch (LPT scheduling), then the
 * batches themselves largest first so the run's tail is made of small ones. Independent of the thread count, so a
 * resumed or clustered run plans exactly the same batches.
 */
export function plan(files: readonly FileRef[], opts: PlanOptions = DEFAULT_PLAN): Batch[] {
  if (files.length === 0) return [];
  const total = files.reduce((n, f) => n + f.size, 0);
  const count = Math.max(Math.ceil(total / opts.targetBytes), Math.ceil(files.length / opts.maxFiles), 1);
  const sorted = [...files].sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1));

  // A binary heap keyed by (bytes, files, index) keeps assignment O(n log count) and deterministic.
  const bins = Array.from({ length: count }, () => ({ files: [] as FileRef[], bytes: 0 }));
  const heap = bins.map((_, i) => i);
  const less = (a: number, b: number) =>
    bins[a].bytes - bins[b].bytes || bins[a].files.length - bins[b].files.length || a - b;
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l], heap[m]) < 0) m = l;
      if (r < heap.length && less(heap[r], heap[m]) < 0) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (const f of sorted) {
    if (heap.length === 0) heap.push(bins.push({ files: [], bytes: 0 }) - 1);
    const bin = bins[heap[0]];
    bin.files.push(f);
    bin.bytes += f.size;
    if (bin.files.length >= opts.maxFiles) {
      // Full: retire it from the heap.
      const last = heap.pop()!;
      if (heap.length) heap[0] = last;
    }
    if (heap.length) siftDown(0);
  }

  return bins
    .filter((b) => b.files.length)
    .map((b) => {
      b.files.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
      return { id: batchId(b.files), files: b.files, bytes: b.bytes };
    })
    .sort((a, b) => b.bytes - a.bytes || (a.id < b.id ? -1 : 1));
}

export function batchId(files: readonly FileRef[]): string {
  return sha1(files.map((f) => `${f.path}\0${f.hash}`).join('\n')).slice(0, 16);
}

/** Halves a failing batch so the file that breaks it can be isolated. */
export function split(files: readonly FileRef[]): [FileRef[], FileRef[]] {
  const mid = Math.ceil(files.length / 2);
  return [files.slice(0, mid), files.slice(mid)];
}
