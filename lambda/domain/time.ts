/** Bounded waits. */

/**
 * `p`, or `onLate()` if it has not settled within `ms`: the one way a bounded wait is written.
 * The timer is cleared either way, so nothing keeps the process (or a frozen Lambda) waiting.
 */
export function withTimeout<T, L>(p: Promise<T>, ms: number, onLate: () => L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<L>((resolve) => {
    timer = setTimeout(() => resolve(onLate()), Math.max(0, ms));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
