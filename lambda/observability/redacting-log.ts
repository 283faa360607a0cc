import { Log, Redactor, redactFields } from '../domain';

/**
 * The runtime's log: every line's message and fields pass through the redactor before the sink
 * (Powertools) sees them, so no key fragment can reach CloudWatch whoever wrote the line — a
 * provider's code, an error's message, a field added tomorrow.
 */
export function redactingLog(log: Log, r: Redactor): Log {
  const line = (level: keyof Log) => (message: string, fields?: Record<string, unknown>) =>
    fields === undefined ? log[level](r.redact(message)) : log[level](r.redact(message), redactFields(r, fields) as Record<string, unknown>);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}
