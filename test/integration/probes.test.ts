import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { Harness, post, speechBody, storedItemsText } from './harness';
import { ensureTable, localClient, startDynalite, LocalDynamo } from '../../scripts/local/dynamo';
import { fingerprintOf } from '../../lambda/keys/key-lease';
import type { LocalStack } from '../../scripts/local/stack';

/**
 * Scheduled key probes against the sandbox over real HTTP, with dynalite: what a probe learns
 * acts like what a request learns (disable fleet-wide, through KEY_STATE#), a probe success lifts
 * a disable it disproves, transient failures change nothing, and the KEY_HEALTH# items carry what
 * the vendor shows (ElevenLabs' character quota).
 */
const h = new Harness();
const stores: LocalDynamo[] = [];
beforeAll(() => h.start());
afterAll(async () => {
  await h.stop();
  for (const d of stores) await d.close();
});

/** A store of its own, for tests whose health window must hold only their own traffic. */
let endpoint = '';
async function ownStore(): Promise<Record<string, string>> {
  const d = await startDynalite();
  await ensureTable(d.endpoint, 'nanobot-config');
  stores.push(d);
  endpoint = d.endpoint;
  return { DYNAMODB_ENDPOINT: d.endpoint };
}
beforeEach(() => {
  endpoint = h.dynamo.endpoint;
});

type Item = Record<string, unknown>;

async function items(pk: string): Promise<Item[]> {
  const client = localClient(endpoint);
  try {
    const r = await client.send(new QueryCommand({ TableName: 'nanobot-config', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } } }));
    return (r.Items ?? []).map((i) => unmarshall(i));
  } finally {
    client.destroy();
  }
}

