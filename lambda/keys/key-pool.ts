/* eslint-disable max-lines -- the pool is one invariant (O(1) picks, probe slots, per-provider exclusions, the timer heap, re-enable): splitting it further would expose its internals; its parts that stand alone are in slot.ts and round-robin.ts. */
import type { Clock, VendorId } from '../domain';
import { DisableReason, Forbidden, KeyLease, KeyState, KeyStateChange, KeyView, Pick, PoolCounts, fingerprintOf } from './key-lease';
import { CooldownPolicy, DEFAULT_COOLDOWN_POLICY, cooldownFor, disableFor } from './cooldown';
import { MinHeap } from './min-heap';
import { RoundRobin } from './round-robin';
import type { KeyRoom } from './room';
import { ANY, full, nextUsableIn, PROBE_TIMEOUT_MS, Slot, Timer, waitFor } from './slot';

/**
 * The keys of one vendor, shared by all of that vendor's providers.
 *
 * Selection is round-robin over usable keys, one queue per provider (`RoundRobin`: a pick pops the
 * head and re-appends it). A key leaving rotation for the vendor just bumps its generation, so its
 * entries turn stale and are dropped when they reach a head; a key kept out of one provider (it
 * was refused access there) is dropped from that provider's queue only. A timer heap brings keys
 * back when a cooldown, disable or exclusion ends. Each state change queues at most one entry per
 * provider, so a pick is O(1) amortised, and O(log n) per cooldown — never a scan of the pool.
 */
/** A key busy on requests (a probe out, its concurrency taken) frees about this often: one speech or image answer. */
const BUSY_CYCLE_MS = 2_000;

