import type { Readable } from 'node:stream';
// The two parts of undici used here, not its index (see undici-parts.d.ts): a lean bundle.
import Agent from 'undici/lib/dispatcher/agent.js';
import request from 'undici/lib/api/api-request.js';
import { discard, HeaderMap, OpenAnswer, RawAnswer, Transport, TransportError, UpstreamRequest } from '../../domain';

export interface HttpTransportOptions {
  /** Largest answer read whole (a buffered operation, an error body); past it, `answer_too_large`. */
  maxAnswerBytes: number;
  /** A streamed body that sends nothing for this long is aborted. */
  idleTimeoutMs: number;
}

export const DEFAULT_TRANSPORT_OPTIONS: HttpTransportOptions = { maxAnswerBytes: 64 * 1024 * 1024, idleTimeoutMs: 30_000 };

/**
 * HTTP to providers on undici's `request` API: one keep-alive connection pool per provider origin
 * (undici's Agent keys its pools by origin), bodies as streams. Headers are bounded by the caller's
 * budget; a buffered body by the same budget and the byte cap; a streamed body by the idle timeout.
 */
export function httpTransport(options: Partial<HttpTransportOptions> = {}): Transport {
  const o = { ...DEFAULT_TRANSPORT_OPTIONS, ...options };
  const agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, headersTimeout: 0, bodyTimeout: o.idleTimeoutMs });

  const open = async (req: UpstreamRequest, timeoutMs: number): Promise<OpenAnswer & { done: () => void; signal: AbortSignal }> => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), Math.max(1, Math.floor(timeoutMs)));
    const done = () => clearTimeout(timer);
    try {
      const url = new URL(req.url);
      const res = await request.call(agent, { origin: url.origin, path: `${url.pathname}${url.search}`, method: req.method, headers: req.headers, body: req.body, signal: ac.signal });
      return { status: res.statusCode, headers: flatten(res.headers), body: res.body as unknown as Readable, done, signal: ac.signal };
    } catch (err) {
      done();
      throw transportError(err, ac.signal, false);
    }
  };

  const readWhole = async (a: OpenAnswer & { done: () => void; signal: AbortSignal }): Promise<RawAnswer> => {
    try {
      const raw = await readAll(a.body, o.maxAnswerBytes);
      return { status: a.status, headers: a.headers, body: parseBody(a.headers['content-type'], raw), raw };
    } catch (err) {
      if (err instanceof TransportError) throw err;
      throw transportError(err, a.signal, true);
    } finally {
      a.done();
    }
  };

  return {
    async open(req, timeoutMs) {
      const a = await open(req, timeoutMs);
      // An error answer is read whole, within the same budget: classifying it needs its body.
      if (a.status < 200 || a.status >= 300) return readWhole(a);
      a.done();
      return { status: a.status, headers: a.headers, body: a.body };
    },
    send: async (req, timeoutMs) => readWhole(await open(req, timeoutMs)),
  };
}

/** A body read whole, at most `max` bytes (then destroyed: the upstream request is cancelled). */
export async function readAll(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > max) {
      discard(body);
      throw new TransportError(true, false, 'answer_too_large');
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

function flatten(h: Record<string, string | string[] | undefined>): HeaderMap {
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** The body as JSON when it is JSON, else its text when textual, else empty. */
export function parseBody(contentType: string | undefined, raw: Buffer): unknown {
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
  return 'transport_failed';
}
