import { randomBytes } from 'node:crypto';
import { startDynalite } from '../local/dynamo';
import type { CallRecord } from '../sandbox';
import { agent, request } from './client';
import { fmt, mdTable, quantile, Scenario, sleep } from './lib';
import { gatewayEnv, startGatewayChild, startSandboxChild } from './rig';

const KEYS = 3;
const CONCURRENCY = 2;
const BURSTS = 3;
const BURST = 20;
const GAP_MS = 3_000;

interface Run {
  label: string;
  statuses: number[];
  ms: number[];
  calls: CallRecord[];
}

/** Bursts of 20 ElevenLabs speech requests on keys each allowed 2 concurrent requests (answers streamed at a realistic pace). */
async function runOne(label: string, keys: string[], extra: Record<string, string>): Promise<Run> {
  const dynamo = await startDynalite();
  const sb = await startSandboxChild({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null }, timing: 'realistic', realisticTiming: { firstByteMs: 300, speedup: 6 } });
  for (const k of keys) await sb.call('configureKey', 'elevenlabs', k, { concurrency: CONCURRENCY });
  const gw = await startGatewayChild(gatewayEnv(sb.info, dynamo.endpoint, { elevenlabs: keys }, extra), keys);
  const body = JSON.stringify({ model: 'eleven_turbo_v2_5', input: 'A short line of speech for the burst.', voice: 'JBFqnCBsd6RMkjVDRZzb' });
  const ag = agent(BURST);
  const statuses: number[] = [];
  const ms: number[] = [];
  for (let b = 0; b < BURSTS; b++) {
    const answers = await Promise.all(Array.from({ length: BURST }, () => request(`${gw.info.url}/v1/audio/speech`, { headers: { 'content-type': 'application/json' }, body, agent: ag, timeoutMs: 60_000 })));
    for (const a of answers) {
      statuses.push(a.status);
      ms.push(a.ms);
    }
    await sleep(GAP_MS);
  }
  ag.destroy();
  const calls = await sb.call<CallRecord[]>('log', 0);
  await gw.close();
  await sb.close();
  await dynamo.close();
  return { label, statuses, ms, calls };
}

/**
 * ElevenLabs concurrency: 3 keys × 2 concurrent requests, 3 bursts of 20 speech requests. Ours with
 * the admission queue (the defaults) beside ours without it (MAX_QUEUE_LENGTH=0, the behaviour
 * before the queue): upstream 429s (`too_many_concurrent_requests`) and what the clients got.
 */
export const concurrencyScenario: Scenario = {
  name: 'concurrency',
  title: `ElevenLabs concurrency: ${KEYS} keys × ${CONCURRENCY} concurrent, ${BURSTS} bursts of ${BURST}`,
  async run() {
    const keys = Array.from({ length: KEYS }, () => `el${randomBytes(16).toString('hex')}`);
    const runs = [await runOne('ours (admission queue)', keys, {}), await runOne('ours, no queue (MAX_QUEUE_LENGTH=0)', keys, { MAX_QUEUE_LENGTH: '0' })];
    const rows = runs.map((r) => {
      const served = r.statuses.filter((s) => s === 200).length;
      const wasted = r.calls.filter((c) => c.vendor === 'elevenlabs' && c.status === 429).length;
      const servedMs = r.ms.filter((_, i) => r.statuses[i] === 200);
      return [r.label, served, r.statuses.length - served, r.calls.filter((c) => c.vendor === 'elevenlabs').length, wasted, `${fmt(quantile(servedMs, 0.5), 0)} / ${fmt(quantile(servedMs, 0.99), 0)} / ${fmt(Math.max(...servedMs), 0)}`];
    });
    const oursWasted = rows[0][4];
    return {
      table: mdTable(['gateway', 'served', 'refused', 'upstream calls', 'upstream 429s', 'served ms p50 / p99 / max'], rows),
      summary: `ours with the queue: ${rows[0][1]} of ${BURSTS * BURST} served, ${oursWasted} upstream 429s (target 0: ${oursWasted === 0 ? 'met' : 'MISSED'}); without it: ${rows[1][1]} served, ${rows[1][4]} upstream 429s.`,
      notes:
        `Method: ${KEYS} ElevenLabs keys, each limited in the sandbox to ${CONCURRENCY} concurrent requests (its 429 \`too_many_concurrent_requests\` with \`current-concurrent-requests\` / \`maximum-concurrent-requests\`); ` +
        `speech answers paced realistically (first byte after 300 ms, audio 6× faster than real time), so a request holds its slot while its body streams. ` +
        `${BURSTS} bursts of ${BURST} \`POST /v1/audio/speech\` (\`eleven_turbo_v2_5\`), ${GAP_MS / 1000} s apart; each run on a fresh sandbox, gateway and dynalite. ` +
        'The queue learns each key\'s limit from `maximum-concurrent-requests` on its first answer (a fresh key takes one probe first).',
    };
  },
};
