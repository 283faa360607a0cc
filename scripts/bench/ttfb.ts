import http from 'node:http';
import { agent } from './client';
import { fmt, mdTable, quantile, Scenario, sleep } from './lib';
import { forkTs } from './procs';
import { gatewayEnv, startGatewayChild, startSandboxChild } from './rig';

/** Client-observed times of one streamed answer: to its first body byte and to its last. */
interface Timed {
  status: number;
  ttfbMs: number;
  totalMs: number;
  bytes: number;
  /** Wall-clock (sub-ms) send time and first-byte time, to line up with the sandbox's call record. */
  sentAt: number;
  firstAt: number;
  /** Time this path added around the provider: send → provider received + provider's first byte → client's first byte. */
  aroundMs?: number;
}

const wall = () => performance.timeOrigin + performance.now();

function timed(url: string, headers: Record<string, string>, body: string, a: http.Agent): Promise<Timed> {
  const t0 = performance.now();
  const sentAt = wall();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: a }, (res) => {
      let first = Number.NaN;
      let firstAt = Number.NaN;
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        if (Number.isNaN(first)) {
          first = performance.now() - t0;
          firstAt = wall();
        }
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ttfbMs: first, totalMs: performance.now() - t0, bytes, sentAt, firstAt }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

type Path = 'direct' | 'ours';
/** Rounds per vendor before measuring: the gateway's code paths warm up (JIT) and its connections open. */
const WARMUP = 6;
const VENDORS = ['openai', 'elevenlabs'] as const;

/**
 * Time to first byte and total time of 1,200-character speech, direct to the sandbox vs through
 * our gateway (realistic timing: first audio after 300 ms, then faster than real time), and the
 * gateway's RSS while it relays a 50 MB answer.
 */
