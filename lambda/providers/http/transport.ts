import { HeaderMap, RawAnswer, Transport, TransportError, UpstreamRequest } from '../../domain';

/**
 * Sends one request with Node's fetch, reading the whole body under the same abort signal, so a
 * slow body is bounded by the caller's deadline exactly like slow headers are.
 */
export const sendUpstream: Transport = async (req: UpstreamRequest, timeoutMs: number): Promise<RawAnswer> => {
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
};

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

