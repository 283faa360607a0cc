import type { Classification, Classifier, UpstreamAnswer } from '../../lambda/domain';
import { knownCode } from '../../lambda/providers/http/json';
import { classifyOpenAI } from '../../lambda/providers/openai/classify';
import { classifyElevenLabs } from '../../lambda/providers/elevenlabs/classify';
import { classifyFal } from '../../lambda/providers/fal/classify';
import { classifyKling } from '../../lambda/providers/kling/classify';

const NOW = Date.parse('2026-11-26T05:30:00Z');
type Row = [string, number, Record<string, string>, unknown, Partial<Classification>];
const run = (classify: (a: UpstreamAnswer, now: number) => Classification, rows: Row[]) =>
  test.each(rows)('%s', (_name, status, headers, body, expected) => {
    // Exact: no field beyond those expected (an unexpected budgetSpentForMs would rest a key).
    const got = classify({ status, headers, body }, NOW);
    expect(got).toMatchObject(expected);
    if (expected.outcome === 'ok') expect(got).toEqual(expected);
  });

const oaiErr = (code: string | null, type: string, message = 'x') => ({ error: { message, type, param: null, code } });

describe('OpenAI (docs/providers.md §1, §5)', () => {
  run(classifyOpenAI, [
    ['200 audio', 200, {}, '', { outcome: 'ok' }],
    ['200 with budget left', 200, { 'x-ratelimit-remaining-requests': '2', 'x-ratelimit-reset-requests': '20s' }, '', { outcome: 'ok' }],
    ['200 that spent the request budget: rest the key until it refills', 200, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '19.5s' }, '', { outcome: 'ok', budgetSpentForMs: 19_500 }],
    ['200 with a spent budget but no usable reset', 200, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': 'soon' }, '', { outcome: 'ok' }],
    ['429 rate_limit_exceeded with Retry-After', 429, { 'retry-after': '20' }, oaiErr('rate_limit_exceeded', 'requests', 'Rate limit reached for tts-1 in organization org-x on requests per min (RPM): Limit 3'), { outcome: 'rate_limited', retryAfterMs: 20_000, code: 'rate_limit_exceeded' }],
    ['429 tokens limit with reset header only', 429, { 'x-ratelimit-reset-tokens': '6m0s', 'x-ratelimit-remaining-tokens': '0' }, oaiErr('rate_limit_exceeded', 'tokens'), { outcome: 'rate_limited', retryAfterMs: 360_000 }],
    ['429 with retry-after-ms', 429, { 'retry-after-ms': '750' }, oaiErr('rate_limit_exceeded', 'requests'), { outcome: 'rate_limited', retryAfterMs: 750 }],
    ['429 images per minute (no hint)', 429, {}, oaiErr('rate_limit_exceeded', 'requests', 'Rate limit exceeded for images per minute in organization org-x. Limit: 0/1min.'), { outcome: 'rate_limited', retryAfterMs: undefined }],
    ['429 insufficient_quota is quota, not a rate limit', 429, {}, oaiErr('insufficient_quota', 'insufficient_quota', 'You exceeded your current quota'), { outcome: 'quota_exhausted', code: 'insufficient_quota' }],
    ['429 newer quota code credit_balance_exhausted', 429, {}, oaiErr('credit_balance_exhausted', 'insufficient_quota'), { outcome: 'quota_exhausted' }],
    ['429 project_spend_limit_exceeded', 429, {}, oaiErr('project_spend_limit_exceeded', 'insufficient_quota'), { outcome: 'quota_exhausted' }],
    ['429 slow_down is platform load', 429, {}, oaiErr('slow_down', 'requests'), { outcome: 'overloaded' }],
    ['429 with unparseable body still a rate limit', 429, { 'retry-after': '2' }, '<html>', { outcome: 'rate_limited', retryAfterMs: 2000 }],
    ['401 invalid_api_key', 401, {}, oaiErr('invalid_api_key', 'invalid_request_error', 'Incorrect API key provided: sk-…abcd.'), { outcome: 'invalid_key', code: 'invalid_api_key' }],
    ['401 other (not in org)', 401, {}, oaiErr(null, 'invalid_request_error'), { outcome: 'invalid_key' }],
    ['500 server error', 500, {}, oaiErr(null, 'server_error', 'The server had an error'), { outcome: 'overloaded' }],
    ['503 engine overloaded', 503, {}, oaiErr(null, 'server_error', 'The engine is currently overloaded'), { outcome: 'overloaded' }],
    ['502 / 504', 504, {}, '', { outcome: 'overloaded' }],
    ['400 input too long', 400, {}, oaiErr('string_above_max_length', 'invalid_request_error'), { outcome: 'bad_request', code: 'string_above_max_length' }],
    // Restricted keys and projects (docs/providers.md §6): the key's, for this operation only.
    ['401 missing scope (code null, as seen): not an invalid key', 401, {}, oaiErr(null, 'invalid_request_error', 'You have insufficient permissions for this operation. Missing scopes: api.model.audio.request. Check that you have the correct role'), { outcome: 'key_forbidden', code: 'missing_scope' }],
    ['401 code missing_scope', 401, {}, oaiErr('missing_scope', 'invalid_request_error'), { outcome: 'key_forbidden', code: 'missing_scope' }],
    ['403 missing scope', 403, {}, oaiErr(null, 'invalid_request_error', 'You have insufficient permissions for this operation. Missing scopes: api.model.images.request.'), { outcome: 'key_forbidden', code: 'missing_scope' }],
    ['403 project without the model', 403, {}, oaiErr('model_not_found', 'invalid_request_error', 'Project `proj_abc` does not have access to model `gpt-image-1`'), { outcome: 'key_forbidden', code: 'model_not_found' }],
    ['404 model_not_found (the gateway only sends models that exist)', 404, {}, oaiErr('model_not_found', 'invalid_request_error', 'The model `tts-1-hd` does not exist or you do not have access to it.'), { outcome: 'key_forbidden', code: 'model_not_found' }],
    ['403 other', 403, {}, oaiErr(null, 'invalid_request_error', 'Forbidden'), { outcome: 'key_forbidden', code: 'invalid_request_error' }],
    ['403 region not supported: the host, every key alike', 403, {}, oaiErr('unsupported_country_region_territory', 'request_forbidden', 'Country, region, or territory not supported'), { outcome: 'bad_request', code: 'unsupported_country_region_territory' }],
    ['401 invalid_api_key stays invalid, whatever the text', 401, {}, oaiErr('invalid_api_key', 'invalid_request_error', 'insufficient permissions'), { outcome: 'invalid_key', code: 'invalid_api_key' }],
    ['404 without a code (a route)', 404, {}, oaiErr(null, 'invalid_request_error'), { outcome: 'bad_request' }],
    ['free text never becomes a code', 400, {}, oaiErr('has spaces: sk-abc', 'invalid request'), { outcome: 'bad_request', code: 'upstream_error' }],
    ['no code at all stays no code', 400, {}, oaiErr(null, ''), { outcome: 'bad_request', code: undefined }],
    ['an unknown code with a known type: the type', 400, {}, oaiErr('sk-proj-LEAKq7vLmZ2xTr9KpW4s', 'invalid_request_error'), { outcome: 'bad_request', code: 'invalid_request_error' }],
  ]);
});

