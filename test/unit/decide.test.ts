import { Action, AttemptResult, decide, LoopState, MIN_ATTEMPT_MS, RotationSettings } from '../../lambda/rotation/decide';
import type { Classifier, Outcome } from '../../lambda/domain';
import { classifyOpenAI } from '../../lambda/providers/openai/classify';
import { classifyElevenLabs } from '../../lambda/providers/elevenlabs/classify';
import { classifyFal } from '../../lambda/providers/fal/classify';
import { classifyKling } from '../../lambda/providers/kling/classify';
import { KeyLease } from '../../lambda/keys/key-lease';

/**
 * The rotation loop's decision function, table-driven: every classification of every vendor (a
 * wire-shaped answer through the vendor's real classifier), every failure kind, and every pick.
 */
const SETTINGS: RotationSettings = { requestDeadlineMs: 10_000, deadlineMarginMs: 0, maxAttempts: 6, maxWaitMs: 1_000, backoffBaseMs: 200, backoffCapMs: 4_000 };
const NOW = 1_000_000;
const state = (over: Partial<LoopState> = {}): LoopState => ({
  now: NOW, deadline: NOW + 10_000, attempts: 1, retries: 0, waitedMs: 0, lastFailure: { kind: 'upstream_failed' }, lastWasRateLimit: false, everyKeyRefused: false, replaySafe: true, ...over,
});
const after = (result: AttemptResult, s: Partial<LoopState> = {}, jitter = 0.5) => decide({ kind: 'attempted', result, jitter }, state(s), SETTINGS);

const oai = (status: number, code: string | null, type = 'invalid_request_error') => ({ status, body: { error: { message: 'm', type, param: null, code } } });
const xi = (status: number, s: string) => ({ status, body: { detail: { status: s, message: 'm' } } });
const kl = (status: number, code: number) => ({ status, body: { code, message: 'm', request_id: 'r' } });

/** One wire-shaped answer per classification, per vendor (the README's classification table). */
const ANSWERS: Record<string, [Classifier, Record<Outcome, { status: number; body: unknown; headers?: Record<string, string> }>]> = {
  openai: [classifyOpenAI, {
    ok: { status: 200, body: '' },
    rate_limited: { ...oai(429, 'rate_limit_exceeded', 'requests'), headers: { 'retry-after': '20' } },
    quota_exhausted: oai(429, 'insufficient_quota', 'insufficient_quota'),
    invalid_key: oai(401, 'invalid_api_key'),
    key_forbidden: { status: 401, body: { error: { message: 'You have insufficient permissions for this operation. Missing scopes: api.model.audio.request.', type: 'invalid_request_error', param: null, code: null } } },
    overloaded: oai(503, null, 'server_error'),
    bad_request: oai(400, 'string_above_max_length'),
  }],
  elevenlabs: [classifyElevenLabs, {
    ok: { status: 200, body: '' },
    rate_limited: xi(429, 'too_many_concurrent_requests'),
    quota_exhausted: xi(401, 'quota_exceeded'),
    invalid_key: xi(401, 'invalid_api_key'),
    key_forbidden: xi(401, 'missing_permissions'),
    overloaded: xi(429, 'system_busy'),
    bad_request: xi(400, 'voice_not_found'),
  }],
  fal: [classifyFal, {
    ok: { status: 200, body: { images: [] } },
    rate_limited: { status: 429, body: { detail: 'concurrency' } },
    quota_exhausted: { status: 403, body: { detail: 'User is locked. Reason: Exhausted balance.' } },
    invalid_key: { status: 401, body: { detail: 'Unauthorized' } },
    key_forbidden: { status: 403, body: { detail: 'Access denied: this key is not allowed to use the application fal-ai/flux/dev.' } },
    overloaded: { status: 500, body: { detail: 'runner error' } },
    bad_request: { status: 422, body: { detail: [{ loc: ['body', 'prompt'], msg: 'required' }] } },
  }],
  kling: [classifyKling, {
    ok: { status: 200, body: { code: 0, data: {} } },
    rate_limited: kl(429, 1302),
    quota_exhausted: kl(429, 1102),
    invalid_key: kl(401, 1000),
    key_forbidden: kl(403, 1103),
    overloaded: kl(500, 5000),
    bad_request: kl(400, 1201),
  }],
};

