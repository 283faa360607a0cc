/**
 * Provider sandbox, speech wire: answers sized by input and format, chunked, deterministic, paced in
 * 'realistic' timing, with first/last byte times in the call log; big, slow and broken answers.
 * Real HTTP on loopback with global fetch.
 */
import { createHash } from 'node:crypto';
import { startSandbox, type Sandbox } from '../../scripts/sandbox';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ timing: 'fast', defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(() => sb.reset());

const OA = 'sk-sandbox-openai-key-1-5f0c3a9e71d24b86';
const EL = 'sandboxe100000000000000000000001';
const VOICE = '21m00Tcm4TlvDq8ikWAM';

function post(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
const speech = (s: Sandbox, body: Record<string, unknown>, key = OA): Promise<Response> =>
  post(`${s.urls.openai}/audio/speech`, { authorization: `Bearer ${key}` }, { model: 'tts-1', voice: 'alloy', ...body });
const tts = (s: Sandbox, body: Record<string, unknown>, query = '', stream = false, key = EL): Promise<Response> =>
  post(`${s.urls.elevenlabs}/v1/text-to-speech/${VOICE}${stream ? '/stream' : ''}${query}`, { 'xi-api-key': key }, { model_id: 'eleven_flash_v2_5', ...body });
const bytes = async (r: Response): Promise<Buffer> => Buffer.from(await r.arrayBuffer());
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const text = (n: number): string => 'The quick brown fox jumps. '.repeat(Math.ceil(n / 27)).slice(0, n);

describe('speech sizes follow the input and the format', () => {
  it('OpenAI: 4,096 characters of pcm are 13,107,200 bytes (24 kHz 16-bit mono, 15 characters a second), chunked', async () => {
    const r = await speech(sb, { input: text(4096), response_format: 'pcm' });
    expect(r.status).toBe(200);
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    expect(r.headers.get('content-length')).toBeNull();
    expect((await bytes(r)).length).toBe(13_107_200); // 4096 / 15 s × 48,000 B/s
  });

  it('OpenAI: wav adds a 44-byte header that declares the data; mp3 is 16 kB/s of MPEG frames; speed shortens', async () => {
    const wav = await bytes(await speech(sb, { input: text(600), response_format: 'wav' }));
    expect(wav.length).toBe(40 * 48_000 + 44);
    expect([wav.subarray(0, 4).toString(), wav.subarray(8, 12).toString(), wav.readUInt32LE(24), wav.readUInt32LE(40)]).toEqual(['RIFF', 'WAVE', 24000, wav.length - 44]);
    const mp3 = await bytes(await speech(sb, { input: text(600) }));
    expect(mp3.length).toBe(40 * 16_000);
    expect([mp3[0], (mp3[1] ?? 0) & 0xe0]).toEqual([0xff, 0xe0]);
    const fast = await bytes(await speech(sb, { input: text(600), speed: 2, response_format: 'pcm' }));
    expect(fast.length).toBe(20 * 48_000);
    const opus = await bytes(await speech(sb, { input: text(600), response_format: 'opus' }));
    expect([opus.length, opus.subarray(0, 4).toString()]).toEqual([40 * 8000, 'OggS']);
    const flac = await bytes(await speech(sb, { input: text(600), response_format: 'flac' }));
    expect([flac.length, flac.subarray(0, 4).toString(), flac.indexOf('fLaC', 4)]).toEqual([40 * 30_000, 'fLaC', -1]); // one header, frames repeated
  });

  it('OpenAI: up to 15 characters (1 s of speech) keep the 1 s tone of earlier versions', async () => {
    expect((await bytes(await speech(sb, { input: 'hello there', response_format: 'pcm' }))).length).toBe(48_000);
    expect((await bytes(await speech(sb, { input: text(15), response_format: 'pcm' }))).length).toBe(48_000);
    expect((await bytes(await speech(sb, { input: text(30), response_format: 'pcm' }))).length).toBe(96_000);
  });

  it('the same request gives the same bytes; another input other bytes', async () => {
    const a = await bytes(await speech(sb, { input: text(300), response_format: 'pcm' }));
    const b = await bytes(await speech(sb, { input: text(300), response_format: 'pcm' }));
    const c = await bytes(await speech(sb, { input: text(299) + '!', response_format: 'pcm' }));
    expect(sha(a)).toBe(sha(b));
    expect(a.length).toBe(c.length);
    expect(sha(a)).not.toBe(sha(c));
    const e1 = await bytes(await tts(sb, { text: text(300) }, '?output_format=pcm_16000'));
    const e2 = await bytes(await tts(sb, { text: text(300) }, '?output_format=pcm_16000', true));
    expect(sha(e1)).toBe(sha(e2));
  });

  it('OpenAI SSE (gpt-4o-mini-tts) carries the sized audio in speech.audio.delta events', async () => {
    const r = await speech(sb, { model: 'gpt-4o-mini-tts', input: text(150), response_format: 'pcm', stream_format: 'sse' });
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await r.text())
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => JSON.parse(e.slice(6)) as { type: string; audio?: string });
    const audio = Buffer.concat(events.filter((e) => e.type === 'speech.audio.delta').map((e) => Buffer.from(e.audio ?? '', 'base64')));
    expect(audio.length).toBe(10 * 48_000);
    expect(events.at(-1)?.type).toBe('speech.audio.done');
  });

  it('ElevenLabs: mp3_44100_128 is 16 kB/s, pcm at its rate, wav with a header, μ-law 8 kB/s; voice speed counts', async () => {
    const t = text(1500); // 100 s
    const sizes: [string, number][] = [
      ['', 1_600_000],
      ['?output_format=mp3_22050_32', 400_000],
      ['?output_format=pcm_16000', 3_200_000],
      ['?output_format=wav_22050', 4_410_000 + 44],
      ['?output_format=ulaw_8000', 800_000],
      ['?output_format=opus_48000_64', 800_000],
    ];
    for (const [query, size] of sizes) {
      const r = await tts(sb, { text: t }, query);
      expect([query, r.status, r.headers.get('transfer-encoding'), (await bytes(r)).length]).toEqual([query, 200, 'chunked', size]);
    }
    const slow = await tts(sb, { text: t, voice_settings: { speed: 0.8 } }, '?output_format=pcm_16000');
    expect((await bytes(slow)).length).toBe(4_000_000);
  });

  it('ElevenLabs /stream takes the same body and query, and validates optimize_streaming_latency 0-4', async () => {
    const r = await tts(sb, { text: text(300) }, '?output_format=mp3_44100_128&optimize_streaming_latency=3', true);
    expect([r.status, r.headers.get('content-type'), r.headers.get('transfer-encoding'), r.headers.get('character-cost')]).toEqual([200, 'audio/mpeg', 'chunked', '300']);
    expect((await bytes(r)).length).toBe(320_000);
    const bad = await tts(sb, { text: 'hi' }, '?optimize_streaming_latency=5', true);
    expect(bad.status).toBe(422);
    expect(await bad.json()).toEqual({ detail: [{ loc: ['query', 'optimize_streaming_latency'], msg: 'ensure this value is less than or equal to 4', type: 'value_error.number.not_le' }] });
    expect((await tts(sb, { text: 'hi' }, '?optimize_streaming_latency=x')).status).toBe(422);
  });
});

