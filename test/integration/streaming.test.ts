import { request } from 'node:http';
import { Harness } from './harness';

/**
 * Streamed media through the local server (the same handler code as Lambda's): bytes reach the
 * client as the provider sends them, a provider failure mid-stream aborts the client's response,
 * and a client that goes away cancels the upstream request.
 */
const h = new Harness();
beforeAll(() => h.start());
afterAll(() => h.stop());
afterEach(() => h.sandbox.setTiming('fast'));

interface Received {
  status: number;
  /** Wall clock of the first and last body byte the client got. */
  firstByteAt?: number;
  lastByteAt?: number;
  bytes: number;
  /** The response ended cleanly (false: it was cut). */
  complete: boolean;
}

/** POSTs JSON and reads the answer as it streams; `stopAfter` bytes, then the client hangs up. */
function postStreaming(url: string, body: object, stopAfter = Number.POSITIVE_INFINITY): Promise<Received> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const r: Received = { status: res.statusCode ?? 0, bytes: 0, complete: false };
      res.on('data', (c: Buffer) => {
        r.firstByteAt ??= Date.now();
        r.lastByteAt = Date.now();
        r.bytes += c.length;
        if (r.bytes >= stopAfter) {
          req.destroy();
          resolve(r);
        }
      });
      res.on('end', () => resolve({ ...r, complete: true }));
      res.on('aborted', () => resolve(r));
      res.on('error', () => resolve(r));
    });
    req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
    req.end(JSON.stringify(body));
  });
}

const waitFor = async (cond: () => boolean, ms = 5_000) => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  return cond();
};

test('1,200 characters of speech: the first audio byte reaches the client while the provider is still sending', async () => {
  h.sandbox.setTiming('realistic');
  const stack = await h.stack({});
  const mark = h.sandbox.log().length;
  const got = await postStreaming(`${stack.url}/v1/audio/speech`, { model: 'tts-1', input: 'z'.repeat(1200), voice: 'alloy' });
  const call = h.sandbox.log().slice(mark).find((c) => c.path === '/v1/audio/speech')!;
  expect(got.status).toBe(200);
  expect(got.complete).toBe(true);
  expect(got.bytes).toBe(call.bytesSent);
  // Relayed as it comes: the client's first byte left before the provider's last one.
  expect(got.firstByteAt!).toBeLessThan(call.lastByteAt!);
  process.stderr.write(`[ttfb local] provider first → client first byte ${got.firstByteAt! - call.firstByteAt!} ms; provider first → last ${call.lastByteAt! - call.firstByteAt!} ms\n`);
}, 60_000);

test('a provider failure mid-stream cuts the client response (never a clean end) and is logged', async () => {
  const stack = await h.stack({});
  const out = h.output.length;
  h.sandbox.injectFaults('openai', [{ kind: 'midstream_reset', afterBytes: 100_000 }]);
  const got = await postStreaming(`${stack.url}/v1/audio/speech`, { model: 'tts-1', input: 'q'.repeat(600), voice: 'alloy', response_format: 'pcm' });
  expect(got.status).toBe(200);
  expect(got.complete).toBe(false);
  expect(got.bytes).toBeLessThanOrEqual(100_000);
  expect(await waitFor(() => h.output.slice(out).join('').includes('"message":"stream aborted"'))).toBe(true);
  // Never a silent retry that would splice two streams: the provider was called once.
  expect(h.sandbox.log().filter((c) => c.path === '/v1/audio/speech' && c.key === stack.runtime.pools.get('openai').view()[0].id).length).toBe(0);
});

test('a client that hangs up mid-stream cancels the upstream request', async () => {
  h.sandbox.setTiming('realistic');
  const stack = await h.stack({});
  const mark = h.sandbox.log().length;
  // About 80 s of audio paced 6× faster than real time: some 13 s to send in full.
  const got = await postStreaming(`${stack.url}/v1/audio/speech`, { model: 'tts-1', input: 'w'.repeat(1200), voice: 'alloy', response_format: 'pcm' }, 50_000);
  expect(got.bytes).toBeGreaterThanOrEqual(50_000);
  const call = () => h.sandbox.log().slice(mark).find((c) => c.path === '/v1/audio/speech');
  // The sandbox saw its answer cut short: the gateway dropped the upstream connection at once.
  expect(await waitFor(() => call()?.lastByteAt !== undefined)).toBe(true);
  const full = (1200 / 15) * 48_000;
  expect(call()!.bytesSent!).toBeLessThan(full / 2);
  expect(call()!.lastByteAt! - got.lastByteAt!).toBeLessThan(2_000);
}, 30_000);

test('an answer bigger than the gateway reads whole (MAX_UPSTREAM_BYTES) is refused with a clear 502 and named in the log', async () => {
  const stack = await h.stack({}, { MAX_UPSTREAM_BYTES: String(8 * 1024 * 1024) });
  const out = h.output.length;
  // OpenAI image answers are read whole to be checked: a 40 MB one is cut at the cap, not held.
  h.sandbox.injectFaults('openai', [{ kind: 'body_size', bytes: 40_000_000 }]);
  const res = await fetch(`${stack.url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-image-1', prompt: 'huge', n: 4 }) });
  expect(res.status).toBe(502);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('upstream_error');
  expect(body.error.message).toContain('answer_too_large');
  expect(h.output.slice(out).join('')).toMatch(/"message":"provider answer too large; refused".*"provider":"openai-image"/);
  // No retry on another key: the answer would be as large from any.
  expect(res.headers.get('x-nanobot-attempts')).toBe('1');
});
