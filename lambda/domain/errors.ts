/**
 * Errors every layer may raise or read. None carries provider text: messages are ours.
 */

/** An error whose message we wrote (never input, never provider text): safe to log as it is. */
export class OwnError extends Error {}

/** A successful answer that did not decode (malformed JSON, truncated audio): the provider's fault. */
export class MalformedAnswer extends OwnError {
  constructor(what: string) {
    super(`malformed provider answer: ${what}`);
    this.name = 'MalformedAnswer';
  }
}

/**
 * No HTTP answer at all. `sent` says whether the request may have reached the provider: a refused
 * connection was not sent (safe to replay anywhere); a reset or time-out after sending is unknown.
 */
export class TransportError extends OwnError {
  constructor(
    readonly sent: boolean,
    readonly timedOut: boolean,
    readonly causeCode: string,
  ) {
    super(`upstream transport error (${causeCode})`);
    this.name = 'TransportError';
  }
}

/**
 * The client's request cannot be served as asked (validation): answered 400 by the HTTP layer,
 * before any provider call. `param` names the offending field; `code` is an OpenAI-style code.
 */
export class InvalidRequest extends OwnError {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly code = 'invalid_value',
  ) {
    super(message);
    this.name = 'InvalidRequest';
  }
}

/**
 * An unknown thrown value as log fields, decided once: our own errors carry our own message; any
 * other error (a driver's, an SDK's — whose message may quote input) is named, never quoted.
 */
export function errorFields(err: unknown): { error: string } {
  if (err instanceof OwnError) return { error: err.message };
  if (err instanceof Error) return { error: err.name };
  // Error-like values from elsewhere (another realm, a stream library): their code or name, never their text.
  if (err && typeof err === 'object') {
    const { code, name } = err as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(code)) return { error: code };
    if (typeof name === 'string' && /^[A-Za-z]{1,64}$/.test(name)) return { error: name };
  }
  return { error: typeof err };
}
