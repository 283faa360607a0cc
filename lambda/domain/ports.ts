import type { Readable } from 'node:stream';
import type { ProviderName, VendorId } from './ids';
import type { Classifier, HeaderMap, RequestSummary, UpstreamAnswer } from './outcome';

/** Epoch milliseconds; injected so cooldowns, windows and deadlines are tested without sleeping. */
export type Clock = () => number;

/** What the runtime needs of a logger: a message and structured fields. Powertools Logger fits it. */
export interface Log {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Where finished requests go (health recording, metrics). Must not throw or block. */
export interface Telemetry {
  requestDone(summary: RequestSummary): void;
  /** A request fell back from this provider to another of its chain (counted once per hop). */
  fellBack?(provider: ProviderName, at: number): void;
}

/**
 * The key an attempt runs with, as provider adapters see it: a public id and fingerprint, and the
 * secret only through `secret()` (the key pool's lease implements it and never serialises it).
 */
export interface KeyCredential {
  readonly vendor: VendorId;
  readonly id: string;
  readonly fingerprint: string;
  secret(): string;
}

/** One HTTP request to a provider, as an adapter builds it. */
export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface RawAnswer extends UpstreamAnswer {
  raw: Buffer;
  headers: HeaderMap;
}

/** An answer whose status and headers have arrived and whose body is still streaming. */
export interface OpenAnswer {
  status: number;
  headers: HeaderMap;
  /** The body as it arrives; destroying it cancels the upstream request. */
  body: Readable;
}

/**
 * How requests reach providers. The HTTP implementation lives with the providers; tests script
 * their own. Both throw `TransportError` when there is no HTTP answer.
 */
export interface Transport {
  /** The whole answer, read within `timeoutMs`; at most the transport's byte cap (else `answer_too_large`). */
  send(req: UpstreamRequest, timeoutMs: number): Promise<RawAnswer>;
  /**
   * A 2xx answer's status and headers within `timeoutMs`, its body left to stream (each gap between
   * chunks bounded by the transport's idle timeout). Any other answer is read whole, as `send` does:
   * an error body is small, and classifying it needs all of it.
   */
  open(req: UpstreamRequest, timeoutMs: number): Promise<OpenAnswer | RawAnswer>;
}

interface OperationBase {
  /** Build the request for this key (async where signing needs it). */
  request(key: KeyCredential): UpstreamRequest | Promise<UpstreamRequest>;
  classify: Classifier;
  /**
   * Whether an attempt whose outcome is unknown (sent, then timed out or reset) may be replayed.
   * Synthesis is; job creation is not (it could be charged twice).
   */
  replaySafe: boolean;
}

/** An operation whose answer is read whole, then decoded (JSON to reshape, job creation). */
export interface BufferedOperation<T> extends OperationBase {
  /** Turn a 2xx answer into the result; throw MalformedAnswer if it does not hold what it should. */
  decode(answer: RawAnswer): T;
}

/**
 * An operation whose 2xx answer is relayed as it arrives (audio, pass-through JSON): classified on
 * status and headers (and, for errors, the error body), then committed to that key from the first
 * byte on.
 */
export interface StreamedOperation<T> extends OperationBase {
  /**
   * Turn a 2xx answer into the result, leaving its body to stream (it may wait for the first chunk,
   * so an empty answer is still retried); throw MalformedAnswer if the answer is not what it should be.
   */
  relay(answer: OpenAnswer): Promise<T>;
}

/** What one adapter does for one provider operation; the rotation loop never sees vendor details. */
export type Operation<T> = BufferedOperation<T> | StreamedOperation<T>;

