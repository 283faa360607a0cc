import type { Clock, VendorId } from '../domain';
import { DisableReason, KeyLease, KeyState, KeyStateChange, KeyView, Pick, PoolCounts, fingerprintOf } from './key-lease';
import { CooldownPolicy, DEFAULT_COOLDOWN_POLICY, cooldownFor, disableFor } from './cooldown';
import { MinHeap } from './min-heap';

interface Slot {
  lease: KeyLease;
  state: KeyState;
  until: number;
  reason?: DisableReason | 'rate_limited';
  /** Consecutive rate limits (grows the default cooldown). */
  strikes: number;
  /** Consecutive disables (grows the re-probe interval). */
  disables: number;
  /** Bumped on every state change; queue and heap entries with an older generation are stale. */
  gen: number;
  /**
   * Back from a cooldown or disable and not yet answered: one request at a time may try it, so a
   * crowd of waiters does not stampede the one key that just returned (one call per freed slot).
   */
  probe: boolean;
  /** While a probe call is out (epoch ms; a safety timeout if its answer is never reported). */
  probeOutUntil: number;
}

/** How long a probe may stay out unanswered before another request may try the key. */
export const PROBE_TIMEOUT_MS = 30_000;
/** How soon a request blocked only by a probe in flight looks again. */
export const PROBE_POLL_MS = 100;

interface Entry {
  slot: Slot;
  gen: number;
}

/**
 * The keys of one vendor, shared by all of that vendor's providers.
 *
 * Selection is round-robin over usable keys through a FIFO of (slot, generation) entries: a pick
 * pops the head and re-appends it. A key leaving rotation just bumps its generation, so its queue
 * entry turns stale and is dropped when it reaches the head; a timer heap brings it back when its
 * cooldown or disable interval ends. Each state change creates at most one stale entry, so a pick
 * is O(1) amortised, and O(log n) per cooldown — never a scan of the pool.
 */
export class KeyPool {
  private readonly slots: Slot[];
  private queue: Entry[] = [];
  private head = 0;
  private readonly timers = new MinHeap<{ at: number; slot: Slot; gen: number }>();
  private cooling = 0;
  private disabled = 0;
  private readonly byId = new Map<string, Slot>();
  private readonly byFingerprint = new Map<string, Slot>();

  constructor(
    readonly vendor: VendorId,
    secrets: readonly string[],
    private readonly clock: Clock,
    private readonly policy: CooldownPolicy = DEFAULT_COOLDOWN_POLICY,
    /** Told when a provider answer cools or disables a key (fleet sharing); never for external knowledge. */
    private readonly onChange?: (c: KeyStateChange) => void,
  ) {
    this.slots = secrets.map((secret, i) => {
      const lease = new KeyLease(vendor, `${vendor}#${i + 1}`, fingerprintOf(secret), secret);
      const slot: Slot = { lease, state: 'usable', until: 0, strikes: 0, disables: 0, gen: 0, probe: false, probeOutUntil: 0 };
      this.byId.set(lease.id, slot);
      this.byFingerprint.set(lease.fingerprint, slot);
      return slot;
    });
    for (const slot of this.slots) this.queue.push({ slot, gen: slot.gen });
  }

  get size(): number {
    return this.slots.length;
  }

  /** The next usable key, round-robin; or how long until one is; or that there is none. */
  pick(): Pick {
    const now = this.clock();
    this.releaseExpired(now);
    let probeBlockedUntil = Number.POSITIVE_INFINITY;
    // Each live entry is looked at once at most: stale ones are dropped, blocked probes re-queued.
    for (let left = this.queue.length - this.head; left > 0; left--) {
      const entry = this.queue[this.head++];
      const slot = entry.slot;
      if (entry.gen !== slot.gen || slot.state !== 'usable') continue;
      this.queue.push(entry);
      if (slot.probe && slot.probeOutUntil > now) {
        probeBlockedUntil = Math.min(probeBlockedUntil, slot.probeOutUntil);
        continue;
      }
      if (slot.probe) slot.probeOutUntil = now + PROBE_TIMEOUT_MS;
      this.compact();
      return { kind: 'key', lease: slot.lease };
    }
    this.compact();
    const waits: number[] = [];
    const next = this.timers.peek();
    if (this.cooling > 0 && next) waits.push(Math.max(0, next.at - now));
    if (probeBlockedUntil !== Number.POSITIVE_INFINITY) waits.push(Math.min(PROBE_POLL_MS, probeBlockedUntil - now));
    return waits.length ? { kind: 'wait', waitMs: Math.min(...waits) } : { kind: 'none' };
  }