const elErr = (status: string, message = 'x') => ({ detail: { status, message } });

describe('ElevenLabs (docs/providers.md §2, §5)', () => {
  run(classifyElevenLabs, [
    ['200 audio', 200, { 'content-type': 'audio/mpeg' }, '', { outcome: 'ok' }],
    ['401 quota_exceeded is quota, not an invalid key', 401, {}, elErr('quota_exceeded', 'This request exceeds your quota of 10000. You have 0 credits remaining'), { outcome: 'quota_exhausted', code: 'quota_exceeded' }],
    ['401 invalid_api_key', 401, {}, elErr('invalid_api_key', 'Invalid API key'), { outcome: 'invalid_key', code: 'invalid_api_key' }],
    ['401 without a body', 401, {}, '', { outcome: 'invalid_key' }],
    ['429 too_many_concurrent_requests rotates', 429, {}, elErr('too_many_concurrent_requests'), { outcome: 'rate_limited', code: 'too_many_concurrent_requests' }],
    ['429 system_busy backs off', 429, {}, elErr('system_busy', 'retry with exponential backoff'), { outcome: 'overloaded', code: 'system_busy' }],
    ['429 with Retry-After as HTTP date', 429, { 'retry-after': 'Thu, 26 Nov 2026 05:30:05 GMT' }, elErr('too_many_concurrent_requests'), { outcome: 'rate_limited', retryAfterMs: 5000 }],
    ['500', 500, {}, '', { outcome: 'overloaded' }],
    ['400 max_character_limit_exceeded', 400, {}, elErr('max_character_limit_exceeded'), { outcome: 'bad_request', code: 'max_character_limit_exceeded' }],
    ['400 voice_not_found', 400, {}, elErr('voice_not_found'), { outcome: 'bad_request', code: 'voice_not_found' }],
    ['404 voice_not_found', 404, {}, elErr('voice_not_found'), { outcome: 'bad_request', code: 'voice_not_found' }],
    ['403 only_for_creator+', 403, {}, elErr('only_for_creator+'), { outcome: 'bad_request', code: 'only_for_creator+' }],
    ['401 missing_permissions (restricted key): not an invalid key', 401, {}, elErr('missing_permissions', 'The API key you used is missing the permission text_to_speech to execute this operation.'), { outcome: 'key_forbidden', code: 'missing_permissions' }],
    ['403 missing_permissions', 403, {}, elErr('missing_permissions'), { outcome: 'key_forbidden', code: 'missing_permissions' }],
    ['403 other', 403, {}, elErr('something_else'), { outcome: 'key_forbidden', code: 'upstream_error' }],
    ['422 validation', 422, {}, { detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }] }, { outcome: 'bad_request' }],
  ]);
});

