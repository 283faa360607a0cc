/**
 * How long a key stays out of rotation. Pure functions of the provider's hint and the key's
 * history, so the policy is tested table-driven and the pool only applies it.
 */
export interface CooldownPolicy {
  /** First cooldown after a 429 that carried no usable hint; doubles with each consecutive one. */
  defaultCooldownMs: number;
  /** Upper bound on any cooldown, hinted or not: an absurd `Retry-After` must not bench a key for days. */
  maxCooldownMs: number;
  /** Floor: a `Retry-After: 0` must not let one request hammer the same key in a tight loop. */
  minCooldownMs: number;
  /** First disable of a quota-exhausted / invalid key, before it is re-probed once. */
  disableMs: number;
  /** Re-probes that fail again double the interval, up to this. */
  maxDisableMs: number;
}

export const DEFAULT_COOLDOWN_POLICY: CooldownPolicy = {
  defaultCooldownMs: 5_000,
  maxCooldownMs: 10 * 60_000,
  minCooldownMs: 100,
  disableMs: 60 * 60_000,
  maxDisableMs: 24 * 60 * 60_000,
};

/** Cooldown after a rate limit; `strikes` counts consecutive rate limits of this key, this one included (≥ 1). */
export function cooldownFor(hintMs: number | undefined, strikes: number, p: CooldownPolicy): number {
  if (hintMs !== undefined && Number.isFinite(hintMs) && hintMs >= 0) {
    return clamp(hintMs, p.minCooldownMs, p.maxCooldownMs);
  }
  const grown = p.defaultCooldownMs * 2 ** Math.min(Math.max(strikes - 1, 0), 30);
  return clamp(grown, p.minCooldownMs, p.maxCooldownMs);
}

/** Disable interval; `disables` counts consecutive disables of this key, this one included (≥ 1). */
export function disableFor(disables: number, p: CooldownPolicy): number {
  return Math.min(p.maxDisableMs, p.disableMs * 2 ** Math.min(Math.max(disables - 1, 0), 30));
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
