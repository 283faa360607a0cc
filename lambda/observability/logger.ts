import { Logger } from '@aws-lambda-powertools/logger';
import type { LogAttributes } from '@aws-lambda-powertools/logger/types';

/** What the runtime needs of a logger: a message and structured fields. Powertools Logger fits it. */
export interface Log {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * JSON lines via Powertools Logger, service `nanobot`. Nothing the gateway logs carries a raw key:
 * keys travel as `KeyLease`s, which serialise to their public id.
 */
export function createLogger(): Log {
  const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'nanobot' });
  const emit = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) =>
    fields ? logger[level](message, fields as LogAttributes) : logger[level](message);
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** A logger that keeps lines in memory (tests, tools). */
export class MemoryLog implements Log {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  debug(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'DEBUG', message, fields });
  }
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'INFO', message, fields });
  }
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'WARN', message, fields });
  }
  error(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'ERROR', message, fields });
  }
}

/**
 * Lets a repeating failure through to the log at most once per interval, counting the ones held
 * back — so an outage is one line a minute, not one per request.
 */
export class LogThrottle {
  private lastAt = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly clock: () => number,
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
