/** A JSON array written by another process (a heartbeat, a run record): [] when absent or not an array. */
export function jsonArray<T>(text: string | undefined | null): T[] {
  try {
    const v: unknown = text ? JSON.parse(text) : [];
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}