describe('fal.ai (docs/providers.md §3, §5)', () => {
  run(classifyFal, [
    ['200 images', 200, {}, { images: [] }, { outcome: 'ok' }],
    ['401 no user found', 401, {}, { detail: 'No user found for Key ID and Secret' }, { outcome: 'invalid_key' }],
    ['403 exhausted balance', 403, {}, { detail: 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.' }, { outcome: 'quota_exhausted' }],
    ['403 admin lock', 403, {}, { detail: 'User is locked. Reason: Admin lock.' }, { outcome: 'quota_exhausted' }],
    ['403 other: this key, not the account', 403, {}, { detail: 'Forbidden' }, { outcome: 'key_forbidden', code: 'forbidden' }],
    ['403 app not allowed for this key', 403, {}, { detail: 'Access denied: this key is not allowed to use the application fal-ai/flux/dev.' }, { outcome: 'key_forbidden' }],
    ['429 concurrency', 429, {}, { detail: 'Too many concurrent requests' }, { outcome: 'rate_limited' }],
    ['503 runner_scheduling_failure', 503, { 'x-fal-error-type': 'runner_scheduling_failure' }, { detail: 'no runner', error_type: 'runner_scheduling_failure' }, { outcome: 'overloaded', code: 'runner_scheduling_failure' }],
    ['502 runner_incomplete_response', 502, {}, { detail: 'x', error_type: 'runner_incomplete_response' }, { outcome: 'overloaded' }],
    ['500 internal_error', 500, {}, { detail: 'x', error_type: 'internal_error' }, { outcome: 'overloaded' }],
    ['504 request_timeout (platform)', 504, {}, { detail: 'Request timed out', error_type: 'request_timeout' }, { outcome: 'overloaded', code: 'request_timeout' }],
    ['504 caused by the caller timeout is not retried', 504, { 'x-fal-request-timeout-type': 'user' }, { detail: 'Request timed out', error_type: 'request_timeout' }, { outcome: 'bad_request' }],
    ['499 client_disconnected', 499, {}, { detail: 'x', error_type: 'client_disconnected' }, { outcome: 'overloaded' }],
    ['422 validation', 422, {}, { detail: [{ loc: ['body', 'prompt'], msg: 'field required', type: 'missing' }] }, { outcome: 'bad_request', code: 'validation_error' }],
    ['400 bad_request', 400, {}, { detail: 'bad', error_type: 'bad_request' }, { outcome: 'bad_request', code: 'bad_request' }],
  ]);
});

const kl = (code: number, message = 'x') => ({ code, message, request_id: 'r' });

describe('Kling (docs/providers.md §4, §5)', () => {
  run(classifyKling, [
    ['200 code 0', 200, {}, { code: 0, message: 'SUCCEED', data: {} }, { outcome: 'ok' }],
    ['401 1000 auth failed', 401, {}, kl(1000), { outcome: 'invalid_key', code: 'kling_1000' }],
    ['401 1001 empty', 401, {}, kl(1001), { outcome: 'invalid_key' }],
    ['401 1002 invalid', 401, {}, kl(1002), { outcome: 'invalid_key' }],
    ['401 1003 not yet valid: re-mint, not disable', 401, {}, kl(1003), { outcome: 'overloaded' }],
    ['401 1004 expired: re-mint, not disable', 401, {}, kl(1004), { outcome: 'overloaded' }],
    ['429 1100 account exception', 429, {}, kl(1100), { outcome: 'quota_exhausted' }],
    ['429 1101 arrears', 429, {}, kl(1101), { outcome: 'quota_exhausted' }],
    ['429 1102 resource pack exhausted', 429, {}, kl(1102), { outcome: 'quota_exhausted' }],
    ['403 1103 no permission for the API or model', 403, {}, kl(1103), { outcome: 'key_forbidden', code: 'kling_1103' }],
    ['403 without a known code', 403, {}, '', { outcome: 'key_forbidden' }],
    ['429 1304 IP whitelist', 429, {}, kl(1304), { outcome: 'invalid_key' }],
    ['429 1302 rate limit', 429, {}, kl(1302), { outcome: 'rate_limited', code: 'kling_1302' }],
    ['429 1303 parallel tasks over limit', 429, {}, kl(1303, 'parallel task over resource pack limit'), { outcome: 'rate_limited' }],
    ['500 5000', 500, {}, kl(5000), { outcome: 'overloaded' }],
    ['503 5001 maintenance', 503, {}, kl(5001), { outcome: 'overloaded' }],
    ['504 5002 backlog', 504, {}, kl(5002), { outcome: 'overloaded' }],
    ['400 1200 invalid params', 400, {}, kl(1200), { outcome: 'bad_request', code: 'kling_1200' }],
    ['400 1301 content security', 400, {}, kl(1301), { outcome: 'bad_request' }],
    ['404 1203 model not found', 404, {}, kl(1203), { outcome: 'bad_request' }],
    ['429 without a body', 429, {}, '', { outcome: 'rate_limited' }],
    ['502 without a body', 502, {}, '', { outcome: 'overloaded' }],
  ]);
});

/**
 * Keys look like identifiers (`sk-…`, `sk_…`, `AK…`, fal's `uuid:hex` halves): a provider — or
 * anything on the path — that puts one in a code field must not have it passed on. Only codes a
 * vendor's classifier declares it knows reach clients and logs; any other is `upstream_error`.
 */
describe('a key in a provider-controlled code field never becomes the code', () => {
  const CANARIES = {
    openaiProject: 'sk-proj-' + 'Q7vLmZ2xTr9KpW4sNc8HbJ3yFg6DaE1uVo5iRt0MkXqP' /* built, so no key-shaped literal is committed */,
    openaiLegacy: 'sk-' + 'Zr4TbQ9wLx2NcV7mKp3JhS8dFy6GaU1eWo5iPt0RkMnBvC',
    elevenlabs: 'sk_3fa9c2e7b1d84f60a5c9e2b7d1f48a3c6e9b2d7f1a4c8e5b',
    falId: '5b7e2c1a-9d3f-7a4b-8c6d-2e9f1a3b5c7d',
    falSecret: 'e4c9a2f7b1d6e3a8c5f2b9d4e7a1c6f3',
    klingAccess: 'AKLEAKZ4Qm8TvN2pRx7WcY5hJd3Fs9Gb',
    klingSecret: 'KsEc4Rt7Yu1Io9Pa3Sd6Fg2Hj8Kl5Zx0Cv',
  };
  const keyLike = Object.values(CANARIES);
  const answers: [string, Classifier, (k: string) => { body: unknown; headers?: Record<string, string> }][] = [
    ['OpenAI error.code', classifyOpenAI, (k) => ({ body: oaiErr(k, 'x y') })],
    ['OpenAI error.type', classifyOpenAI, (k) => ({ body: { error: { message: k, type: k, param: k, code: null } } })],
    ['ElevenLabs detail.status', classifyElevenLabs, (k) => ({ body: { detail: { status: k, message: k } } })],
    ['ElevenLabs detail.code', classifyElevenLabs, (k) => ({ body: { detail: { code: k, message: k } } })],
    ['fal error_type', classifyFal, (k) => ({ body: { detail: k, error_type: k } })],
    ['fal X-Fal-Error-Type', classifyFal, (k) => ({ body: { detail: k }, headers: { 'x-fal-error-type': k } })],
    ['Kling code (a string)', classifyKling, (k) => ({ body: { code: k, message: k, request_id: k } })],
  ];
  const cases = answers.flatMap(([field, classify, make]) => [400, 401, 403, 404, 422, 429, 500, 503].flatMap((status) => keyLike.map((k) => [field, status, classify, make(k), k] as const)));
  test.each(cases)('%s at %i', (_field, status, classify, answer, key) => {
    const c = classify({ status, headers: answer.headers ?? {}, body: answer.body }, NOW);
    expect(JSON.stringify(c)).not.toContain(key.slice(0, 6));
    if (c.code !== undefined) expect(c.code).toMatch(/^(upstream_error|[a-z_+]+|kling_\d+)$/);
  });

  test('knownCode: the first known candidate; upstream_error for anything else sent; undefined for nothing', () => {
    const known = new Set(['rate_limit_exceeded', 'requests']);
    expect(knownCode(known, 'rate_limit_exceeded', 'requests')).toBe('rate_limit_exceeded');
    expect(knownCode(known, CANARIES.openaiLegacy, 'requests')).toBe('requests');
    expect(knownCode(known, CANARIES.openaiLegacy, null)).toBe('upstream_error');
    expect(knownCode(known, 42)).toBe('upstream_error');
    expect(knownCode(known, null, undefined, '')).toBeUndefined();
  });
});