/** A key's item (by fingerprint: other tests' stacks write items with the same public ids). */
async function itemOf(pk: string, key: string): Promise<Item | undefined> {
  return (await items(pk)).find((i) => i.sk === fingerprintOf(key));
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 8_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const health = async (stack: LocalStack, query = '') => (await (await fetch(`${stack.url}/v1/health${query}`)).json()) as {
  providers: Record<string, { status: string; reason: string; keys: { disabled: number }; probes: { reason: string; keys_passing: number } | null }>;
  vendors?: Record<string, { keys: Record<string, unknown>[] }>;
};
/** One fresh key for each vendor a test is not about (else the sandbox's three Kling keys, 1 s apart, slow every run). */
const withOthers = (keys: Partial<Record<'openai' | 'elevenlabs' | 'fal' | 'kling', string[]>>) => ({
  openai: h.keys('openai', 1), elevenlabs: h.keys('elevenlabs', 1), fal: h.keys('fal', 1), kling: h.keys('kling', 1), ...keys,
});
const speechCalls = (key: string) => h.sandbox.log().filter((r) => r.key === key && r.path === '/v1/audio/speech').length;
/** Another instance of the fleet (its own pools, no probes), reading the fleet's key state on every request. */
const instance = (keys: string[]) => h.stack({ openai: keys }, { KEY_STATE_REFRESH_MS: '0', KEY_STATE_WAIT_MS: '1000' });

test('a key revoked while idle is disabled fleet-wide by the next scheduled probe, before any request meets it; restored, the next probe re-enables it', async () => {
  const keys = h.keys('openai', 2);
  const prober = await h.stack(withOthers({ openai: keys }), { PROBE_INTERVAL_MS: '200' });
  await until('a first probe of both keys', async () => (await itemOf('KEY_HEALTH#openai', keys[0]))?.state === 'ok' && (await itemOf('KEY_HEALTH#openai', keys[1]))?.state === 'ok');
  h.sandbox.revokeKey('openai', keys[0]);

  const disabled = await until('the probe to disable openai#1', async () => {
    const it = await itemOf('KEY_HEALTH#openai', keys[0]);
    return it?.state === 'disabled' ? it : undefined;
  });
  expect(disabled).toMatchObject({ probeResult: 'invalid_key', httpStatus: 401 });
  const fleet = await itemOf('KEY_STATE#openai', keys[0]);
  expect(fleet).toMatchObject({ reason: 'invalid_key', disabledUntil: expect.any(Number), disabledAt: expect.any(Number) });
  // No user request was made: the only calls with the revoked key are the probe's.
  expect(speechCalls(keys[0])).toBe(0);

  // Another instance learns it from the fleet before its first request, so no request meets the key.
  const other = await instance(keys);
  for (let i = 0; i < 4; i++) expect((await post(`${other.url}/v1/audio/speech`, speechBody())).status).toBe(200);
  expect(speechCalls(keys[0])).toBe(0);
  expect(speechCalls(keys[1])).toBe(4);
  expect((await health(other)).providers['openai-tts']).toMatchObject({ status: 'degraded', keys: { disabled: 1 } });

  h.sandbox.restoreKey('openai', keys[0]);
  await until('the probe to re-enable openai#1', async () => (await itemOf('KEY_HEALTH#openai', keys[0]))?.state === 'ok');
  const lifted = await itemOf('KEY_STATE#openai', keys[0]);
  expect(lifted).toMatchObject({ enabledAt: expect.any(Number) });
  expect(lifted).not.toHaveProperty('disabledUntil');
  // The other instance lifts its copy of the disable at its next read: requests reach the key again.
  for (let i = 0; i < 4; i++) expect((await post(`${other.url}/v1/audio/speech`, speechBody())).status).toBe(200);
  expect(speechCalls(keys[0])).toBeGreaterThan(0);
  await prober.close();
  await other.close();
}, 30_000);

test('a key disabled by a user request, restored, is re-enabled by a probe (a probe success outranks an older disable)', async () => {
  const keys = h.keys('openai', 2);
  const stack = await h.stack(withOthers({ openai: keys }));
  h.sandbox.revokeKey('openai', keys[0]);
  for (let i = 0; i < 2; i++) expect((await post(`${stack.url}/v1/audio/speech`, speechBody())).status).toBe(200);
  expect(stack.runtime.pools.get('openai').counts().disabled).toBe(1);
  await stack.runtime.keyState?.settle();
  expect(await itemOf('KEY_STATE#openai', keys[0])).toMatchObject({ reason: 'invalid_key' });

  h.sandbox.restoreKey('openai', keys[0]);
  const run = await stack.prober.run();
  expect(run.vendors.find((v) => v.vendor === 'openai')?.keys).toEqual(expect.arrayContaining([expect.objectContaining({ keyId: 'openai#1', result: 'ok', did: 'reenabled' })]));
  expect(stack.runtime.pools.get('openai').counts()).toMatchObject({ available: 2, disabled: 0 });
  expect(await itemOf('KEY_STATE#openai', keys[0])).not.toHaveProperty('disabledUntil');
  await stack.close();
});

test('a 5xx (or a timeout) during a probe changes nothing: no disable, no re-enable, no status flip; the failure is logged once', async () => {
  const keys = h.keys('openai', 2);
  const stack = await h.stack(withOthers({ openai: keys }), { PROBE_TIMEOUT_MS: '300', ...(await ownStore()) });
  await stack.prober.run();
  expect((await health(stack)).providers['openai-tts']).toMatchObject({ status: 'healthy', reason: 'probes ok' });

  const mark = h.output.length;
  h.sandbox.injectFaults('openai', [{ kind: 'status', status: 503, pathIncludes: '/v1/models', key: keys[0], times: 2 }]);
  await stack.prober.run();
  await stack.prober.run();
  expect(await itemOf('KEY_HEALTH#openai', keys[0])).toMatchObject({ state: 'ok', probeResult: 'provider_error', httpStatus: 503 });
  expect(await itemOf('KEY_STATE#openai', keys[0])).toBeUndefined();
  expect(stack.runtime.pools.get('openai').counts()).toMatchObject({ available: 2, disabled: 0 });
  const afterFaults = (await health(stack)).providers['openai-tts'];
  expect(afterFaults).toMatchObject({ status: 'healthy', reason: 'probes inconclusive on 1 of 2 keys' });
  expect(h.logLines(mark, 'key probe failed')).toHaveLength(1);

  // A disabled key stays disabled through a failing probe (and a timeout) even after it recovered.
  h.sandbox.revokeKey('openai', keys[1]);
  await stack.prober.run();
  expect(stack.runtime.pools.get('openai').counts().disabled).toBe(1);
  h.sandbox.restoreKey('openai', keys[1]);
  h.sandbox.injectFaults('openai', [
    { kind: 'status', status: 500, pathIncludes: '/v1/models', key: keys[1] },
    { kind: 'slow_headers', delayMs: 1_000, pathIncludes: '/v1/models', key: keys[1] },
  ]);
  await stack.prober.run();
  await stack.prober.run();
  expect(stack.runtime.pools.get('openai').counts().disabled).toBe(1);
  expect(await itemOf('KEY_HEALTH#openai', keys[1])).toMatchObject({ state: 'disabled', probeResult: 'timeout' });
  expect(await itemOf('KEY_STATE#openai', keys[1])).toHaveProperty('disabledUntil');
  await stack.close();
});

test('ElevenLabs quota figures land in KEY_HEALTH# items and /v1/health; a key past 80 % is the reason; a quota disable is lifted only when quota is back', async () => {
  const keys = h.keys('elevenlabs', 3);
  h.sandbox.configureKey('elevenlabs', keys[0], { account: { characterLimit: 1_000 } });
  h.sandbox.configureKey('elevenlabs', keys[1], { account: { characterLimit: 1_000 } });
  h.sandbox.configureKey('elevenlabs', keys[2], { state: 'quota' });
  const stack = await h.stack(withOthers({ elevenlabs: keys }));
  const tts = (input: string) => post(`${stack.url}/v1/audio/speech`, { model: 'eleven_multilingual_v2', input, voice: 'JBFqnCBsd6RMkjVDRZzb' });
  expect((await tts('x'.repeat(850))).status).toBe(200); // elevenlabs#1
  expect((await tts('y'.repeat(120))).status).toBe(200); // elevenlabs#2
  // elevenlabs#3 answers 401 quota_exceeded: disabled fleet-wide, the request served by elevenlabs#1.
  expect((await tts('z'.repeat(10))).status).toBe(200);
  await stack.prober.run();

  const first = await itemOf('KEY_HEALTH#elevenlabs', keys[0]);
  expect(first).toMatchObject({
    keyId: 'elevenlabs#1', state: 'ok', probeResult: 'ok', quotaUsed: 860, quotaLimit: 1_000, quotaUsedPercent: 86,
    quotaResetAt: expect.stringMatching(/^\d{4}-\d\d-01T00:00:00\.000Z$/), latencyMs: expect.any(Number), lastProbeAt: expect.any(String), ttl: expect.any(Number),
  });
  expect(await itemOf('KEY_HEALTH#elevenlabs', keys[1])).toMatchObject({ state: 'ok', quotaUsed: 120, quotaUsedPercent: 12 });
  // The account shows its quota used up: the probe passes, but the disable stays (no quota left to lift it).
  expect(await itemOf('KEY_HEALTH#elevenlabs', keys[2])).toMatchObject({ state: 'disabled', probeResult: 'ok', quotaUsed: 100_000, quotaUsedPercent: 100 });
  expect(stack.runtime.pools.get('elevenlabs').counts().disabled).toBe(1);

  const view = await health(stack, '?keys=1');
  expect(view.providers['elevenlabs-tts'].probes).toMatchObject({ reason: 'quota 86% used on 1 of 3 keys', keys_passing: 2 });
  const detail = view.vendors?.elevenlabs.keys ?? [];
  expect(detail.find((k) => k.id === 'elevenlabs#1')).toMatchObject({ state: 'ok', probe_result: 'ok', quota_used: 860, quota_limit: 1_000, quota_used_percent: 86, quota_reset_at: expect.any(String) });
  expect(detail.find((k) => k.id === 'elevenlabs#3')).toMatchObject({ pool: 'disabled', pool_reason: 'quota_exhausted', state: 'disabled' });
  const status = (await items('PROVIDER_HEALTH#elevenlabs-tts')).find((i) => i.sk === 'STATUS');
  expect(status).toMatchObject({ status: 'degraded', keysDisabled: 1 });
  // The operator's view: `npm run health -- --keys`.
  // (Not execFileSync: dynalite answers from this process.)
  const { stdout: cli } = await promisify(execFile)(process.execPath, [require.resolve('tsx/cli'), 'scripts/health.ts', '--keys', '--endpoint', h.dynamo.endpoint], { encoding: 'utf8' });
  const line = cli.split('\n').find((l) => l.includes(fingerprintOf(keys[0])));
  expect(line).toMatch(/^elevenlabs#1\s+[0-9a-f]{8}\s+ok\s+ok\s+\d+ s ago\s+\d+\s+860\/1000 \(86%\)\s+\d{4}-\d\d-01T00:00:00\.000Z/);
  expect(cli).toMatch(/elevenlabs-tts\s+degraded .*some keys cooling or disabled/);
  // No key material anywhere in the table or the answers.
  const table = await storedItemsText(h.dynamo.endpoint);
  for (const k of keys) expect(table).not.toContain(k);
  expect(JSON.stringify(view)).not.toContain(keys[0]);
  await stack.close();
});

test('with no traffic, status comes from the probes: "probes ok", then a quota past 80 % on a key', async () => {
  const keys = h.keys('elevenlabs', 2);
  h.sandbox.configureKey('elevenlabs', keys[0], { account: { characterLimit: 1_000 } });
  const stack = await h.stack(withOthers({ elevenlabs: keys }), await ownStore());
  await stack.prober.run();
  expect((await items('PROVIDER_HEALTH#elevenlabs-tts')).find((i) => i.sk === 'STATUS')).toMatchObject({ status: 'healthy', reason: 'probes ok', requests: 0 });
  expect((await health(stack)).providers['elevenlabs-tts']).toMatchObject({ status: 'healthy', reason: 'probes ok' });
  // Characters used elsewhere (another gateway, the vendor's console): only the probe can see them.
  expect((await fetch(`${h.sandbox.urls.elevenlabs}/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb`, { method: 'POST', headers: { 'xi-api-key': keys[0], 'content-type': 'application/json' }, body: JSON.stringify({ text: 'q'.repeat(920) }) })).status).toBe(200);
  await stack.prober.run();
  expect((await items('PROVIDER_HEALTH#elevenlabs-tts')).find((i) => i.sk === 'STATUS')).toMatchObject({ status: 'degraded', reason: 'quota 92% used on 1 of 2 keys' });
  expect((await health(stack)).providers['elevenlabs-tts']).toMatchObject({ status: 'degraded', reason: 'quota 92% used on 1 of 2 keys' });
  await stack.close();
});

test('each vendor is probed on its own free route; fal without billing scope is "not visible", not invalid; Kling calls stay 1 s apart', async () => {
  const fal = h.keys('fal', 3);
  const kling = h.keys('kling', 3);
  h.sandbox.configureKey('fal', fal[1], { restrict: { missingScopes: ['billing:usage:read'] } });
  h.sandbox.configureKey('fal', fal[2], { state: 'quota' });
  h.sandbox.configureKey('kling', kling[2], { state: 'quota' });
  const stack = await h.stack({ fal, kling, openai: h.keys('openai', 1), elevenlabs: h.keys('elevenlabs', 1) });
  const run = await stack.prober.run();
  const byVendor = Object.fromEntries(run.vendors.map((v) => [v.vendor, v.keys.map((k) => `${k.keyId}:${k.result}:${k.state}`)]));
  expect(byVendor).toEqual({
    openai: ['openai#1:ok:ok'],
    elevenlabs: ['elevenlabs#1:ok:ok'],
    fal: expect.arrayContaining(['fal#1:ok:ok', 'fal#2:not_visible:ok', 'fal#3:quota_exhausted:disabled']),
    kling: expect.arrayContaining(['kling#1:ok:ok', 'kling#2:ok:ok', 'kling#3:quota_exhausted:disabled']),
  });
  expect(await itemOf('KEY_HEALTH#fal', fal[0])).toMatchObject({ balance: 24.5, currency: 'USD' });
  expect(await itemOf('KEY_HEALTH#fal', fal[2])).toMatchObject({ balance: 0, state: 'disabled' });
  expect(await itemOf('KEY_HEALTH#kling', kling[0])).toMatchObject({ quotaUsed: 82, quotaLimit: 200, quotaUsedPercent: 41 });
  // Exhausted accounts are out of rotation fleet-wide before any request meets them; fal's 403 is not.
  expect(await itemOf('KEY_STATE#fal', fal[2])).toMatchObject({ reason: 'quota_exhausted' });
  expect(await itemOf('KEY_STATE#kling', kling[2])).toMatchObject({ reason: 'quota_exhausted' });
  expect(await itemOf('KEY_STATE#fal', fal[1])).toBeUndefined();
  const access = kling.map((k) => k.split(':')[0]);
  const costs = h.sandbox.log().filter((r) => r.path === '/account/costs' && access.includes(r.key));
  expect(costs.map((r) => r.status)).toEqual([200, 200, 200]);
  for (let i = 1; i < costs.length; i++) expect((costs[i].startedAt ?? 0) - (costs[i - 1].startedAt ?? 0)).toBeGreaterThanOrEqual(1_000);
  const probePaths = new Set(h.sandbox.log().filter((r) => fal.includes(r.key) || access.includes(r.key)).map((r) => `${r.base}${r.path}`));
  expect([...probePaths].sort()).toEqual(['/fal-api/v1/account/billing', '/kling/account/costs']);
  await stack.close();
});

test('no key material in any log line or answer', () => {
  expect(h.leaks()).toEqual([]);
});