const EXPECTED: Record<Outcome, (a: Action) => void> = {
  ok: (a) => expect(a).toEqual({ kind: 'answer' }),
  rate_limited: (a) => expect(a).toMatchObject({ kind: 'switch_key', mark: 'rate_limited', failure: { kind: 'upstream_failed' } }),
  quota_exhausted: (a) => expect(a).toMatchObject({ kind: 'switch_key', mark: 'quota_exhausted' }),
  invalid_key: (a) => expect(a).toMatchObject({ kind: 'switch_key', mark: 'invalid_key' }),
  // Out of this provider only; should the keys run out on refusals, the refusal is the answer.
  key_forbidden: (a) => expect(a).toMatchObject({ kind: 'switch_key', mark: 'key_forbidden', failure: { kind: 'upstream_rejected', status: expect.any(Number) } }),
  // random 0.5 of min(4000, 200·2^0): 100 ms, unless the provider asked for longer.
  overloaded: (a) => expect(a).toMatchObject({ kind: 'back_off', failure: { kind: 'upstream_failed' } }),
  bad_request: (a) => expect(a).toMatchObject({ kind: 'fail', failure: { kind: 'upstream_rejected' } }),
};

const cases = Object.entries(ANSWERS).flatMap(([vendor, [classify, answers]]) =>
  (Object.keys(answers) as Outcome[]).map((outcome) => [vendor, outcome, classify, answers[outcome]] as const));

describe('every classification of every vendor → its action', () => {
  test.each(cases)('%s %s', (_vendor, outcome, classify, answer) => {
    const c = classify({ status: answer.status, headers: answer.headers ?? {}, body: answer.body }, NOW);
    expect(c.outcome).toBe(outcome);
    const action = after({ kind: 'answer', outcome: c.outcome, status: answer.status, code: c.code, retryAfterMs: c.retryAfterMs });
    EXPECTED[outcome](action);
    if (action.kind === 'switch_key' && outcome === 'rate_limited') expect(action.retryAfterMs).toBe(c.retryAfterMs);
  });
});

describe('failures, backoff and deadlines', () => {
  const overloaded: AttemptResult = { kind: 'answer', outcome: 'overloaded', status: 503 };
  test.each<[string, AttemptResult, Partial<LoopState>, Action | Partial<Action>]>([
    ['overloaded → full-jitter backoff (half of 200·2^0)', overloaded, {}, { kind: 'back_off', ms: 100 }],
    ['overloaded, third retry → half of 200·2^2', overloaded, { retries: 2 }, { kind: 'back_off', ms: 400 }],
    ['overloaded with a longer hint → the hint', { ...overloaded, retryAfterMs: 3_000 }, {}, { kind: 'back_off', ms: 3_000 }],
    ['backoff past the deadline → upstream_failed at once', overloaded, { deadline: NOW + 250 }, { kind: 'fail', failure: { kind: 'upstream_failed' } }],
    ['reset after sending, replay-safe → backoff', { kind: 'transport_error', sent: true, timedOut: false, code: 'ECONNRESET' }, {}, { kind: 'back_off', failure: { kind: 'upstream_failed', code: 'ECONNRESET' } }],
    ['reset after sending, not replay-safe → outcome_unknown', { kind: 'transport_error', sent: true, timedOut: false, code: 'ECONNRESET' }, { replaySafe: false }, { kind: 'fail', failure: { kind: 'outcome_unknown' } }],
    ['refused (never sent), not replay-safe → backoff, try again', { kind: 'transport_error', sent: false, timedOut: false, code: 'ECONNREFUSED' }, { replaySafe: false }, { kind: 'back_off' }],
    ['timed out at the deadline → deadline_exceeded', { kind: 'transport_error', sent: true, timedOut: true, code: 'timeout' }, { deadline: NOW + MIN_ATTEMPT_MS - 1 }, { kind: 'fail', failure: { kind: 'deadline_exceeded' } }],
    ['malformed success, replay-safe → backoff', { kind: 'malformed_answer', status: 200 }, {}, { kind: 'back_off', failure: { kind: 'upstream_failed', code: 'malformed_answer' } }],
    ['malformed success, not replay-safe → outcome_unknown', { kind: 'malformed_answer', status: 200 }, { replaySafe: false }, { kind: 'fail', failure: { kind: 'outcome_unknown' } }],
  ])('%s', (_name, result, s, expected) => {
    expect(after(result, s)).toMatchObject(expected);
  });
});

