/** One key's room for more requests now, as the pool sees it. */
export interface KeyRoom {
  /** Back from a cooldown, not answered yet: one request at a time (probe first). */
  probe: boolean;
  /** A probe is out on it (epoch ms until which; 0 when none). */
  probeOutUntil: number;
  /** Requests left in its known budget (undefined: unknown). */
  budget?: number;
  /** Known concurrency limit and requests in flight on it. */
  maxInFlight?: number;
  inFlight: number;
}

/** Requests a key can take now: a probe one at a time; else what its budget and concurrency leave; unknown → unbounded. */
export function roomOf(k: KeyRoom): number {
  if (k.probe) return k.probeOutUntil > 0 ? 0 : 1;
  let room = Number.POSITIVE_INFINITY;
  if (k.budget !== undefined) room = Math.min(room, Math.max(0, k.budget));
  if (k.maxInFlight !== undefined) room = Math.min(room, Math.max(0, k.maxInFlight - k.inFlight));
  return room;
}
