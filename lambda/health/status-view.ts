import type { Clock, Log } from '../domain';
import { errorFields } from '../domain';
import type { HealthStatus } from './status';

/**
 * The STATUS items of the providers a fallback chain may skip, read in the background (never
 * awaited on the request path): a request sees what the last read found, at most `refreshMs` old.
 */
export class StatusView {
  private statuses = new Map<string, HealthStatus>();
  private readAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly store: { getStatus(provider: string): Promise<Record<string, unknown> | undefined> },
    private readonly providers: readonly string[],
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly refreshMs: number,
  ) {}

  /** The provider's last known STATUS (undefined: unknown); starts a read when the last one is due. */
  status(provider: string): HealthStatus | undefined {
    if (this.clock() - this.readAt >= this.refreshMs) void this.refresh();
    return this.statuses.get(provider);
  }

  /** Reads every STATUS item now (single flight). */
  refresh(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.readAt = this.clock();
    this.inFlight = Promise.all(this.providers.map(async (p) => [p, (await this.store.getStatus(p))?.status] as const))
      .then((rows) => {
        const next = new Map<string, HealthStatus>();
        for (const [p, s] of rows) if (s === 'healthy' || s === 'degraded' || s === 'down') next.set(p, s);
        this.statuses = next;
      })
      .catch((err: unknown) => this.log.warn('provider status unreadable', errorFields(err)))
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}
