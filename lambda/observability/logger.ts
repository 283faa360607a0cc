import { Logger } from '@aws-lambda-powertools/logger';
import type { LogAttributes } from '@aws-lambda-powertools/logger/types';
import { SERVICE_NAME } from '../contracts';
import type { Log } from '../domain';


/**
 * JSON lines via Powertools Logger, service `nanobot`. Nothing the gateway logs carries a raw key:
 * keys travel as `KeyLease`s, which serialise to their public id.
 */
export function createLogger(): Log {
  const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
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
