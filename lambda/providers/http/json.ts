/** Reading provider JSON without trusting it. */

/** What a client and the logs see for an error code the vendor's classifier does not know. */
export const UNKNOWN_CODE = 'upstream_error';

/**
 * A provider's error code as clients and logs see it: the first candidate the vendor declares it
 * knows (its classifier's list, from docs/providers.md), else `upstream_error` when the provider
 * sent something, else undefined. Never the provider's own string otherwise: any field of an
 * answer may carry a key (an identifier-like code included — keys look like identifiers).
 */
export function knownCode(known: ReadonlySet<string>, ...candidates: unknown[]): string | undefined {
  let sent = false;
  for (const c of candidates) {
    if (typeof c === 'string' && known.has(c)) return c;
    if (c !== undefined && c !== null && c !== '') sent = true;
  }
  return sent ? UNKNOWN_CODE : undefined;
}

export function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