describe('timing', () => {
  it("'fast' (the default) sends at once and records when the first and last byte left", async () => {
    const r = await speech(sb, { input: text(600), response_format: 'pcm' });
    const body = await bytes(r);
    const rec = sb.log().at(-1);
    expect(rec).toBeDefined();
    const { startedAt = 0, firstByteAt = 0, lastByteAt = 0, bytesSent } = rec ?? {};
    expect(bytesSent).toBe(body.length);
    expect(firstByteAt).toBeGreaterThanOrEqual(startedAt);
    expect(lastByteAt).toBeGreaterThanOrEqual(firstByteAt);
    expect(firstByteAt - startedAt).toBeLessThan(250);
  });

  it("'realistic' holds the first chunk for firstByteMs, then paces the rest faster than real time", async () => {
    const rt = await startSandbox({ timing: 'realistic', realisticTiming: { firstByteMs: 300, speedup: 20 }, defaultRateLimit: { openai: null } });
    try {
      const t0 = Date.now();
      const r = await speech(rt, { input: text(150), response_format: 'pcm' }); // 10 s of audio: 0.5 s at 20×
      const headersAt = Date.now() - t0;
      const reader = r.body?.getReader();
      let got = 0;
      let reads = 0;
      for (;;) {
        const { done, value } = (await reader?.read()) ?? { done: true, value: undefined };
        if (done) break;
        got += value.length;
        reads++;
      }
      const doneAt = Date.now() - t0;
      expect(got).toBe(480_000);
      expect(headersAt).toBeGreaterThanOrEqual(280);
      expect(doneAt).toBeGreaterThanOrEqual(700); // 300 ms + ~475 ms of pacing
      expect(doneAt).toBeLessThan(5000);
      expect(reads).toBeGreaterThan(10);
      const rec = rt.log().at(-1);
      const first = (rec?.firstByteAt ?? 0) - (rec?.startedAt ?? 0);
      const last = (rec?.lastByteAt ?? 0) - (rec?.startedAt ?? 0);
      expect(first).toBeGreaterThanOrEqual(290);
      expect(last - first).toBeGreaterThanOrEqual(400);
      // JSON answers are not delayed; setTiming switches at run time.
      rt.setTiming('fast');
      const t1 = Date.now();
      await bytes(await speech(rt, { input: text(150), response_format: 'pcm' }));
      expect(Date.now() - t1).toBeLessThan(250);
    } finally {
      await rt.close();
    }
  });
});

