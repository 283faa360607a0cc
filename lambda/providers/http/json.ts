/** Reading provider JSON without trusting it. */

/** A provider-given error code is shown to clients only when it looks like an identifier, never free text. */
export function safeCode(v: unknown): string | undefined {
  return typeof v === 'string' && /^[a-z][a-z0-9_.+-]{0,63}$/i.test(v) ? v : undefined;
}

export function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
