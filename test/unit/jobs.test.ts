import { progressOf } from '../../lambda/jobs/progress';
import { isJobId, newJobId } from '../../lambda/jobs/store';
import { klingTaskResult } from '../../lambda/providers/kling/video';
import { redactProviderText } from '../../lambda/domain';
import { klingJwt, KlingTokens } from '../../lambda/providers/kling/tokens';
import { falQueueAppPath, falStableAudio } from '../../lambda/providers/fal/stable-audio';
import { verifyKlingJwt } from '../../scripts/sandbox';
import { KeyPool } from '../../lambda/keys/key-pool';

describe('progress estimate', () => {
  const job = (status: 'unknown' | 'queued' | 'in_progress' | 'completed' | 'failed') => ({ status, createdAt: 0, expectedMs: 100_000 });
  test.each<[ReturnType<typeof job>['status'], number, number]>([
    ['queued', 0, 0],
    ['queued', 10_000, 4],
    ['queued', 100_000, 10],
    ['in_progress', 0, 10],
    ['in_progress', 50_000, 52],
    ['in_progress', 100_000, 95],
    ['in_progress', 900_000, 95],
    ['unknown', 50_000, 0],
    ['completed', 1, 100],
    ['failed', 1, 100],
  ])('%s after %j ms → %j', (status, now, expected) => {
    expect(progressOf(job(status), now)).toBe(expected);
  });
});

describe('job ids', () => {
  test('opaque, typed, 128 random bits', () => {
    const a = newJobId('video');
    expect(a).toMatch(/^video_[0-9a-f]{32}$/);
    expect(newJobId('video')).not.toBe(a);
    expect(isJobId('video', a)).toBe(true);
    expect(isJobId('audio.generation', a)).toBe(false);
    expect(isJobId('video', `${a}/../x`)).toBe(false);
  });
});

describe('Kling', () => {
  test('JWT HS256: iss = access key, exp 30 min, nbf 5 s back; verifies with the secret only', async () => {
    const now = Date.parse('2026-11-26T06:00:00Z');
    const { token, exp } = await klingJwt('AK1', 'secret-1', now);
    const [h, p] = token.split('.').slice(0, 2).map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()) as Record<string, unknown>);
    expect(h).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(p).toEqual({ iss: 'AK1', exp: now / 1000 + 1800, nbf: now / 1000 - 5 });
    expect(exp).toBe(now + 1_800_000);
    expect(verifyKlingJwt(token, new Map([['AK1', 'secret-1']]), now)).toMatchObject({ ok: true });
    expect(verifyKlingJwt(token, new Map([['AK1', 'other-secret']]), now)).toMatchObject({ ok: false });
  });

  test('tokens are cached per key until a minute before expiry', async () => {
    let now = 1_000_000_000_000;
    const tokens = new KlingTokens(() => now);
    const lease = new KeyPool('kling', ['AK:SK'], () => now).leaseById('kling#1')!;
    const t1 = await tokens.bearer(lease);
    now += 1_000;
    expect(await tokens.bearer(lease)).toBe(t1);
    now += 1_740_000; // 29 min 1 s in: under a minute left
    expect(await tokens.bearer(lease)).not.toBe(t1);
  });

  test.each<[Record<string, unknown>, unknown]>([
    [{ task_status: 'submitted' }, { status: 'queued' }],
    [{ task_status: 'processing' }, { status: 'in_progress' }],
    [{ task_status: 'succeed', task_result: { videos: [{ url: 'https://v/1.mp4' }] } }, { status: 'completed', url: 'https://v/1.mp4' }],
    [{ task_status: 'failed', task_status_msg: 'content review' }, { status: 'failed', error: { code: 'generation_failed', message: 'content review' } }],
  ])('task %j → %j', (data, expected) => {
    expect(klingTaskResult(data)).toEqual(expected);
  });

  test('failure text keeps its meaning but loses anything shaped like a key or token', () => {
    const jwtish = 'eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJBSzEifQ.sig';
    const msg = redactProviderText(`review failed for key sk-proj-abcdefghijklmnopqrstuvwxyz0123 token ${jwtish}`);
    expect(msg).toBe('review failed for key [redacted] token [redacted]');
    // Short, masked keys were let through by a length rule alone.
    expect(redactProviderText('key sk-LEAKCA****N2 refused')).toBe('key [redacted] refused');
    expect(redactProviderText('The prompt did not pass the content review.')).toBe('The prompt did not pass the content review.');
  });

  test('tokens follow the key, not its position: a rebuilt key list never signs with a removed key', async () => {
    const now = 1_000_000_000_000;
    const tokens = new KlingTokens(() => now);
    const before = new KeyPool('kling', ['OLDAK:oldsecret'], () => now).leaseById('kling#1')!;
    const after = new KeyPool('kling', ['NEWAK:newsecret'], () => now).leaseById('kling#1')!;
    await tokens.bearer(before);
    const payload = JSON.parse(Buffer.from((await tokens.bearer(after)).split('.')[1], 'base64url').toString()) as { iss: string };
    expect(payload.iss).toBe('NEWAK');
  });

  test('a succeeded task without a url is malformed', () => {
    expect(() => klingTaskResult({ task_status: 'succeed', task_result: { videos: [] } })).toThrow('malformed');
  });
});

describe('fal queue', () => {
  test.each([
    ['fal-ai/stable-audio', 'fal-ai/stable-audio'],
    ['fal-ai/flux/dev', 'fal-ai/flux'],
    ['fal-ai/flux/dev/image-to-image', 'fal-ai/flux'],
  ])('status/result path of %s drops the subpath: %s', (model, expected) => {
    expect(falQueueAppPath(model)).toBe(expected);
  });

  test('submit URLs are used only on the configured queue host: our key goes nowhere else', () => {
    const adapter = falStableAudio.adapter({ falQueue: 'https://queue.fal.run' }, Date.now);
    const op = adapter.create({ model: 'fal-ai/stable-audio', prompt: 'x', seconds: 5 }, 'audiogen_x');
    const decode = (b: object) => op.decode({ status: 200, headers: {}, body: b, raw: Buffer.from('') });
    expect(decode({ request_id: 'r1', status_url: 'https://queue.fal.run/fal-ai/stable-audio/requests/r1/status', response_url: 'https://queue.fal.run/fal-ai/stable-audio/requests/r1' }))
      .toMatchObject({ providerTaskId: 'r1', statusUrl: 'https://queue.fal.run/fal-ai/stable-audio/requests/r1/status' });
    expect(decode({ request_id: 'r2', status_url: 'https://evil.example/steal', response_url: 'http://queue.fal.run.evil/x' }))
      .toMatchObject({ statusUrl: 'https://queue.fal.run/fal-ai/stable-audio/requests/r2/status', responseUrl: 'https://queue.fal.run/fal-ai/stable-audio/requests/r2' });
  });
});
