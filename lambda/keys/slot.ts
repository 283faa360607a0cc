import type { DisableReason, Forbidden, KeyLease, KeyState } from './key-lease';
import { roomOf } from './room';

/** The scope of a pick that names no provider (tools, tests): the vendor's keys, whatever they may not serve. */
export const ANY = '';

/** One key's state in its pool. */
export interface Slot {
  lease: KeyLease;
  state: KeyState;
  until: number;
  reason?: DisableReason | 'rate_limited';
  /** Consecutive rate limits (grows the default cooldown). */
  strikes: number;
  /** Consecutive disables (grows the re-probe interval). */
  disables: number;
  /** Epoch ms: when what put the key in its current cooling/disabled state was learnt (a later probe success may lift it). */
  since: number;
  /** Bumped on every state change; queue and heap entries with an older generation are stale. */
  gen: number;
  /**
   * Back from a cooldown or disable and not yet answered: one request at a time may try it, so a
   * crowd of waiters does not stampede the one key that just returned (one call per freed slot).
   */
  probe: boolean;
  /** While a probe call is out (epoch ms; a safety timeout if its answer is never reported). */
  probeOutUntil: number;
  /**
   * Providers this key is kept out of, and until when (it answered them 403, a missing scope, no
   * model access). Created on first use: a pick over keys never refused touches no map.
   */
  forbidden?: Map<string, Forbidden>;
  /** Consecutive exclusions per provider (grows the interval; cleared when the key serves that provider). */
  forbids?: Map<string, number>;
  /** Requests in flight on the key (picked, not yet settled). */
  inFlight: number;
  /** Known concurrency limit (ElevenLabs `maximum-concurrent-requests`, or configured). */
  maxInFlight?: number;
  /** Requests left in its known budget (OpenAI `x-ratelimit-remaining-requests`, less those picked since). */
  budget?: number;
  /** Its known budget per window (OpenAI `x-ratelimit-limit-requests`): what it takes when it comes back. */
  limit?: number;
}

/** The key is usable but has no room now (budget or concurrency taken): it frees when an attempt settles. */
export function full(s: Slot): boolean {
  return !s.probe && roomOf(s) === 0;
}

/** A timer: a vendor-level state ending (valid while the slot's generation is `gen`), or an exclusion ending. */
export type Timer = { at: number; slot: Slot; gen: number; scope?: undefined } | { at: number; slot: Slot; scope: string; ex: Forbidden };

/** How long a probe may stay out unanswered before another request may try the key. */
export const PROBE_TIMEOUT_MS = 30_000;
/** How soon a request blocked only by a probe in flight looks again. */
export const PROBE_POLL_MS = 100;

/**
 * No key usable for `provider` now: how long until one may be (the earliest key back, if any key
 * is only cooling; a poll interval if a probe is out), or undefined if none will be (all disabled
 * or kept out). A scan, but only on this path: a pick that finds a key never gets here.
 */
export function waitFor(slots: readonly Slot[], provider: string, now: number): number | undefined {
  let soonest = Number.POSITIVE_INFINITY;
  let someCooling = false;
  let probe = Number.POSITIVE_INFINITY;
  for (const s of slots) {
    const ex = s.forbidden?.get(provider);
    if (s.state === 'usable' && !ex) {
      if ((s.probe && s.probeOutUntil > now) || full(s)) probe = Math.min(probe, PROBE_POLL_MS, s.probe ? s.probeOutUntil - now : PROBE_POLL_MS);
      continue;
    }
    if (s.state === 'cooling' && !ex) someCooling = true;
    soonest = Math.min(soonest, Math.max(s.state === 'usable' ? now : s.until, ex?.until ?? 0) - now);
  }
  const waits = [...(someCooling ? [soonest] : []), ...(probe < Number.POSITIVE_INFINITY ? [probe] : [])];
  return waits.length ? Math.max(0, Math.min(...waits)) : undefined;
}

/** Time until some key can be tried for `provider` (0 if one can now); undefined if none ever can. */
export function nextUsableIn(slots: readonly Slot[], provider: string, now: number): number | undefined {
  let best: number | undefined;
  for (const s of slots) {
    if (s.forbidden?.has(provider)) continue;
    const at = s.state === 'usable' ? ((s.probe && s.probeOutUntil > now) || full(s) ? Math.min(PROBE_POLL_MS, s.probe ? s.probeOutUntil - now : PROBE_POLL_MS) : 0) : s.state === 'cooling' ? s.until - now : undefined;
    if (at !== undefined) best = best === undefined ? at : Math.min(best, at);
  }
  return best === undefined ? undefined : Math.max(0, best);
}
