import type { VendorId } from './ids';
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

/**
 * Sends one request and reads its answer within `timeoutMs`; throws `TransportError` when there is
 * no HTTP answer. The HTTP implementation lives with the providers; tests script their own.
 */
export type Transport = (req: UpstreamRequest, timeoutMs: number) => Promise<RawAnswer>;

/** What one adapter does for one provider operation; the rotation loop never sees vendor details. */
export interface Operation<T> {
  /** Build the request for this key (async where signing needs it). */
  request(key: KeyCredential): UpstreamRequest | Promise<UpstreamRequest>;
  classify: Classifier;
  /** Turn a 2xx answer into the result; throw MalformedAnswer if it does not hold what it should. */
  decode(answer: RawAnswer): T;
  /**
   * Whether an attempt whose outcome is unknown (sent, then timed out or reset) may be replayed.
   * Synthesis is; job creation is not (it could be charged twice).
   */
  replaySafe: boolean;
}

