import type { Outcome, ProviderName } from '../domain';
import type { RotationReason } from './decide';

export interface AttemptEvent {
  provider: ProviderName;
  keyId: string;
  outcome: Outcome | 'transport_error' | 'malformed_answer';
  status?: number;
  latencyMs: number;
  /** Why there was no usable answer (a transport error's cause, e.g. `answer_too_large`). */
  code?: string;
}

export interface RotationEvent {
  provider: ProviderName;
  reason: RotationReason;
  fromKey: string;
  toKey: string;
  retryAfterMs?: number;
}

/**
 * What the rotation loop reports, as it happens. Subscribers turn events into log lines or
 * telemetry; the loop itself never logs. Called synchronously: a subscriber must not throw or block.
 */
export interface RotationEvents {
  attempt?(e: AttemptEvent): void;
  rotated?(e: RotationEvent): void;
  keyCooling?(e: { provider: ProviderName; keyId: string; retryAfterMs: number; hinted: boolean }): void;
  /** `key_forbidden`: kept out of this provider only. */
  keyDisabled?(e: { provider: ProviderName; keyId: string; reason: 'quota_exhausted' | 'invalid_key' | 'key_forbidden'; forMs: number }): void;
  /** Every key was refused this provider the same way: the request is at fault; the keys are let back. */
  everyKeyRefused?(e: { provider: ProviderName; status: number; code?: string }): void;
  keyResting?(e: { provider: ProviderName; keyId: string; restMs: number }): void;
  backoff?(e: { provider: ProviderName; keyId: string; status?: number; code?: string; backoffMs: number }): void;
  /** A wait in the vendor's admission queue ended (one per wait): released onto a key, or refused (queue full, too long a wait, gave up, client gone). */
  queued?(e: { provider: ProviderName; waitedMs: number; outcome: 'released' | 'queue_full' | 'wait_too_long' | 'gave_up' | 'disconnected'; retryAfterMs?: number }): void;
}

type Handlers = Required<RotationEvents>;

/** One subscriber made of several, called in order. */
export function fanOut(...subscribers: (RotationEvents | undefined)[]): RotationEvents {
  const subs = subscribers.filter((s): s is RotationEvents => s !== undefined);
  const each = <K extends keyof Handlers>(k: K) => (e: Parameters<Handlers[K]>[0]) => {
    for (const s of subs) (s[k] as ((x: typeof e) => void) | undefined)?.(e);
  };
  return {
    attempt: each('attempt'),
    rotated: each('rotated'),
    keyCooling: each('keyCooling'),
    keyDisabled: each('keyDisabled'),
    everyKeyRefused: each('everyKeyRefused'),
    keyResting: each('keyResting'),
    backoff: each('backoff'),
    queued: each('queued'),
  };
}
