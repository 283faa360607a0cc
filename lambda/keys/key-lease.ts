import { createHash } from 'node:crypto';
import type { KeyCredential, VendorId } from '../domain';

export type DisableReason = 'quota_exhausted' | 'invalid_key';
export type KeyState = 'usable' | 'cooling' | 'disabled';

/**
 * A key handed to one upstream attempt. Its public identity is `id` (`openai#2`) and `fingerprint`;
 * the secret is reachable only through `secret()`, held in a private field so that neither
 * `JSON.stringify` nor `util.inspect` of a lease (or of anything holding one) can print it.
 */
export class KeyLease implements KeyCredential {
  readonly #secret: string;
  constructor(
    readonly vendor: VendorId,
    readonly id: string,
    readonly fingerprint: string,
    secret: string,
  ) {
    this.#secret = secret;
  }
  secret(): string {
    return this.#secret;
  }
  toJSON(): string {
    return this.id;
  }
}

export type Pick =
  | { kind: 'key'; lease: KeyLease }
  /** Every usable-soon key is cooling: the earliest is usable in `waitMs`. */
  | { kind: 'wait'; waitMs: number }
  /** No key at all: none configured, or all disabled. */
  | { kind: 'none' };

/** A key's state learnt from a provider answer in this instance (not from the fleet): what sharing publishes. */
export interface KeyStateChange {
  vendor: VendorId;
  lease: KeyLease;
  state: 'cooling' | 'disabled';
  /** Epoch ms. */
  until: number;
  reason: DisableReason | 'rate_limited';
}

export interface PoolCounts {
  total: number;
  available: number;
  cooling: number;
  disabled: number;
}

export interface KeyView {
  id: string;
  fingerprint: string;
  state: KeyState;
  /** Epoch ms when a cooling key is usable again / a disabled key is re-probed. */
  until?: number;
  reason?: DisableReason | 'rate_limited';
  /** Providers this key is kept out of (it was refused access to them), with when it is tried again. */
  forbidden?: Record<string, number>;
}

/** A key refused access to one provider: kept out of that provider only, until `until` (epoch ms). */
export interface Forbidden {
  until: number;
  /** The refusal (status and code): when every key gets the same one, the request is at fault, not the keys. */
  signature: string;
}

/** A short, stable, non-reversible fingerprint of a key, for telling keys apart in logs. */
export function fingerprintOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 8);
}
