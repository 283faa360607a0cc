import type { Clock, VendorId } from '../domain';
import type { CooldownPolicy } from './cooldown';
import type { KeyStateChange } from './key-lease';
import { KeyPool } from './key-pool';

/**
 * Every vendor's key pool, in one registry passed to whoever needs pools — the gateway, the fleet
 * key-state sharer, health — so none of them needs another to reach a pool. A pool replaced for a
 * new key list (`update`) is seen by all of them at once; listeners (`onChange`) hear what provider
 * answers teach any pool, old or new.
 */
export class KeyPools {
  private readonly pools = new Map<VendorId, KeyPool>();
  private readonly listeners: ((c: KeyStateChange) => void)[] = [];
  /** Bumped whenever a pool is created or replaced: whoever derives something from the keys (the redactor) rebuilds. */
  private changes = 0;

  constructor(
    keys: Record<VendorId, readonly string[]>,
    private readonly clock: Clock,
    private readonly policy?: CooldownPolicy,
  ) {
    for (const [vendor, secrets] of Object.entries(keys)) this.pools.set(vendor, this.create(vendor, secrets));
  }

  /** The vendor's pool; an unknown vendor has an empty one (no key configured). */
  get(vendor: VendorId): KeyPool {
    let pool = this.pools.get(vendor);
    if (!pool) {
      pool = this.create(vendor, []);
      this.pools.set(vendor, pool);
    }
    return pool;
  }

  vendors(): VendorId[] {
    return [...this.pools.keys()];
  }

  get revision(): number {
    return this.changes;
  }

  /** Every key of every pool (for the redactor, which must know what to remove; never logged). */
  *secrets(): Iterable<string> {
    for (const pool of this.pools.values()) yield* pool.secrets();
  }

  /** Subscribes to key state learnt from provider answers (never to knowledge applied from outside). */
  onChange(listener: (c: KeyStateChange) => void): void {
    this.listeners.push(listener);
  }

  /** Applies a new key list per vendor (e.g. the secret was updated); returns the vendors that changed. */
  update(keys: Record<VendorId, readonly string[]>): VendorId[] {
    const changed: VendorId[] = [];
    for (const [vendor, secrets] of Object.entries(keys)) {
      const pool = this.get(vendor);
      if (pool.holds(secrets)) continue;
      this.pools.set(vendor, pool.rebuilt(secrets));
      this.changes += 1;
      changed.push(vendor);
    }
    return changed;
  }

  private create(vendor: VendorId, secrets: readonly string[]): KeyPool {
    this.changes += 1;
    return new KeyPool(vendor, secrets, this.clock, this.policy, (c) => {
      for (const l of this.listeners) l(c);
    });
  }
}
