/** Resolves after `ms`; does not keep the process alive by itself. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/**
 * What `p` resolves to, or undefined if it rejects or has not settled after `ms` (it may settle later, unobserved):
 * for calls to a Redis that may be away, which would otherwise wait for it as long as it takes.
 */
export function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  return Promise.race([p.catch(() => undefined), timeUp]).finally(() => clearTimeout(timer));
}
