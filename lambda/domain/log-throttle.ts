import { errorFields } from './errors';
import type { Clock, Log } from './ports';

/**
 * Lets a repeating failure through to the log at most once per interval, counting the ones held
 * back — so an outage is one line a minute, not one per request.
 */
export class LogThrottle {
  private lastAt = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: Clock,
  ) {}

  /** The number held back since the last line (to log with this one), or undefined to stay quiet. */
  pass(): number | undefined {
    const now = this.clock();
    if (now - this.lastAt < this.intervalMs) {
      this.held += 1;
      return undefined;
    }
    const held = this.held;
    this.lastAt = now;
    this.held = 0;
    return held;
  }
}

/**
 * A store (DynamoDB) failure that may repeat on every request: one line per interval, carrying the
 * error's name and how many lines were held back since the last one — the one way every
 * store-failure line is written.
 */
export class StoreFailureLog {
  private readonly throttle: LogThrottle;
  constructor(
    private readonly log: Log,
    intervalMs: number,
    clock: Clock,
  ) {
    this.throttle = new LogThrottle(intervalMs, clock);
  }

  report(level: 'warn' | 'error', message: string, err: unknown, fields: Record<string, unknown> = {}): void {
    const held = this.throttle.pass();
    if (held === undefined) return;
    this.log[level](message, { ...errorFields(err), ...fields, suppressedSinceLast: held });
  }
}