describe('big, slow and broken answers', () => {
  it('body_size: a 50 MB speech answer, exactly', async () => {
    sb.injectFaults('openai', [{ kind: 'body_size', bytes: 50_000_000 }]);
    const r = await speech(sb, { input: 'short', response_format: 'wav' });
    const wav = await bytes(r);
    expect(wav.length).toBe(50_000_000);
    expect(wav.readUInt32LE(40)).toBe(50_000_000 - 44);
    sb.injectFaults('elevenlabs', [{ kind: 'body_size', bytes: 1_000_001 }]);
    expect((await bytes(await tts(sb, { text: 'hi' }))).length).toBe(1_000_001);
  });

  it('body_size: a gpt-image-1 answer of about 16 MB, n images of valid (padded) PNGs', async () => {
    sb.injectFaults('openai', [{ kind: 'body_size', bytes: 16_000_000 }]);
    const r = await post(`${sb.urls.openai}/images/generations`, { authorization: `Bearer ${OA}` }, { model: 'gpt-image-1', prompt: 'a big fox', n: 4 });
    const raw = await r.text();
    expect(Math.abs(raw.length - 16_000_000)).toBeLessThan(160_000);
    const body = JSON.parse(raw) as { data: { b64_json: string }[] };
    expect(body.data).toHaveLength(4);
    for (const item of body.data) {
      const img = Buffer.from(item.b64_json, 'base64');
      expect(img.length).toBeGreaterThan(2_900_000);
      expect(img.subarray(1, 4).toString()).toBe('PNG');
      expect(img.subarray(-8, -4).toString()).toBe('IEND');
    }
    // A jpeg answer is padded with comment segments and still starts and ends like a JPEG.
    sb.injectFaults('openai', [{ kind: 'body_size', bytes: 2_000_000 }]);
    const j = (await (await post(`${sb.urls.openai}/images/generations`, { authorization: `Bearer ${OA}` }, { model: 'gpt-image-1', prompt: 'x', output_format: 'jpeg' })).json()) as { data: { b64_json: string }[] };
    const jpg = Buffer.from(j.data[0]?.b64_json ?? '', 'base64');
    expect([jpg[0], jpg[1], jpg.at(-2), jpg.at(-1)]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
    expect(jpg.length).toBeGreaterThan(1_400_000);
  });

  it('midstream_reset: a 200 whose connection dies after K bytes (recorded with bytesSent)', async () => {
    sb.injectFaults('elevenlabs', [{ kind: 'midstream_reset', afterBytes: 100_000 }]);
    const r = await tts(sb, { text: text(600) }, '?output_format=pcm_24000');
    expect(r.status).toBe(200);
    const reader = r.body?.getReader();
    let got = 0;
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = (await reader?.read()) ?? { done: true, value: undefined };
          if (done) return;
          got += value.length;
        }
      })(),
    ).rejects.toThrow();
    expect(got).toBeLessThanOrEqual(100_000);
    await new Promise((res) => setTimeout(res, 50));
    expect(sb.log().at(-1)).toMatchObject({ status: 200, bytesSent: 100_000 });
    // A JSON answer too (its Content-Length promises more than arrives).
    sb.injectFaults('openai', [{ kind: 'midstream_reset', afterBytes: 10, pathIncludes: '/images/' }]);
    const img = await post(`${sb.urls.openai}/images/generations`, { authorization: `Bearer ${OA}` }, { prompt: 'x' });
    expect(img.status).toBe(200);
    await expect(img.text()).rejects.toThrow();
  });

  it('slow_headers: a generation that takes N seconds before its headers', async () => {
    sb.injectFaults('openai', [{ kind: 'slow_headers', delayMs: 400, key: OA }]);
    const other = await speech(sb, { input: 'hi' }, 'sk-another-key-0123456789abcdef');
    expect(other.status).toBe(200); // the fault waits for OA
    await bytes(other);
    const t0 = Date.now();
    const r = await speech(sb, { input: 'hi' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(r.status).toBe(200);
  });
});
