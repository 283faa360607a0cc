/** One queued key: the item and its generation when queued (older than the item's now = stale). */
export interface Entry<T> {
  item: T;
  gen: number;
}

/**
 * A FIFO with lazy removal, for round-robin selection: a pick takes the head and re-appends it.
 * Entries carry the generation of their item when queued; the caller tells a stale or unusable
 * entry from a live one and drops it. Each state change of an item queues at most one entry per
 * queue, so a pick is O(1) amortised — never a scan.
 */
export class RoundRobin<T> {
  private entries: Entry<T>[] = [];
  private head = 0;

  /** Entries queued now: a pick looks at each once at most. */
  get length(): number {
    return this.entries.length - this.head;
  }

  push(item: T, gen: number): void {
    this.entries.push({ item, gen });
  }

  /** The head entry, taken off the queue (requeue it to keep it). */
  shift(): Entry<T> {
    return this.entries[this.head++];
  }

  requeue(e: Entry<T>): void {
    this.entries.push(e);
  }

  /** After a pick: drops consumed entries once they are the bulk of the array (amortised O(1)). */
  compact(): void {
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
