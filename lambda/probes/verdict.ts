import type { AccountFigures, Outcome } from '../domain';
import type { KeyHealthState, ProbeResult } from '../health/key-health';
import type { DisableReason, KeyState } from '../keys/key-lease';

/** What one probe call returned, before any decision. */
export type ProbeAnswer =
  | { kind: 'answer'; status: number; outcome: Outcome; notVisible: boolean; figures?: AccountFigures }
  | { kind: 'malformed'; status: number }
  | { kind: 'transport_error'; timedOut: boolean };

/** The key in this instance's pool (after a fresh read of the fleet's state). */
export interface PoolKey {
  state: KeyState;
  reason?: DisableReason | 'rate_limited';
}

export type ProbeAction = { kind: 'none' } | { kind: 'disable'; reason: DisableReason } | { kind: 'reenable' };

export interface Verdict {
  result: ProbeResult;
  /** The key's state for its KEY_HEALTH item. */
  state: KeyHealthState;
  action: ProbeAction;
  /** The probe passed (ok, or not visible but authenticated). */
  passed: boolean;
  /** The answer said something about the key (passed, invalid, out of quota); transient failures do not. */
  conclusive: boolean;
}

/** The result name of an answer, as the vendor's classifier (and the probe's figures) read it. */
export function resultOf(a: ProbeAnswer): ProbeResult {
  if (a.kind === 'transport_error') return a.timedOut ? 'timeout' : 'unreachable';
  if (a.kind === 'malformed') return 'malformed_answer';
  if (a.notVisible) return 'not_visible';
  switch (a.outcome) {
    case 'ok':
      return a.figures?.exhausted ? 'quota_exhausted' : 'ok';
    case 'quota_exhausted':
    case 'invalid_key':
    case 'rate_limited':
      return a.outcome;
    case 'overloaded':
      return 'provider_error';
    // A refusal of this route for this key (a scope, a model) says nothing about the key's use elsewhere.
    case 'bad_request':
    case 'key_forbidden':
      return 'unexpected_answer';
  }
}

/**
 * What a probe means for its key, pure:
 * - invalid or out of quota (by the vendor's classifier, or by the account figures) → disable it
 *   for the whole vendor, fleet-wide, exactly as a user request's answer would;
 * - passed → lift a disable it disproves: an invalid-key disable (the key authenticated), or a
 *   quota disable when the answer shows quota left (OpenAI's shows no quota, so it never lifts one;
 *   an ElevenLabs account past its limit on usage billing is not exhausted, but has none left);
 * - anything else (timeout, 5xx, 429, a malformed or unexpected answer) changes nothing: the key
 *   keeps its state (`unknown` if no probe ever passed).
 */
export function verdictOf(a: ProbeAnswer, key: PoolKey, previous?: KeyHealthState): Verdict {
  const result = resultOf(a);
  const disabled = key.state === 'disabled';
  if (result === 'invalid_key' || result === 'quota_exhausted') {
    return { result, state: 'disabled', action: { kind: 'disable', reason: result }, passed: false, conclusive: true };
  }
  if (result === 'ok' || result === 'not_visible') {
    const quotaLeft = result === 'ok' && a.kind === 'answer' && a.figures?.quotaLeft === true;
    const lifts = disabled && (key.reason === 'invalid_key' || (key.reason === 'quota_exhausted' && quotaLeft));
    const action: ProbeAction = lifts ? { kind: 'reenable' } : { kind: 'none' };
    return { result, state: disabled && !lifts ? 'disabled' : 'ok', action, passed: true, conclusive: true };
  }
  const state: KeyHealthState = disabled ? 'disabled' : previous === 'ok' ? 'ok' : 'unknown';
  return { result, state, action: { kind: 'none' }, passed: false, conclusive: false };
}