export class KeyPool {
  private readonly slots: Slot[];
  private readonly queues = new Map<string, RoundRobin<Slot>>();
  private readonly timers = new MinHeap<Timer>();
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
      const slot: Slot = { lease, state: 'usable', until: 0, strikes: 0, disables: 0, since: 0, gen: 0, probe: false, probeOutUntil: 0, inFlight: 0 };
      this.byId.set(lease.id, slot);
      this.byFingerprint.set(lease.fingerprint, slot);
      return slot;
    });
  }

  get size(): number {
    return this.slots.length;
  }

  /** The next key usable for `provider`, round-robin; or how long until one is; or that there is none. */
  pick(provider = ANY): Pick {
    const now = this.clock();
    this.releaseExpired(now);
    const queue = this.queueOf(provider);
    // Each live entry is looked at once at most: stale ones are dropped, blocked probes re-queued.
    for (let left = queue.length; left > 0; left--) {
      const entry = queue.shift();
      const slot = entry.item;
      if (entry.gen !== slot.gen || slot.state !== 'usable' || slot.forbidden?.has(provider)) continue;
      queue.requeue(entry);
      if ((slot.probe && slot.probeOutUntil > now) || full(slot)) continue;
      if (slot.probe) slot.probeOutUntil = now + PROBE_TIMEOUT_MS;
      slot.inFlight += 1;
      if (slot.budget !== undefined) slot.budget -= 1;
      queue.compact();
      return { kind: 'key', lease: slot.lease };
    }
    queue.compact();
    const waitMs = waitFor(this.slots, provider, now);
    return waitMs === undefined ? { kind: 'none' } : { kind: 'wait', waitMs };
  }

  /** The attempt on this key ended without telling anything about the key (provider trouble): let another request try it. */
  settle(lease: KeyLease, stillSending = false): void {
    const slot = this.slotOf(lease);
    if (!slot) return;
    slot.probeOutUntil = 0;
    // A streamed answer keeps its concurrency slot until its body ends (`finished`); the waiters
    // hear now all the same — the marks on its answer (a rest, a budget) must not wait for a slow client.
    if (stillSending) this.notifyRoom();
    else this.finished(lease);
  }

  /** A streamed answer's body ended: its key's concurrency slot is free. */
  finished(lease: KeyLease): void {
    const slot = this.slotOf(lease);
    if (!slot) return;
    slot.inFlight = Math.max(0, slot.inFlight - 1);
    // A budget counted down to nothing by our own picks, with no answer left to say more (no rest
    // applied, nothing in flight): unknown again — one probe, rather than a key stuck unused.
    if (slot.budget !== undefined && slot.budget <= 0 && slot.inFlight === 0 && slot.state === 'usable') {
      slot.budget = undefined;
      slot.probe = true;
    }
    this.notifyRoom();
  }

  /** Tells the room listeners — after the caller's marks on this answer (cooled, rested, proven), when the room is known. */
  private notifyRoom(): void {
    if (this.roomListeners.length) queueMicrotask(() => this.roomListeners.forEach((fn) => fn()));
  }

  private readonly roomListeners: (() => void)[] = [];

  /** Told whenever an attempt settles (a probe answered, a slot of budget or concurrency may be free). */
  onRoom(fn: () => void): void {
    this.roomListeners.push(fn);
  }

  /**
   * What the provider said about the key's room on its last answer: requests left in its budget
   * and its budget per window (OpenAI x-ratelimit-*), its concurrency limit (ElevenLabs). Call
   * before `settle`: requests picked since the answer left are still counted against the budget.
   */
  noteRoom(lease: KeyLease, room: { remaining?: number; limit?: number; maxInFlight?: number }): void {
    const slot = this.slotOf(lease);
    if (!slot) return;
    if (room.remaining !== undefined) slot.budget = Math.max(0, room.remaining - (slot.inFlight - 1));
    if (room.limit !== undefined) slot.limit = room.limit;
    if (room.maxInFlight !== undefined) slot.maxInFlight = room.maxInFlight;
  }

  /**
   * Keys not yet heard from become probes: with their budget and concurrency unknown, one request
   * each first, the rest once it answered (the admission queue turns this on: a burst on a fresh
   * pool then waits one round trip instead of drawing 429s).
   */
  probeFresh(): void {
    for (const s of this.slots) {
      if (s.state === 'usable' && s.inFlight === 0 && s.limit === undefined && s.maxInFlight === undefined && s.strikes === 0) s.probe = true;
    }
  }

  /** Requests left in the pool's known budgets for `provider` (usable keys), or undefined if any usable key's budget is unknown. */
  remaining(provider = ANY): number | undefined {
    let sum = 0;
    for (const k of this.rooms(provider)) {
      if (k.budget === undefined) return undefined;
      sum += k.budget;
    }
    return sum;
  }

  /** The room of each key usable for `provider` now (the admission queue releases no more waiters than this). */
  rooms(provider = ANY): KeyRoom[] {
    const now = this.clock();
    this.releaseExpired(now);
    return this.slots
      .filter((s) => s.state === 'usable' && !s.forbidden?.has(provider))
      .map((s) => ({ probe: s.probe, probeOutUntil: s.probeOutUntil > now ? s.probeOutUntil : 0, budget: s.budget, maxInFlight: s.maxInFlight, inFlight: s.inFlight }));
  }

  /**
   * When keys come back for `provider` and how many requests each then takes (see `KeyReturn`; a
   * usable key counts as back now), soonest first, and how long a spent key stays out (its cooldown; else BUSY_CYCLE_MS).
   */
  returns(provider = ANY): { returns: { inMs: number; takes: number }[]; cycleMs: number } {
    const now = this.clock();
    this.releaseExpired(now);
    const returns: { inMs: number; takes: number }[] = [];
    let cycleMs = 0;
    for (const s of this.slots) {
      if (s.forbidden?.has(provider)) continue;
      const known = s.limit ?? s.maxInFlight;
      if (s.state === 'cooling') {
        returns.push({ inMs: s.until - now, takes: known ?? 1 });
        cycleMs = Math.max(cycleMs, s.until - s.since);
      } else if (s.state === 'usable') {
        // Busy (a probe out, its concurrency taken) or just handed to released waiters: back at once, as far as is known.
        returns.push({ inMs: 0, takes: known ?? Number.POSITIVE_INFINITY });
      }
    }
    return { returns: returns.sort((x, y) => x.inMs - y.inMs), cycleMs: cycleMs || BUSY_CYCLE_MS };
  }

  /** Time until some key can be tried for `provider` (0 if one can now); undefined if none ever can (all disabled, kept out, or none). */
  nextUsableInMs(provider = ANY): number | undefined {
    const now = this.clock();
    this.releaseExpired(now);
    return nextUsableIn(this.slots, provider, now);
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
      if (old.forbids) target.forbids = new Map(old.forbids);
      if (old.state !== 'usable' && old.reason) next.applyExternal(target.lease.id, old.state, old.until, old.reason, old.since);
      for (const [provider, ex] of old.forbidden ?? []) next.forbid(target, provider, { ...ex });
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

  /** The key answered (for `provider`); it is healthy again. */
  markOk(lease: KeyLease, provider = ANY): void {
    const slot = this.slotOf(lease);
    if (!slot) return;
    slot.strikes = 0;
    slot.disables = 0;
    slot.forbids?.delete(provider);
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
   * The key was refused access to `provider` (a 403, a missing scope, a model its project lacks):
   * kept out of that provider only — its other providers still use it — until the disable interval
   * ends (doubling while it keeps being refused). If, with this answer, every key that can answer
   * has been refused `provider` the same way (`signature`), it is not the keys but the request:
   * they are all let back, and `everyKey` says so.
   */
  markForbidden(lease: KeyLease, provider: string, signature: string): { forMs: number; everyKey: boolean } {
    const slot = this.slotOf(lease);
    if (!slot) return { forMs: 0, everyKey: false };
    const now = this.clock();
    this.releaseExpired(now);
    const current = slot.forbidden?.get(provider);
    if (current) return { forMs: current.until - now, everyKey: false }; // another request said it first
    slot.forbids ??= new Map();
    const n = (slot.forbids.get(provider) ?? 0) + 1;
    slot.forbids.set(provider, n);
    const forMs = disableFor(n, this.policy);
    this.forbid(slot, provider, { until: now + forMs, signature });
    const answering = this.slots.filter((s) => s.state !== 'disabled');
    if (!answering.every((s) => s.forbidden?.get(provider)?.signature === signature)) return { forMs, everyKey: false };
    for (const s of answering) {
      s.forbids?.delete(provider);
      this.unforbid(s, provider);
    }
    return { forMs: 0, everyKey: true };
  }

  private forbid(slot: Slot, provider: string, ex: Forbidden): void {
    (slot.forbidden ??= new Map()).set(provider, ex);
    // The provider's queue drops the key's entry when it reaches the head; other queues keep theirs.
    this.timers.push({ at: ex.until, slot, scope: provider, ex });
  }

  /** Back for `provider`: a fresh entry in every queue (older ones turn stale), and its pending timer again. */
  private unforbid(slot: Slot, provider: string): void {
    slot.forbidden?.delete(provider);
    slot.gen += 1;
    if (slot.state === 'usable') this.enqueue(slot);
    else this.timers.push({ at: slot.until, slot, gen: slot.gen });
  }

  /**
   * Applies knowledge learnt elsewhere (another container): cooling or disabled until an absolute
   * time (`since`: when it was learnt there). Only ever extends. Returns whether anything changed.
   */
  applyExternal(id: string, state: 'cooling' | 'disabled', until: number, reason: DisableReason | 'rate_limited', since?: number): boolean {
    return this.applyTo(this.byId.get(id), state, until, reason, since);
  }

  /** `applyExternal` for a key known by fingerprint (the fleet's items name keys that way). */
  applyExternalByFingerprint(fingerprint: string, state: 'cooling' | 'disabled', until: number, reason: DisableReason | 'rate_limited', since?: number): boolean {
    return this.applyTo(this.byFingerprint.get(fingerprint), state, until, reason, since);
  }

  private applyTo(slot: Slot | undefined, state: 'cooling' | 'disabled', until: number, reason: DisableReason | 'rate_limited', since?: number): boolean {
    if (!slot) return false;
    const now = this.clock();
    if (until <= now) return false;
    if (slot.state === 'disabled' && slot.until >= until) return false;
    if (slot.state === 'cooling' && state === 'cooling' && slot.until >= until) return false;
    this.setState(slot, state, until, reason, since);
    return true;
  }

  /**
   * A probe that started at `asOf` (epoch ms) proved the key works: a disable learnt before that is
   * lifted now — fully usable, not a one-at-a-time re-probe, its disable history forgotten. A
   * disable learnt later (newer news) stands; a cooling key stays cooling (a probe says nothing
   * about rate limits). The only way a disable ends before its deadline. Returns whether it did.
   */
  reenable(fingerprint: string, asOf: number): boolean {
    const slot = this.byFingerprint.get(fingerprint);
    if (!slot || slot.state !== 'disabled' || slot.since >= asOf) return false;
    this.count(slot.state, -1);
    Object.assign(slot, { state: 'usable', reason: undefined, until: 0, strikes: 0, disables: 0, probe: false, probeOutUntil: 0 });
    slot.gen += 1;
    this.enqueue(slot);
    return true;
  }

  /** Key counts of the vendor, or as `provider` sees them: a key kept out of it counts as disabled. */
  counts(provider = ANY): PoolCounts {
    this.releaseExpired(this.clock());
    const total = this.slots.length;
    let cooling = this.cooling;
    let disabled = this.disabled;
    if (provider !== ANY) {
      for (const s of this.slots) {
        if (!s.forbidden?.has(provider) || s.state === 'disabled') continue;
        disabled += 1;
        if (s.state === 'cooling') cooling -= 1;
      }
    }
    return { total, available: total - cooling - disabled, cooling, disabled };
  }

  /** Public view of every key (ids and fingerprints only). */
  view(): KeyView[] {
    this.releaseExpired(this.clock());
    return this.slots.map((s) => ({
      id: s.lease.id,
      fingerprint: s.lease.fingerprint,
      state: s.state,
      ...(s.state === 'usable' ? {} : { until: s.until, reason: s.reason }),
      ...(s.forbidden?.size ? { forbidden: Object.fromEntries([...s.forbidden].map(([p, ex]) => [p, ex.until])) } : {}),
    }));
  }

  private slotOf(lease: KeyLease): Slot | undefined {
    const slot = this.byId.get(lease.id);
    return slot && slot.lease === lease ? slot : undefined;
  }

  private setState(slot: Slot, state: 'cooling' | 'disabled', until: number, reason: Slot['reason'], since = this.clock()): void {
    this.count(slot.state, -1);
    slot.state = state;
    slot.until = until;
    slot.reason = reason;
    slot.since = since;
    slot.gen += 1;
    slot.probeOutUntil = 0;
    this.count(state, +1);
    this.timers.push({ at: until, slot, gen: slot.gen });
  }

  private releaseExpired(now: number): void {
    for (let t = this.timers.peek(); t && (this.stale(t) || t.at <= now); t = this.timers.peek()) {
      this.timers.pop();
      if (this.stale(t)) continue; // superseded by a later state change
      const slot = t.slot;
      if (t.scope !== undefined) {
        this.unforbid(slot, t.scope);
        continue;
      }
      this.count(slot.state, -1);
      // Back as a probe: one request at a time until it answers. A disabled key that fails again
      // is disabled for longer (its `disables` count is kept until it answers ok).
      slot.state = 'usable';
      slot.reason = undefined;
      // One probe first, even with a known budget per window: how much of it refilled is known
      // only from the probe's answer (x-ratelimit-remaining-requests); then that many go at once.
      slot.budget = undefined;
      slot.probe = true;
      slot.probeOutUntil = 0;
      slot.gen += 1;
      this.enqueue(slot);
    }
  }

  private stale(t: Timer): boolean {
    return t.scope === undefined ? t.gen !== t.slot.gen : t.slot.forbidden?.get(t.scope) !== t.ex;
  }

  private count(state: KeyState, d: number): void {
    if (state === 'cooling') this.cooling += d;
    else if (state === 'disabled') this.disabled += d;
  }

  /** The round-robin of one provider (created on its first pick, holding every key). */
  private queueOf(provider: string): RoundRobin<Slot> {
    let q = this.queues.get(provider);
    if (!q) {
      q = new RoundRobin<Slot>();
      for (const slot of this.slots) q.push(slot, slot.gen);
      this.queues.set(provider, q);
    }
    return q;
  }

  private enqueue(slot: Slot): void {
    for (const q of this.queues.values()) q.push(slot, slot.gen);
  }
}