  /** The attempt on this key ended without telling anything about the key (provider trouble): let another request try it. */
  settle(lease: KeyLease): void {
    const slot = this.slotOf(lease);
    if (slot) slot.probeOutUntil = 0;
  }

  /** Time until some key can be tried (0 if one can now); undefined if none ever can (all disabled or none). */
  nextUsableInMs(): number | undefined {
    const now = this.clock();
    this.releaseExpired(now);
    let best: number | undefined;
    for (const s of this.slots) {
      const at = s.state === 'usable' ? (s.probe && s.probeOutUntil > now ? Math.min(PROBE_POLL_MS, s.probeOutUntil - now) : 0) : s.state === 'cooling' ? s.until - now : undefined;
      if (at !== undefined) best = best === undefined ? at : Math.min(best, at);
    }
    return best === undefined ? undefined : Math.max(0, best);
  }

  /** The raw keys, in order (the redactor's input). */
  secrets(): string[] {
    return this.slots.map((s) => s.lease.secret());
  }

  /** Whether this pool holds exactly these keys, in this order. */
  holds(secrets: readonly string[]): boolean {
    return secrets.length === this.slots.length && secrets.every((s, i) => this.slots[i].lease.secret() === s);
  }

  /**
   * A pool for a new key list (keys added, removed or re-ordered in the secret), keeping what is
   * known about keys present in both: a cooling or disabled key stays so under its new id.
   */
  rebuilt(secrets: readonly string[]): KeyPool {
    const next = new KeyPool(this.vendor, secrets, this.clock, this.policy, this.onChange);
    const idBySecret = new Map(next.slots.map((s) => [s.lease.secret(), s]));
    for (const old of this.slots) {
      const target = idBySecret.get(old.lease.secret());
      if (!target) continue;
      target.strikes = old.strikes;
      target.disables = old.disables;
      if (old.state !== 'usable' && old.reason) next.applyExternal(target.lease.id, old.state, old.until, old.reason);
    }
    return next;
  }

  /** A lease for a key by fingerprint, whatever its state (job polls). */
  leaseByFingerprint(fingerprint: string): KeyLease | undefined {
    return this.byFingerprint.get(fingerprint)?.lease;
  }

  /** A lease for a given key id (job polls must use the creating key), whatever its state. */
  leaseById(id: string): KeyLease | undefined {
    return this.byId.get(id)?.lease;
  }

  /** The key answered; it is healthy again. */
  markOk(lease: KeyLease): void {
    const slot = this.slotOf(lease);
    if (!slot) return;
    slot.strikes = 0;
    slot.disables = 0;
    slot.probe = false;
    slot.probeOutUntil = 0;
  }

  /** The key hit a rate limit: out of rotation until the provider's hint (or a growing default). Returns the cooldown applied. */
  markRateLimited(lease: KeyLease, hintMs?: number): number {
    const slot = this.slotOf(lease);
    if (!slot) return 0;
    const now = this.clock();
    this.releaseExpired(now);
    // Several requests in flight on one key report the same limit: one strike, not one each.
    if (slot.state !== 'cooling') slot.strikes += 1;
    const ms = cooldownFor(hintMs, Math.max(1, slot.strikes), this.policy);
    // Several in-flight requests may report the same key: a deadline only ever moves later.
    if (slot.state === 'disabled' || (slot.state === 'cooling' && slot.until >= now + ms)) {
      return Math.max(0, slot.until - now);
    }
    this.setState(slot, 'cooling', now + ms, 'rate_limited');
    this.onChange?.({ vendor: this.vendor, lease, state: 'cooling', until: now + ms, reason: 'rate_limited' });
    return ms;
  }

