import { spawn } from 'node:child_process';
import { DEFAULT_KEYS } from '../../scripts/sandbox';

/**
 * `npm start` as a newcomer runs it: no keys, no AWS. The real entry point in a child process:
 * it must print where it listens and a first curl, serve speech from the sandbox, stop cleanly on
 * SIGTERM, and never print a key.
 */
test('npm start: embedded defaults, first curl, audio, clean stop, no key in its output', async () => {
  const env: Record<string, string | undefined> = { ...process.env, PORT: '0' };
  for (const v of ['OPENAI_API_KEYS', 'OPENAI_API_KEY', 'ELEVENLABS_API_KEYS', 'ELEVENLABS_API_KEY', 'FAL_KEYS', 'FAL_KEY', 'KLING_API_KEYS', 'KLING_API_KEY', 'DYNAMODB_ENDPOINT']) delete env[v];
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), 'scripts/local-server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const giveUp = setTimeout(() => {
        clearInterval(poll);
        reject(new Error(`no listening line in: ${out}`));
      }, 25_000);
      const poll = setInterval(() => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearInterval(poll);
          clearTimeout(giveUp);
          resolve(m[1]);
        }
      }, 50);
    });
    expect(out).toContain(`curl -sS ${url}/v1/audio/speech`);
    expect(out).toContain('provider sandbox for: openai, elevenlabs, fal, kling');
    expect(out).toContain('embedded dynalite');
    const res = await fetch(`${url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tts-1', input: 'Hello from nanobot', voice: 'alloy' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    // A burst past the sandbox's per-key limits: OpenAI's budget headers rest spent keys before
    // they 429; ElevenLabs shows its limits only as 429s, so its keys rotate. A client that prefers
    // a fast 429 to a place in the admission queue says so (the burst stays short).
    const headers = { 'content-type': 'application/json', 'x-nanobot-max-wait-ms': '0' };
    for (let i = 0; i < 12; i++) {
      await fetch(`${url}/v1/audio/speech`, { method: 'POST', headers, body: JSON.stringify({ model: 'tts-1', input: 'again', voice: 'alloy' }) });
      await fetch(`${url}/v1/audio/speech`, { method: 'POST', headers, body: JSON.stringify({ model: 'eleven_flash_v2_5', input: 'again', voice: 'JBFqnCBsd6RMkjVDRZzb' }) });
    }
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  expect(out).toContain('SIGTERM: stopping');
  expect(out).toContain('"message":"key rotated"');
  expect(out).toContain('"message":"key resting: request budget spent"');
  for (const keys of Object.values(DEFAULT_KEYS)) {
    for (const k of keys) for (const part of [k, ...k.split(':')]) expect(out).not.toContain(part);
  }
}, 60_000);
