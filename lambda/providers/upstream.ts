import type { Classification, HeaderMap, UpstreamAnswer } from '../core/types';
import type { KeyLease } from '../keys/key-pool';

/** One HTTP request to a provider, as an adapter builds it. */
export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** A successful answer that did not decode (malformed JSON, truncated audio): the provider's fault. */
export class MalformedAnswer extends Error {
  constructor(what: string) {
    super(`malformed provider answer: ${what}`);
  }
}

/**
 * No HTTP answer at all. `sent` says whether the request may have reached the provider: a refused
 * connection was not sent (safe to replay anywhere); a reset or time-out after sending is unknown.
 */
export class TransportError extends Error {
  constructor(
    readonly sent: boolean,
    readonly timedOut: boolean,
    readonly causeCode: string,
  ) {
    super(`upstream transport error (${causeCode})`);
  }
}

export interface RawAnswer extends UpstreamAnswer {
  raw: Buffer;
}

/**
 * Sends one request with Node's fetch, reading the whole body under the same abort signal, so a
 * slow body is bounded by the caller's deadline exactly like slow headers are.
 */
export async function sendUpstream(req: UpstreamRequest, timeoutMs: number): Promise<RawAnswer> {
  const signal = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
  let res: Response;
  try {
    res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal, redirect: 'manual' });
  } catch (err) {
    throw transportError(err, signal, false);
  }
  let raw: Buffer;
  try {
    raw = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    throw transportError(err, signal, true);
  }
  const headers: HeaderMap = {};
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { status: res.status, headers, body: parseBody(headers['content-type'], raw), raw };
}

function parseBody(contentType: string | undefined, raw: Buffer): unknown {
  const text = isTextual(contentType) ? raw.toString('utf8') : undefined;
  if (text === undefined) return '';
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function isTextual(ct: string | undefined): boolean {
  if (!ct) return true;
  return /json|text|xml|html|problem/i.test(ct);
}

const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function transportError(err: unknown, signal: AbortSignal, afterHeaders: boolean): TransportError {
  const timedOut = signal.aborted;
  const code = causeCode(err);
  const sent = afterHeaders || timedOut || !NOT_SENT.has(code);
  return new TransportError(sent, timedOut, timedOut ? 'timeout' : code);
}

function causeCode(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return 'fetch_failed';
}

/** A provider-given error code is shown to clients only when it looks like an identifier, never free text. */
export function safeCode(v: unknown): string | undefined {
  return typeof v === 'string' && /^[a-z][a-z0-9_.+-]{0,63}$/i.test(v) ? v : undefined;
}

export function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** What one adapter does for one provider operation; the rotation loop never sees vendor details. */
export interface Operation<T> {
  /** Build the request for this key. */
  request(key: KeyLease): UpstreamRequest;
  /** The vendor's pure classifier; `now` (epoch ms) resolves HTTP-date hints. */
  classify(answer: UpstreamAnswer, now: number): Classification;
  /** Turn a 2xx answer into the result; throw MalformedAnswer if it does not hold what it should. */
  decode(answer: RawAnswer): T;
  /**
   * Whether an attempt whose outcome is unknown (sent, then timed out or reset) may be replayed.
   * Synthesis is; job creation is not (it could be charged twice).
   */
  replaySafe: boolean;
}
