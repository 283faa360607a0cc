import { agent, Answer, request } from './client';
import { fmt, mdTable, quantile, Scenario, sleep } from './lib';
import { forkTs } from './procs';
import { gatewayEnv, GatewayChild, SandboxChild, startGatewayChild, startSandboxChild } from './rig';

type Mode = '5xx' | 'revoked';

interface Sent {
  kind: 'tts' | 'image';
  /** `fallback`: the primary's model (may fall back); `control`: the alternative's model, asked for directly. */
  path: 'fallback' | 'control';
  phase: 'warmup' | 'outage' | 'healed';
  at: number;
  a: Answer;
}

const OUTAGE_MS = Number(process.env.BENCH_OUTAGE_MS ?? 30_000);
const WARMUP_MS = 5_000;
const RETRY_DOWN_MS = 20_000;
const CHAINS = { 'tts-1': ['eleven_turbo_v2_5'], 'dall-e-3': ['fal-ai/flux/dev'] };
const BODY = {
  tts: { fallback: { model: 'tts-1', input: 'The sandbox is down, the alternative speaks.', voice: 'alloy' }, control: { model: 'eleven_turbo_v2_5', input: 'The sandbox is down, the alternative speaks.', voice: '21m00Tcm4TlvDq8ikWAM' } },
  image: { fallback: { model: 'dall-e-3', prompt: 'a lighthouse in a storm', size: '1024x1024' }, control: { model: 'fal-ai/flux/dev', prompt: 'a lighthouse in a storm', size: '1024x1024' } },
};

/** 100 TTS and 50 image requests over the outage at a steady rate (2 TTS : 1 image), plus direct calls to the alternatives. */
async function drive(gw: GatewayChild, sb: SandboxChild, mode: Mode): Promise<{ sent: Sent[]; healedAt: number; outageAt: number }> {
  const a = agent(64);
  const sent: Promise<Sent>[] = [];
  const t0 = performance.now();
  const send = (kind: 'tts' | 'image', path: Sent['path'], phase: Sent['phase']) => {
    const at = performance.now() - t0;
    const url = `${gw.info.url}${kind === 'tts' ? '/v1/audio/speech' : '/v1/images/generations'}`;
    sent.push(request(url, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODY[kind][path]), agent: a, timeoutMs: 30_000 }).then((ans) => ({ kind, path, phase, at, a: ans })));
  };
  const tick = OUTAGE_MS / 150;
  const run = async (phase: Sent['phase'], ms: number) => {
    for (let i = 0; i * tick < ms; i++) {
      send(i % 3 === 2 ? 'image' : 'tts', 'fallback', phase);
      if (i % 3 === 0) send(i % 6 === 0 ? 'tts' : 'image', 'control', phase);
      await sleep(tick);
    }
  };
  await run('warmup', WARMUP_MS);
  const keys = sb.info.defaultKeys.openai;
  const outageAt = performance.now() - t0;
  if (mode === '5xx') await sb.call('injectFaults', 'openai', [{ kind: 'status', status: 500, times: 1_000_000 }]);
  else for (const k of keys) await sb.call('revokeKey', 'openai', k);
  await run('outage', OUTAGE_MS);
  const healedAt = performance.now() - t0;
  if (mode === '5xx') await sb.call('reset'); // clears the queued faults (and the sandbox's rules and records)
  else for (const k of keys) await sb.call('restoreKey', 'openai', k);
  await run('healed', RETRY_DOWN_MS + 10_000);
  return { sent: await Promise.all(sent), healedAt, outageAt };
}