  /**
   * The key served, and the provider said its request budget is now spent: rest it until the
   * budget refills, so the next call does not waste a 429. Not a rate-limit strike (the key did
   * nothing wrong); only ever extends. Returns the rest applied (0 if none).
   */
  markBudgetSpent(lease: KeyLease, forMs: number): number {
    const slot = this.slotOf(lease);
    if (!slot || slot.state === 'disabled') return 0;
    const now = this.clock();
    const ms = Math.min(forMs, this.policy.maxCooldownMs);
    if (slot.state === 'cooling' && slot.until >= now + ms) return 0;
    this.setState(slot, 'cooling', now + ms, 'rate_limited');
    this.onChange?.({ vendor: this.vendor, lease, state: 'cooling', until: now + ms, reason: 'rate_limited' });
    return ms;
  }

  /** Quota exhausted or key invalid: out of rotation for every provider of this vendor, re-probed after a long interval. */
  markDisabled(lease: KeyLease, reason: DisableReason): number {
    const slot = this.slotOf(lease);
    if (!slot) return 0;
    const now = this.clock();
    if (slot.state === 'disabled' && slot.until > now) return slot.until - now;
    slot.disables += 1;
    const ms = disableFor(slot.disables, this.policy);
    this.setState(slot, 'disabled', now + ms, reason);
    this.onChange?.({ vendor: this.vendor, lease, state: 'disabled', until: now + ms, reason });
    return ms;
  }

  /**
   * Applies knowledge learnt elsewhere (another container): cooling or disabled until an absolute
   * time. Only ever extends. Returns whether anything changed.
   */
  applyExternal(id: string, state: 'cooling' | 'disabled', until: number, reason: DisableReason | 'rate_limited'): boolean {
    return this.applyTo(this.byId.get(id), state, until, reason);
  }

  /** `applyExternal` for a key known by fingerprint (the fleet's items name keys that way). */
  applyExternalByFingerprint(fingerprint: string, state: 'cooling' | 'disabled', until: number, reason: DisableReason | 'rate_limited'): boolean {
    return this.applyTo(this.byFingerprint.get(fingerprint), state, until, reason);
  }

  private applyTo(slot: Slot | undefined, state: 'cooling' | 'disabled', until: number, reason: DisableReason | 'rate_limited'): boolean {
    if (!slot) return false;
    const now = this.clock();
    if (until <= now) return false;
    if (slot.state === 'disabled' && slot.until >= until) return false;
    if (slot.state === 'cooling' && state === 'cooling' && slot.until >= until) return false;
    this.setState(slot, state, until, reason);
    return true;
  }

  counts(): PoolCounts {
    this.releaseExpired(this.clock());
    const total = this.slots.length;
    return { total, available: total - this.cooling - this.disabled, cooling: this.cooling, disabled: this.disabled };
  }

  /** Public view of every key (ids and fingerprints only). */
  view(): KeyView[] {
    this.releaseExpired(this.clock());
    return this.slots.map((s) => ({
      id: s.lease.id,
      fingerprint: s.lease.fingerprint,
      state: s.state,
      ...(s.state === 'usable' ? {} : { until: s.until, reason: s.reason }),
    }));
  }

  private slotOf(lease: KeyLease): Slot | undefined {
    const slot = this.byId.get(lease.id);
    return slot && slot.lease === lease ? slot : undefined;
  }

  private setState(slot: Slot, state: 'cooling' | 'disabled', until: number, reason: Slot['reason']): void {
    this.count(slot.state, -1);
    slot.state = state;
    slot.until = until;
    slot.reason = reason;
    slot.gen += 1;
    slot.probeOutUntil = 0;
    this.count(state, +1);
    this.timers.push({ at: until, slot, gen: slot.gen });
  }

  private releaseExpired(now: number): void {
    for (let t = this.timers.peek(); t && (t.gen !== t.slot.gen || t.at <= now); t = this.timers.peek()) {
      this.timers.pop();
      if (t.gen !== t.slot.gen) continue; // superseded by a later state change
      const slot = t.slot;
      this.count(slot.state, -1);
      // Back as a probe: one request at a time until it answers. A disabled key that fails again
      // is disabled for longer (its `disables` count is kept until it answers ok).
      slot.state = 'usable';
      slot.reason = undefined;
      slot.probe = true;
      slot.probeOutUntil = 0;
      slot.gen += 1;
      this.queue.push({ slot, gen: slot.gen });
    }
  }

  private count(state: KeyState, d: number): void {
    if (state === 'cooling') this.cooling += d;
    else if (state === 'disabled') this.disabled += d;
  }

  /** Drops consumed queue entries once they are the bulk of the array (amortised O(1)). */
  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
