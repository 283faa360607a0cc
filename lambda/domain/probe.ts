import type { Classifier, UpstreamAnswer } from './outcome';
import type { KeyCredential, UpstreamRequest } from './ports';

/**
 * What a vendor's free, read-only account call says about the account behind a key. Figures are
 * present only where the vendor shows them (OpenAI shows none; fal a balance; ElevenLabs and Kling
 * a used/limit pair).
 */
export interface AccountFigures {
  /** The account cannot spend any more (quota used up, no balance, every resource pack run out): disable the key. */
  exhausted: boolean;
  /**
   * The answer shows quota left (characters under the limit, a positive balance, units in a live
   * pack): only then may a probe lift a quota disable. Undefined when the answer shows no quota
   * (OpenAI's model list, a Kling account without packs).
   */
  quotaLeft?: boolean;
  quotaUsed?: number;
  quotaLimit?: number;
  /** Epoch ms: when the quota resets (ElevenLabs) or the first live resource pack expires (Kling). */
  quotaResetAt?: number;
  balance?: number;
  currency?: string;
}

/**
 * A vendor's key probe: one free, read-only call per key (OpenAI `GET /v1/models`, ElevenLabs
 * `GET /v1/user/subscription`, fal `GET /account/billing`, Kling `GET /account/costs`), read by
 * the vendor's own classifier — the one user traffic goes through — plus what only a probe needs.
 */
export interface KeyProbe {
  /** What is probed, for logs and the README (`GET /v1/models`). */
  readonly route: string;
  /**
   * The least time between the starts of two probe calls of this vendor, whatever the key: the
   * vendor's own limit on the route (Kling: 1 request per second per account; which keys share an
   * account is not known, so the spacing holds across all of them). 0 = no limit of its own.
   */
  readonly spacingMs: number;
  /** The probe call for this key (async where signing needs it). */
  request(key: KeyCredential, now: number): UpstreamRequest | Promise<UpstreamRequest>;
  /** The vendor's classifier. */
  classify: Classifier;
  /**
   * A refusal that only says this key may not read the probe route (a fal key without billing
   * scope: 403; a restricted OpenAI or ElevenLabs key without the read permission: 401 naming the
   * missing scope). The key itself authenticated: it is not an invalid key.
   */
  notVisible(answer: UpstreamAnswer): boolean;
  /** A 2xx answer's figures; throws `MalformedAnswer` when it does not hold what it should. */
  read(body: unknown): AccountFigures;
}