async function one(mode: Mode, dynamoEndpoint: string) {
  const sb = await startSandboxChild({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
  const env = gatewayEnv(sb.info, dynamoEndpoint, {}, {
    TABLE_NAME: `outage-${mode}-${Date.now()}`,
    MODEL_FALLBACKS: JSON.stringify(CHAINS),
    VOICE_MAP: JSON.stringify({ alloy: '21m00Tcm4TlvDq8ikWAM' }),
    MAX_ATTEMPTS: '3',
    FALLBACK_RETRY_DOWN_MS: String(RETRY_DOWN_MS),
    FALLBACK_STATUS_REFRESH_MS: '1000',
    // A revoked key is disabled: the key probes (every 5 s here; deployed, the schedule's period) re-enable it once it passes again.
    ...(mode === 'revoked' ? { PROBE_INTERVAL_MS: '5000' } : {}),
  });
  const gw = await startGatewayChild(env, Object.values(sb.info.defaultKeys).flat());
  const r = await drive(gw, sb, mode);
  await gw.close();
  await sb.close();
  return r;
}

function summarize(mode: Mode, r: Awaited<ReturnType<typeof one>>) {
  const outage = r.sent.filter((s) => s.phase === 'outage' && s.path === 'fallback');
  const served = outage.filter((s) => s.a.status === 200).length;
  const by = (s: Sent) => String(s.a.headers['x-nanobot-provider'] ?? '');
  const fellBack = outage.filter((s) => s.a.headers['x-nanobot-fallback-from'] !== undefined);
  // Skipped at once: fell back with the alternative's single attempt (the primary never called).
  const skipped = fellBack.filter((s) => s.a.headers['x-nanobot-attempts'] === '1');
  const added: Record<string, number> = {};
  const rows: (string | number)[][] = [];
  for (const kind of ['tts', 'image'] as const) {
    const skip = skipped.filter((s) => s.kind === kind).map((s) => s.a.ms);
    const control = r.sent.filter((s) => s.kind === kind && s.path === 'control' && s.phase === 'outage' && s.a.status === 200).map((s) => s.a.ms);
    const tried = fellBack.filter((s) => s.kind === kind && s.a.headers['x-nanobot-attempts'] !== '1').map((s) => s.a.ms);
    added[kind] = quantile(skip, 0.5) - quantile(control, 0.5);
    const all = outage.filter((s) => s.kind === kind);
    rows.push([`${mode} ${kind}`, all.length, all.filter((s) => s.a.status === 200).length, fellBack.filter((s) => s.kind === kind).length, skip.length, fmt(quantile(tried, 0.5)), fmt(quantile(skip, 0.5)), fmt(quantile(skip, 0.95)), fmt(quantile(control, 0.5)), fmt(added[kind])]);
  }
  const firstSkip = skipped.length ? Math.min(...skipped.map((s) => s.at)) - r.outageAt : Number.NaN;
  // Per route (each provider has its own STATUS and trial): healing → the first request served by OpenAI without a fallback.
  const recovery = (kind: Sent['kind']) => {
    const back = r.sent.filter((s) => s.kind === kind && s.phase === 'healed' && s.path === 'fallback' && s.a.status === 200 && s.a.headers['x-nanobot-fallback-from'] === undefined && by(s).startsWith('openai'));
    const ms = back.length ? Math.min(...back.map((s) => s.at)) - r.healedAt : Number.NaN;
    const after = r.sent.filter((s) => s.kind === kind && s.phase === 'healed' && s.path === 'fallback' && s.at - r.healedAt > ms);
    return { ms, stayed: after.filter((s) => by(s).startsWith('openai')).length, after: after.length };
  };
  const rec = { tts: recovery('tts'), image: recovery('image') };
  const recoveryMs = Math.max(rec.tts.ms, rec.image.ms);
  return { rows, served, total: outage.length, added, firstSkip, recoveryMs, rec };
}

/** The OpenAI sandbox down (5xx on every call, or every key revoked) for 30 s under steady TTS and image traffic. */
export const outageScenario: Scenario = {
  name: 'outage',
  title: 'Provider outage: fallback chains (tts-1 → eleven_turbo_v2_5, dall-e-3 → fal-ai/flux/dev), 30 s of OpenAI down',
  async run() {
    const modes = (process.env.BENCH_OUTAGE_MODES ?? '5xx,revoked').split(',') as Mode[];
    const dynamo = await forkTs<{ endpoint: string }>('dynamo-child.ts', {});
    const results = [];
    for (const mode of modes) results.push({ mode, ...summarize(mode, await one(mode, dynamo.info.endpoint)) });
    await dynamo.close();
    const rows = results.flatMap((r) => r.rows);
    const table = [
      mdTable(['mode / route', 'requests in the outage', 'served (200)', 'fell back', 'primary skipped (STATUS down)', 'p50 ms, primary tried first', 'p50 ms, primary skipped', 'p95 ms, primary skipped', 'p50 ms, alternative asked directly', 'added p50 ms (skipped − direct)'], rows),
      '',
      mdTable(['mode', 'served', 'first skip after outage start, s', 'TTS back on OpenAI after healing, s', 'TTS on OpenAI afterwards', 'images back on OpenAI after healing, s', 'images on OpenAI afterwards'],
        results.map((r) => [r.mode, `${r.served}/${r.total}`, fmt(r.firstSkip / 1000), fmt(r.rec.tts.ms / 1000), `${r.rec.tts.stayed}/${r.rec.tts.after}`, fmt(r.rec.image.ms / 1000), `${r.rec.image.stayed}/${r.rec.image.after}`])),
    ].join('\n');
    const servedAll = results.every((r) => r.served === r.total);
    const addedOk = results.every((r) => Object.values(r.added).every((v) => !(v > 50)));
    const recovered = results.every((r) => r.recoveryMs <= RETRY_DOWN_MS);
    return {
      table,
      summary: results.map((r) => `${r.mode}: ${r.served}/${r.total} served, added ${fmt(r.added.tts)} ms (TTS) / ${fmt(r.added.image)} ms (images) once skipped, back on OpenAI ${fmt(r.recoveryMs / 1000)} s after healing`).join('; ') +
        ` — goals: 100 % served ${servedAll ? 'met' : 'missed'}; ≤ 50 ms added ${addedOk ? 'met' : 'missed'}; recovery within one interval (${RETRY_DOWN_MS / 1000} s) ${recovered ? 'met' : 'missed'}.`,
      notes: `Method: sandbox (fast timing), our gateway (local server, health recording on, MAX_ATTEMPTS=3, FALLBACK_RETRY_DOWN_MS=${RETRY_DOWN_MS}, FALLBACK_STATUS_REFRESH_MS=1000) and dynalite each in its own process. ${WARMUP_MS / 1000} s of healthy traffic, then ${OUTAGE_MS / 1000} s of outage with 150 requests at a steady rate (100 tts-1, 50 dall-e-3), plus a direct request to the alternative model through the gateway every third tick (the baseline of "added"), then ${(RETRY_DOWN_MS + 10_000) / 1000} s healed. 5xx: every OpenAI call answers 500 until healed; revoked: every OpenAI key revoked (401, so disabled: no usable key) until restored (the key probes run every 5 s in this mode and re-enable a key once its probe passes; deployed, at the schedule's period). "Primary skipped": fell back with one attempt in all (the alternative's) — STATUS down (5xx) or no usable key (revoked). Recovery, per route: from healing to the first request served by OpenAI again without a fallback.`,
    };
  },
};
