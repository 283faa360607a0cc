import { startSandbox } from '../sandbox';
import { startDynalite } from '../local/dynamo';
import { startLocalStack } from '../local/stack';
import { MemoryLog } from '../../lambda/observability/logger';
import { countCommands, fmt, mdTable, quantile, Scenario, sleep } from './lib';

/**
 * Health recording on vs off, side by side: two gateways on the same sandbox and dynalite, each
 * sent 50 requests/s (open loop, interleaved) for the same period; request latency of each, and
 * DynamoDB writes per request of the recording one.
 */
export const healthScenario: Scenario = {
  name: 'health',
  title: 'Health recording: latency on vs off, DynamoDB writes per request',
  async run() {
    const seconds = Number(process.env.BENCH_HEALTH_SECONDS ?? 30);
    const rate = 50;
    const sandbox = await startSandbox({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
    const dynamo = await startDynalite();
    const env = (recording: string) => ({
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      OPENAI_API_KEYS: sandbox.defaultKeys.openai.join(','),
      OPENAI_BASE_URL: sandbox.urls.openai,
      HEALTH_RECORDING: recording,
      PROBE_INTERVAL_MS: '0',
    });
    const on = await startLocalStack({ port: 0, sandbox, env: env('on'), log: new MemoryLog() });
    const off = await startLocalStack({ port: 0, sandbox, env: env('off'), log: new MemoryLog() });
    const commands = countCommands(on.runtime.ddb);
    const body = JSON.stringify({ model: 'tts-1', input: 'benchmark', voice: 'alloy' });
    const send = async (url: string, out: number[], fails: number[]) => {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      out.push(performance.now() - t0);
      if (res.status !== 200) fails.push(res.status);
    };
    const latOn: number[] = [];
    const latOff: number[] = [];
    const fails: number[] = [];
    // Warm-up, not measured.
    for (let i = 0; i < 50; i++) await Promise.all([send(on.url, [], fails), send(off.url, [], fails)]);
    const inflight: Promise<void>[] = [];
    const start = performance.now();
    const total = seconds * rate;
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      // Alternate which one goes first, so neither always has the head start.
      const pair = i % 2 === 0 ? [send(on.url, latOn, fails), send(off.url, latOff, fails)] : [send(off.url, latOff, fails), send(on.url, latOn, fails)];
      inflight.push(...pair);
    }
    await Promise.all(inflight);
    const elapsed = (performance.now() - start) / 1000;
    await on.runtime.flusher.flush();
    const requestsOn = latOn.length + 50; // warm-up requests were recorded too
    const count = (...names: string[]) => names.reduce((n, k) => n + (commands[k] ?? 0), 0);
    const writes = count('UpdateCommand', 'UpdateItemCommand', 'PutCommand', 'PutItemCommand');
    const reads = count('QueryCommand');
    const recorded = on.runtime.flusher.stats;
    await on.close();
    await off.close();
    await sandbox.close();
    await dynamo.close();

    // A/A noise: the same "off" samples split by parity.
    const even = latOff.filter((_, i) => i % 2 === 0);
    const odd = latOff.filter((_, i) => i % 2 === 1);
    const noiseP50 = Math.abs(quantile(even, 0.5) - quantile(odd, 0.5));
    const noiseP99 = Math.abs(quantile(even, 0.99) - quantile(odd, 0.99));
    const dP50 = quantile(latOn, 0.5) - quantile(latOff, 0.5);
    const dP99 = quantile(latOn, 0.99) - quantile(latOff, 0.99);
    const perReq = writes / requestsOn;
    const rows = [
      ['recording on', latOn.length, fmt(quantile(latOn, 0.5), 2), fmt(quantile(latOn, 0.99), 2), fmt(quantile(latOn, 1), 1)],
      ['recording off', latOff.length, fmt(quantile(latOff, 0.5), 2), fmt(quantile(latOff, 0.99), 2), fmt(quantile(latOff, 1), 1)],
      ['on − off', '', fmt(dP50, 2), fmt(dP99, 2), ''],
      ['A/A noise (off, even vs odd)', '', fmt(noiseP50, 2), fmt(noiseP99, 2), ''],
    ];
    const within = Math.abs(dP50) <= Math.max(noiseP50, 0.1) * 3;
    return {
      table: `${mdTable(['gateway', 'requests', 'p50 ms', 'p99 ms', 'max ms'], rows)}\n\n${mdTable(['DynamoDB (recording gateway)', 'count', 'per request'], [
        ['writes (UpdateItem + PutItem)', writes, fmt(perReq, 4)],
        ['reads (Query, for STATUS)', reads, fmt(reads / requestsOn, 4)],
        ['flushes', recorded.flushes, ''],
        ['errors / dropped buckets', `${recorded.errors} / ${recorded.droppedBuckets}`, ''],
        ['non-200 answers (both gateways)', fails.length, ''],
      ])}`,
      summary: `p50 on − off = ${fmt(dP50, 2)} ms (A/A noise ${fmt(noiseP50, 2)} ms: ${within ? 'within noise' : 'ABOVE noise'}); ${fmt(perReq, 4)} DynamoDB writes per request at ${rate} req/s for ${fmt(elapsed, 0)} s (target ≤ 0.2: ${perReq <= 0.2 ? 'met' : 'MISSED'}).`,
      notes: `Method: two local gateways (HEALTH_RECORDING=on/off) on one sandbox (no rate limits) and one dynalite; ${rate} requests/s to each, open loop, interleaved, for ${seconds} s after 50 warm-up pairs; latency is client-observed (loopback). The recording one flushes after responses at most every 10 s (STATUS at most every 20 s per provider), as in Lambda. Writes counted at the SDK client.`,
    };
  },
};
