/**
 * "Full jitter" exponential backoff (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * sleep a uniform random time in [0, min(cap, base·2^n)). Spreading retries over the whole
 * interval, rather than around its end, is what stops many clients retrying an overloaded
 * provider in lockstep.
 */
export function fullJitterDelay(retry: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(retry, 0), 30));
  return Math.floor(random() * ceiling);
}

/** The delay before retrying an overloaded provider: jittered backoff, but never sooner than the provider asked. */
export function overloadDelay(retry: number, hintMs: number | undefined, baseMs: number, capMs: number, random: () => number): number {
  const jittered = fullJitterDelay(retry, baseMs, capMs, random);
  return hintMs !== undefined && hintMs > jittered ? hintMs : jittered;
}
