import { Logger } from '@aws-lambda-powertools/logger';

/** The slice of Powertools Logger the runtime uses (so tests and tools can pass their own). */
export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/**
 * JSON lines via Powertools Logger, service `nanobot`. Nothing the gateway logs carries a raw key:
 * keys travel as `KeyLease`s, which serialise to their public id.
 */
export function createLogger(): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'nanobot' });
}