describe('before an attempt: budget, deadline and the pool', () => {
  const key = { kind: 'key' as const, lease: new KeyLease('openai', 'openai#1', 'ffffffff', 'sk-x') };
  test.each<[string, Parameters<typeof decide>[0], Partial<LoopState>, Action]>([
    ['attempts left, time left → pick', { kind: 'next' }, {}, { kind: 'pick' }],
    ['out of attempts after provider errors → the last failure', { kind: 'next' }, { attempts: 6, lastFailure: { kind: 'upstream_failed', code: 'server_error' } }, { kind: 'fail', failure: { kind: 'upstream_failed', code: 'server_error' } }],
    ['out of attempts on rate limits → 429 with the pool\'s Retry-After', { kind: 'next' }, { attempts: 6, lastWasRateLimit: true }, { kind: 'fail_all_cooling' }],
    ['every key refused the same way → the refusal, not another attempt', { kind: 'next' }, { everyKeyRefused: true, lastFailure: { kind: 'upstream_rejected', status: 403, code: 'model_not_found' } }, { kind: 'fail', failure: { kind: 'upstream_rejected', status: 403, code: 'model_not_found' } }],
    ['out of attempts on refusals → the last refusal', { kind: 'next' }, { attempts: 6, lastFailure: { kind: 'upstream_rejected', status: 401, code: 'missing_scope' } }, { kind: 'fail', failure: { kind: 'upstream_rejected', status: 401, code: 'missing_scope' } }],
    ['refused by some keys, the others disabled or kept out → no_usable_key', { kind: 'picked', pick: { kind: 'none' } }, { lastFailure: { kind: 'upstream_rejected', status: 401, code: 'missing_scope' } }, { kind: 'fail', failure: { kind: 'no_usable_key' } }],
    ['no time for an attempt, none made → deadline_exceeded', { kind: 'next' }, { attempts: 0, deadline: NOW + 100 }, { kind: 'fail', failure: { kind: 'deadline_exceeded' } }],
    ['no time left after attempts → the last failure', { kind: 'next' }, { deadline: NOW + 100 }, { kind: 'fail', failure: { kind: 'upstream_failed' } }],
    ['a key → attempt', { kind: 'picked', pick: key }, {}, { kind: 'attempt' }],
    ['no usable key → no_usable_key', { kind: 'picked', pick: { kind: 'none' } }, {}, { kind: 'fail', failure: { kind: 'no_usable_key' } }],
    ['all cooling, back within the wait bound → wait', { kind: 'picked', pick: { kind: 'wait', waitMs: 400 } }, {}, { kind: 'wait', ms: 400 }],
    ['all cooling, the wait bound already spent → all_keys_cooling', { kind: 'picked', pick: { kind: 'wait', waitMs: 400 } }, { waitedMs: 700 }, { kind: 'fail', failure: { kind: 'all_keys_cooling', retryAfterMs: 400 } }],
    ['all cooling beyond the wait bound → all_keys_cooling at once', { kind: 'picked', pick: { kind: 'wait', waitMs: 12_000 } }, {}, { kind: 'fail', failure: { kind: 'all_keys_cooling', retryAfterMs: 12_000 } }],
    ['all cooling, back after the deadline → all_keys_cooling', { kind: 'picked', pick: { kind: 'wait', waitMs: 900 } }, { deadline: NOW + 1_000 }, { kind: 'fail', failure: { kind: 'all_keys_cooling', retryAfterMs: 900 } }],
  ])('%s', (_name, input, s, expected) => {
    expect(decide(input, state(s), SETTINGS)).toEqual(expected);
  });
});
