import type { APIGatewayProxyResult } from 'aws-lambda';
import { Failure, redactKeyShapes } from '../domain';

export type ErrorType = 'invalid_request_error' | 'not_found_error' | 'rate_limit_error' | 'service_unavailable' | 'api_error' | 'timeout_error';

/** An error answer, OpenAI-shaped on the wire: `{"error":{"message","type","code","param"}}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function invalid(message: string, param: string | null = null, code = 'invalid_value'): HttpError {
  return new HttpError(400, 'invalid_request_error', code, message, param);
}

/**
 * How a failed rotation reads to the client. Messages are ours: upstream error text is never
 * passed through (it can echo key fragments); at most a provider's identifier-like code is.
 */
export function failureToHttp(f: Failure, provider: string): HttpError {
  switch (f.kind) {
    case 'all_keys_cooling': {
      const seconds = Math.max(1, Math.ceil(f.retryAfterMs / 1000));
      return new HttpError(429, 'rate_limit_error', 'all_keys_rate_limited',
        `Every ${provider} key is rate limited; retry after ${seconds} s.`, null, { 'retry-after': String(seconds) });
    }
    case 'no_usable_key':
      return new HttpError(503, 'service_unavailable', 'no_usable_key', `No usable ${provider} key is configured or enabled.`);
    case 'upstream_rejected':
      return new HttpError(400, 'invalid_request_error', f.code ?? 'upstream_rejected',
        `The provider rejected the request${f.code ? ` (${f.code})` : ''} (upstream status ${f.status}).`);
    case 'upstream_failed':
      return new HttpError(502, 'api_error', 'upstream_error', `The provider failed after retries${f.code ? ` (${f.code})` : ''}.`);
    case 'outcome_unknown':
      return new HttpError(502, 'api_error', 'outcome_unknown', 'The provider did not answer; the request was not replayed because it could be charged twice.');
    case 'deadline_exceeded':
      return new HttpError(504, 'timeout_error', 'deadline_exceeded', 'The request did not complete within its deadline.');
  }
}

/**
 * An error answer as it leaves: anything shaped like a key or token in its `message`, `code` or
 * `param` is replaced. Only shapes, never fragments of our own keys: messages quote the client's
 * input (an unknown id, a bad size), and an answer that changed when the input happened to be a
 * fragment of one of our keys would let a client guess them character by character. Provider codes
 * were stripped of our keys' fragments before they got here (the gateway redacts failures).
 */
export function redactErrorAnswer<R extends APIGatewayProxyResult | { statusCode: number; stream: unknown }>(res: R): R {
  if ('stream' in res) return res;
  if (res.statusCode < 400 || res.isBase64Encoded || typeof res.body !== 'string' || !res.body.startsWith('{')) return res;
  let doc: { error?: Record<string, unknown> };
  try {
    doc = JSON.parse(res.body) as typeof doc;
  } catch {
    return { ...res, body: redactKeyShapes(res.body) };
  }
  const e = doc.error;
  if (!e || typeof e !== 'object') return res;
  for (const field of ['message', 'code', 'param'] as const) if (typeof e[field] === 'string') e[field] = redactKeyShapes(e[field]);
  return { ...res, body: JSON.stringify(doc) };
}
