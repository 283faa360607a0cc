/**
 * At most one run per key at a time in this process: a caller that finds a run in flight awaits
 * its result instead of starting another (job polls, record reads, the unsaved-records flush).
 */
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = Promise.resolve()
      .then(fn)
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Whether a run for this key is in flight (a caller now would share it). */
  has(key: string): boolean {
    return this.inflight.has(key);
  }
}
