/**
 * Redaction: what stands in for credentials in every string that leaves the process (log lines,
 * error answers, job records). The port is implemented where the keys are known (`keys/redactor.ts`)
 * and applied at the edges; the shapes below need no key and are shared by every implementation.
 */

/** Removes credentials from a string about to leave the process. Must be fast: it sees every log line. */
export interface Redactor {
  redact(text: string): string;
}

/** What a removed credential reads as. */
export const REDACTED = '[redacted]';

/**
 * Credentials recognisable by shape alone, whether or not they are ours: OpenAI `sk-…` (project,
 * service-account, admin and legacy keys, also masked as `sk-abc****wxyz` or `sk-…abcd`),
 * ElevenLabs `sk_…`, JWTs (`eyJ…`, Kling's bearer tokens), `Bearer`/`Key` header values, and
 * `ID:SECRET` pairs (fal `uuid:hex`, Kling `ACCESS:SECRET`).
 */
const KEY_SHAPES = new RegExp(
  [
    String.raw`\bsk[-_][A-Za-z0-9_\-*…]{3,}`,
    String.raw`\beyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}`,
    String.raw`\b(?:Bearer|Key)\s+[A-Za-z0-9_\-.:=+/*…]{8,}`,
    String.raw`\b[A-Za-z0-9_-]{16,}:[A-Za-z0-9_-]{16,}`,
  ].join('|'),
  'g',
);

/** A text none of the shapes can match (the common case: one pass of `indexOf`s, no regex). */
const cannotHold = (t: string) => !t.includes('sk') && !t.includes('eyJ') && !t.includes('Bearer') && !t.includes('Key') && !t.includes(':');

/** `text` with every credential-shaped run replaced by `[redacted]`. */
export function redactKeyShapes(text: string): string {
  return cannotHold(text) ? text : text.replace(KEY_SHAPES, REDACTED);
}

/**
 * Provider free text shown to a client (a failed generation's reason): key shapes, and any long
 * run of key-like characters besides (a key or token of a shape not listed above).
 */
export function redactProviderText(text: string): string {
  return redactKeyShapes(text).replace(/[A-Za-z0-9_\-.:=+/]{20,}/g, REDACTED);
}

/**
 * A log line's fields with every string redacted: the structure is kept (below 8 levels; deeper
 * objects are dropped), numbers, booleans and objects that serialise themselves (`toJSON`: key
 * leases, dates) are left as they are.
 */
export function redactFields(r: Redactor, value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return r.redact(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[truncated]';
  if (Array.isArray(value)) return value.map((v) => redactFields(r, v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: r.redact(value.message) };
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactFields(r, v, depth + 1);
  return out;
}
