/**
 * A FIFO with lazy removal, for round-robin selection: a pick pops the head and re-appends it.
 * Entries carry the generation of their item when queued; the caller's visit tells a stale or
 * unusable entry from a live one, and drops it. Each state change of an item queues at most one
 * entry per queue, so a pick is O(1) amortised — never a scan.
 */
export class RoundRobin<T> {
  private entries: { item: T; gen: number }[] = [];
  private head = 0;

  push(item: T, gen: number): void {
    this.entries.push({ item, gen });
  }

  /**
   * Looks at each queued entry once at most, in order: `drop` discards it, `skip` re-queues it and
   * goes on, `take` re-queues it and returns its item. Undefined when none was taken.
   */
  next(visit: (item: T, gen: number) => 'drop' | 'skip' | 'take'): T | undefined {
    for (let left = this.entries.length - this.head; left > 0; left--) {
      const e = this.entries[this.head++];
      const v = visit(e.item, e.gen);
      if (v === 'drop') continue;
      this.entries.push(e);
      if (v === 'take') {
        this.compact();
        return e.item;
      }
    }
    this.compact();
    return undefined;
  }

  /** Drops consumed entries once they are the bulk of the array (amortised O(1)). */
  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