export const ttfbScenario: Scenario = {
  name: 'ttfb',
  title: 'Streamed speech: time to first byte and total time, direct vs ours; RSS relaying 50 MB',
  async run() {
    const rounds = Number(process.env.BENCH_TTFB_ROUNDS ?? 15);
    // dynalite in its own process: the gateway's DynamoDB work must not run on the timing client's event loop.
    const dynamo = await forkTs<{ endpoint: string }>('dynamo-child.ts', {});
    const sb = await startSandboxChild({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null }, timing: 'realistic', realisticTiming: { firstByteMs: 300, speedup: 40 } });
    const ours = await startGatewayChild(gatewayEnv(sb.info, dynamo.info.endpoint, {}, { HEALTH_RECORDING: 'on', ...(process.env.BENCH_TTFB_SHARING === 'off' ? { KEY_STATE_SHARING: 'off' } : {}) }), Object.values(sb.info.defaultKeys).flat());
    const input = 'The quick brown fox jumps over the lazy dog, and keeps running. '.repeat(20).slice(0, 1200);
    const req = {
      openai: {
        direct: { url: `${sb.info.urls.openai}/audio/speech`, headers: { 'content-type': 'application/json', authorization: `Bearer ${sb.info.defaultKeys.openai[0]}` }, body: JSON.stringify({ model: 'tts-1', input, voice: 'alloy' }) },
        ours: { url: `${ours.info.url}/v1/audio/speech`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tts-1', input, voice: 'alloy' }) },
      },
      elevenlabs: {
        direct: { url: `${sb.info.urls.elevenlabs}/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb/stream?output_format=mp3_44100_128`, headers: { 'content-type': 'application/json', 'xi-api-key': sb.info.defaultKeys.elevenlabs[0] }, body: JSON.stringify({ text: input, model_id: 'eleven_flash_v2_5' }) },
        ours: { url: `${ours.info.url}/v1/audio/speech`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'eleven_flash_v2_5', input, voice: 'JBFqnCBsd6RMkjVDRZzb' }) },
      },
    };
    const got: Record<string, Timed[]> = {};
    const agents = { direct: agent(), ours: agent() };
    for (const v of VENDORS) {
      for (const p of ['direct', 'ours'] as Path[]) got[`${v}/${p}`] = [];
      for (let i = 0; i < rounds + WARMUP; i++) {
        for (const p of (Math.random() < 0.5 ? ['direct', 'ours'] : ['ours', 'direct']) as Path[]) {
          const r = req[v][p];
          const mark = (await sb.call<unknown[]>('log', 0)).length;
          const t = await timed(r.url, r.headers, r.body, agents[p]);
          if (t.status !== 200) throw new Error(`ttfb: ${v} ${p} answered ${t.status}`);
          const [rec] = await sb.call<{ startedAt: number; firstByteAt?: number }[]>('log', mark);
          // The provider's own time (request in → first byte out) taken away: what the path added.
          if (rec?.firstByteAt !== undefined) t.aroundMs = rec.startedAt - t.sentAt + (t.firstAt - rec.firstByteAt);
          if (i >= WARMUP) got[`${v}/${p}`].push(t); // warm-up rounds are not counted
        }
      }
    }

    // RSS while relaying 50 MB (fast timing: the client reads as fast as it can).
    await sb.call('setTiming', 'fast');
    await sb.call('injectFaults', 'openai', [{ kind: 'body_size', bytes: 50_000_000 }]);
    const before = (await ours.call<NodeJS.MemoryUsage>('memory', true)).rss;
    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await ours.call<NodeJS.MemoryUsage>('memory', false)).rss);
        await sleep(25);
      }
    })();
    const big = await timed(req.openai.ours.url, req.openai.ours.headers, JSON.stringify({ model: 'tts-1', input: 'a very long read', voice: 'alloy', response_format: 'pcm' }), agent());
    sampling = false;
    await sampler;
    const growthMiB = (peak - before) / 2 ** 20;

    await ours.close();
    await sb.close();
    await dynamo.close();

    const rows: (string | number)[][] = [];
    const added: Record<string, { ttfb: number; total: number; raw?: number }> = {};
    for (const v of VENDORS) {
      const d = got[`${v}/direct`];
      const o = got[`${v}/ours`];
      const q = (xs: Timed[], k: 'ttfbMs' | 'totalMs', p: number) => quantile(xs.map((x) => x[k]), p);
      const around = (xs: Timed[]) => quantile(xs.map((x) => x.aroundMs ?? Number.NaN), 0.5);
      added[v] = { ttfb: around(o) - around(d), total: q(o, 'totalMs', 0.5) - q(d, 'totalMs', 0.5), raw: q(o, 'ttfbMs', 0.5) - q(d, 'ttfbMs', 0.5) } as { ttfb: number; total: number; raw: number };
      for (const [label, xs] of [['direct', d], ['ours', o]] as const) {
        rows.push([`${v} ${label}`, xs.length, fmt(q(xs, 'ttfbMs', 0.5)), fmt(q(xs, 'ttfbMs', 0.95)), fmt(quantile(xs.map((x) => x.aroundMs ?? Number.NaN), 0.5)), fmt(q(xs, 'totalMs', 0.5)), fmt(q(xs, 'totalMs', 0.95)), xs[0].bytes]);
      }
      rows.push([`${v}: added by ours (p50)`, '', fmt(added[v].raw ?? Number.NaN), '', fmt(added[v].ttfb), fmt(added[v].total), '', '']);
    }
    const ttfbMet = VENDORS.every((v) => added[v].ttfb <= 5);
    const rssMet = growthMiB <= 10;
    const table = [
      mdTable(['path', 'samples', 'ttfb p50 ms', 'ttfb p95 ms', 'around the provider p50 ms', 'total p50 ms', 'total p95 ms', 'bytes'], rows),
      '',
      mdTable(['relaying one 50 MB answer', 'value'], [['bytes relayed', big.bytes], ['gateway RSS before (after GC), MiB', fmt(before / 2 ** 20)], ['gateway RSS peak while relaying, MiB', fmt(peak / 2 ** 20)], ['growth, MiB', fmt(growthMiB)], ['client time, s', fmt(big.totalMs / 1000, 2)]]),
    ].join('\n');
    return {
      table,
      summary: `added time to first byte p50: OpenAI ${fmt(added.openai.ttfb)} ms, ElevenLabs ${fmt(added.elevenlabs.ttfb)} ms (goal ≤ 5 ms: ${ttfbMet ? 'met' : 'missed'}); RSS growth relaying 50 MB: ${fmt(growthMiB)} MiB (goal ≤ 10 MiB: ${rssMet ? 'met' : 'missed'}).`,
      notes: `Method: ${rounds} rounds after ${WARMUP} warm-up rounds per vendor, direct and through our gateway in random order each round, one keep-alive node:http client per path, timed from send to the first and to the last body byte. The sandbox's own time to its first byte varies by ±10 ms between calls (timer jitter of its pacing), more than what is measured here, so the added time to first byte is taken per request around the provider: (provider received − client sent) + (client first byte − provider first byte), wall clocks of the two processes; the raw difference of the p50s is shown too. The sandbox answers 1,200 characters (about 80 s of mp3 audio) with its first chunk after 300 ms and the rest paced 40× faster than real time, in its own process; our gateway (the local server, health recording on) runs in its own process. RSS: the gateway process's resident set, sampled every 25 ms while it relayed a 50,000,000-byte pcm answer (sandbox fault \`body_size\`, timing fast), minus its RSS after a full GC just before.`,
    };
  },
};
