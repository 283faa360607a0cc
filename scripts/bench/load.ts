/**
 * `npm run test:load` (= tsx scripts/bench/load.ts): 200 concurrent clients for 60 s against our
 * gateway (the local server, in its own process) with a mixed key pool, loopback only. Asserts —
 * and records in docs/benchmarks.md (section `load`) — that every request is answered, the
 * gateway's RSS stays bounded, the health counts in DynamoDB equal the requests sent, and no key
 * appears in any answer or log line. Exits 1 if any of that fails. Not part of `npm test`.
 *
 * Env: LOAD_CLIENTS (default 200), LOAD_SECONDS (default 60).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { localClient, startDynalite } from '../local/dynamo';
import { agent, request } from './client';
import { fmt, mdTable, quantile, Scenario, ScenarioResult, sleep, writeSection } from './lib';
import { gatewayEnv, startGatewayChild, startSandboxChild } from './rig';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

type Provider = 'openai-image' | 'openai-tts' | 'elevenlabs-tts' | 'fal-flux' | 'invalid';

/** The traffic mix: weights, route and body per kind. Invalid requests are refused by validation (400, not counted in health). */
const MIX: { kind: Provider; weight: number; path: string; body: () => string }[] = [
  { kind: 'openai-image', weight: 45, path: '/v1/images/generations', body: () => JSON.stringify({ model: 'dall-e-3', prompt: 'a lighthouse under load', size: '1024x1024' }) },
  { kind: 'openai-tts', weight: 25, path: '/v1/audio/speech', body: () => JSON.stringify({ model: 'tts-1', input: 'load test', voice: 'alloy' }) },
  { kind: 'elevenlabs-tts', weight: 15, path: '/v1/audio/speech', body: () => JSON.stringify({ model: 'eleven_multilingual_v2', input: 'load test', voice: 'JBFqnCBsd6RMkjVDRZzb' }) },
  { kind: 'fal-flux', weight: 10, path: '/v1/images/generations', body: () => JSON.stringify({ model: 'fal-ai/flux/schnell', prompt: 'a fox under load', size: '1024x768' }) },
  { kind: 'invalid', weight: 5, path: '/v1/audio/speech', body: () => JSON.stringify({ model: 'tts-1', input: 'load test', voice: 'alloy', speed: 99 }) },
];
const TOTAL_WEIGHT = MIX.reduce((n, m) => n + m.weight, 0);
const PROVIDERS = ['openai-image', 'openai-tts', 'elevenlabs-tts', 'fal-flux'] as const;

function pickKind(): (typeof MIX)[number] {
  let r = Math.random() * TOTAL_WEIGHT;
  for (const m of MIX) {
    if (r < m.weight) return m;
    r -= m.weight;
  }
  return MIX[0];
}

interface Tally {
  sent: number;
  byStatus: Map<number, number>;
  ms: number[];
}

async function healthTotals(endpoint: string, provider: string): Promise<{ requests: number; successes: number; failures: number; rateLimited: number }> {
  const client = localClient(endpoint);
  try {
    const r = await client.send(new QueryCommand({ TableName: 'nanobot-config', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: `PROVIDER_HEALTH#${provider}` } } }));
    const s = { requests: 0, successes: 0, failures: 0, rateLimited: 0 };
    for (const it of (r.Items ?? []).map((i) => unmarshall(i))) {
      if (!String(it.sk).startsWith('BUCKET#')) continue;
      for (const k of Object.keys(s) as (keyof typeof s)[]) s[k] += Number(it[k] ?? 0);
    }
    return s;
  } finally {
    client.destroy();
  }
}

export const loadScenario: Scenario & { ok?: boolean } = {
  name: 'load',
  title: 'Load: 200 concurrent clients for 60 s, mixed key pool',
  async run(): Promise<ScenarioResult> {
    const clients = Number(process.env.LOAD_CLIENTS ?? 200);
    const seconds = Number(process.env.LOAD_SECONDS ?? 60);
    const rnd = () => randomBytes(10).toString('hex');
    const keys = {
      openai: Array.from({ length: 6 }, (_, i) => `sk-load-openai-${i + 1}-${rnd()}`),
      elevenlabs: Array.from({ length: 3 }, (_, i) => `loadelevenlabs${i + 1}x${rnd()}`),
      fal: Array.from({ length: 2 }, (_, i) => `load-fal-${i + 1}-${rnd()}:secret${rnd()}`),
    };
    const needles = [...keys.openai, ...keys.elevenlabs, ...keys.fal.flatMap((k) => [k, ...k.split(':')])];
    const dynamo = await startDynalite();
    const sb = await startSandboxChild({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
    // Mixed pool: two OpenAI keys and one ElevenLabs key are rate limited, the rest are not.
    await sb.call('configureKey', 'openai', keys.openai[0], { rateLimit: { calls: 40, windowMs: 5000 }, retryHint: 'seconds' });
    await sb.call('configureKey', 'openai', keys.openai[1], { rateLimit: { calls: 20, windowMs: 2000 }, retryHint: 'ms' });
    await sb.call('configureKey', 'elevenlabs', keys.elevenlabs[0], { rateLimit: { calls: 30, windowMs: 5000 }, retryHint: 'none' });
    for (const k of [...keys.openai.slice(2), ...keys.elevenlabs.slice(1)]) await sb.call('configureKey', k.startsWith('sk-') ? 'openai' : 'elevenlabs', k, {});
    for (const k of keys.fal) await sb.call('configureKey', 'fal', k, {});
    const gw = await startGatewayChild(gatewayEnv(sb.info, dynamo.endpoint, keys, { COOLDOWN_DEFAULT_MS: '1000' }), needles);

    const tallies = new Map<Provider, Tally>(MIX.map((m) => [m.kind, { sent: 0, byStatus: new Map(), ms: [] }]));
    const leaks = new Set<string>();
    let unanswered = 0;
    const unansweredSamples: string[] = [];
    const ag = agent(clients);
    const rss: { t: number; rss: number; heap: number }[] = [];
    const startMem = await gw.call<NodeJS.MemoryUsage>('memory', true);
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = await gw.call<NodeJS.MemoryUsage>('memory', false);
        rss.push({ t: (performance.now() - t0) / 1000, rss: m.rss, heap: m.heapUsed });
        await sleep(1000);
      }
    })();
    const client = async () => {
      while (performance.now() < until) {
        const m = pickKind();
        const t = tallies.get(m.kind)!;
        t.sent += 1;
        const a = await request(`${gw.info.url}${m.path}`, { headers: { 'content-type': 'application/json' }, body: m.body(), agent: ag, timeoutMs: 30_000 });
        if (a.status === 0) {
          unanswered += 1;
          if (unansweredSamples.length < 5) unansweredSamples.push(a.error ?? 'no answer');
        }
        t.byStatus.set(a.status, (t.byStatus.get(a.status) ?? 0) + 1);
        t.ms.push(a.ms);
        if (!String(a.headers['content-type'] ?? '').startsWith('audio/')) {
          const text = a.body.toString('utf8');
          for (const n of needles) if (text.includes(n)) leaks.add(n);
        }
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    const elapsed = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    ag.destroy();
    const flush = await gw.call<{ bucketWrites: number; errors: number; droppedBuckets: number; pendingBuckets: number }>('flush');
    const endMem = await gw.call<NodeJS.MemoryUsage>('memory', false);
    const endMemGc = await gw.call<NodeJS.MemoryUsage>('memory', true);
    const health = Object.fromEntries(await Promise.all(PROVIDERS.map(async (p) => [p, await healthTotals(dynamo.endpoint, p)] as const)));
    const calls = await sb.call<{ vendor: string; status: number }[]>('log', 0);
    await gw.close();
    await sb.close();
    await dynamo.close();
    for (const n of gw.output.found) leaks.add(n);

    // Figures.
    const all = [...tallies.values()];
    const sent = all.reduce((n, t) => n + t.sent, 0);
    const allMs = all.flatMap((t) => t.ms);
    const mib = (n: number) => n / 2 ** 20;
    const warm = rss.filter((s) => s.t >= 10);
    const rssAfterWarmup = warm[0]?.rss ?? rss[0]?.rss ?? startMem.rss;
    const peak = rss.reduce((m, s) => Math.max(m, s.rss), 0);
    const third = (k: number) => rss.filter((s) => s.t >= (k * seconds) / 3 && s.t < ((k + 1) * seconds) / 3);
    const maxOf = (xs: { rss: number }[]) => xs.reduce((m, s) => Math.max(m, s.rss), 0);
    const growthLastThird = mib(maxOf(third(2)) - maxOf(third(1)));
    const growthFromWarm = mib(endMem.rss - rssAfterWarmup);
    const RSS_BOUND_MIB = 64;
    const countsExact = PROVIDERS.every((p) => {
      const t = tallies.get(p)!;
      const ok = t.byStatus.get(200) ?? 0;
      return health[p].requests === t.sent && health[p].successes === ok && health[p].failures === t.sent - ok;
    });
    const invalidOk = (tallies.get('invalid')!.byStatus.get(400) ?? 0) === tallies.get('invalid')!.sent;
    const rssOk = growthLastThird <= RSS_BOUND_MIB / 2 && growthFromWarm <= RSS_BOUND_MIB;
    const fiveXx = all.reduce((n, t) => n + [...t.byStatus.entries()].filter(([s]) => s >= 500 && s !== 502 && s !== 504).reduce((m, [, c]) => m + c, 0), 0);
    const upstream429 = calls.filter((c) => c.status === 429).length;
    const ok = unanswered === 0 && countsExact && invalidOk && rssOk && leaks.size === 0 && fiveXx === 0 && flush.errors === 0 && flush.droppedBuckets === 0;
    loadScenario.ok = ok;

    const rows = MIX.map((m) => {
      const t = tallies.get(m.kind)!;
      const statuses = [...t.byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}×${c}`).join(', ');
      const hs = m.kind === 'invalid' ? undefined : health[m.kind];
      return [
        m.kind,
        t.sent,
        statuses,
        fmt(quantile(t.ms, 0.5), 1),
        fmt(quantile(t.ms, 0.99), 1),
        hs ? `${hs.requests} / ${hs.successes} / ${hs.failures}` : 'not counted (400)',
        hs ? (hs.requests === t.sent && hs.successes === (t.byStatus.get(200) ?? 0) ? 'yes' : 'NO') : invalidOk ? 'yes (all 400)' : 'NO',
      ];
    });
    const memRows = [
      ['gateway RSS before load (after GC)', fmt(mib(startMem.rss), 1)],
      ['RSS at 10 s', fmt(mib(rssAfterWarmup), 1)],
      ['RSS peak during load', fmt(mib(peak), 1)],
      ['RSS at end', fmt(mib(endMem.rss), 1)],
      ['RSS at end after GC', fmt(mib(endMemGc.rss), 1)],
      ['heap used before / at end after GC', `${fmt(mib(startMem.heapUsed), 1)} / ${fmt(mib(endMemGc.heapUsed), 1)}`],
      ['growth end − 10 s (bound 64)', fmt(growthFromWarm, 1)],
      ['growth: peak of last third − peak of middle third (bound 32)', fmt(growthLastThird, 1)],
      ['RSS every 10 s', rss.filter((_, i) => i % 10 === 0).map((x) => fmt(mib(x.rss), 0)).join(' → ')],
    ];
    const table = [
      mdTable(['kind', 'sent', 'answers', 'p50 ms', 'p99 ms', 'health requests / successes / failures', 'health exact'], rows),
      mdTable(['gateway memory', 'MiB'], memRows),
      mdTable(['check', 'result'], [
        ['requests sent / answered', `${sent} / ${sent - unanswered}${unanswered ? ` (no answer: ${unansweredSamples.join('; ')})` : ''}`],
        ['throughput', `${fmt(sent / elapsed, 0)} req/s over ${fmt(elapsed, 1)} s, p50 ${fmt(quantile(allMs, 0.5), 1)} ms, p99 ${fmt(quantile(allMs, 0.99), 1)} ms`],
        ['upstream calls / upstream 429s', `${calls.length} / ${upstream429}`],
        ['5xx other than 502/504', fiveXx],
        ['health flush: bucket writes / errors / dropped', `${flush.bucketWrites} / ${flush.errors} / ${flush.droppedBuckets}`],
        ['keys found in answers or gateway output', leaks.size],
        ['gateway log lines', gw.output.lines],
      ]),
    ].join('\n\n');
    return {
      table,
      summary:
        `${sent} requests from ${clients} concurrent clients in ${fmt(elapsed, 0)} s (${fmt(sent / elapsed, 0)} req/s): ${unanswered === 0 ? 'every request answered' : `${unanswered} UNANSWERED`}; ` +
        `health counts ${countsExact ? 'exact' : 'NOT EXACT'}; gateway RSS ${fmt(mib(rssAfterWarmup), 0)} → ${fmt(mib(endMem.rss), 0)} MiB (growth ${fmt(growthFromWarm, 1)} MiB, bound 64: ${rssOk ? 'met' : 'MISSED'}); keys leaked: ${leaks.size}. ${ok ? 'PASS' : 'FAIL'}.`,
      notes:
        `Method: our gateway (the local server, health recording on) in its own Node process; the sandbox in another; dynalite and the ${clients} closed-loop clients (keep-alive node:http, 30 s timeout) in the test process; loopback only. ` +
        'Pool: OpenAI 6 keys (one 40 calls / 5 s with `Retry-After`, one 20 / 2 s with `retry-after-ms`, four unlimited), ElevenLabs 3 keys (one 30 / 5 s without hints, COOLDOWN_DEFAULT_MS=1000), fal 2 unlimited. ' +
        'Mix: 45 % dall-e-3 images, 25 % tts-1, 15 % ElevenLabs speech, 10 % fal flux, 5 % invalid (speed 99: 400, never counted). ' +
        'RSS sampled once a second over IPC (`process.memoryUsage()` in the gateway process); "health exact" compares the summed BUCKET items of each provider, after a final flush, with what was sent and how it was answered.',
    };
  },
};

async function main(): Promise<void> {
  const r = await loadScenario.run();
  process.stdout.write(`${r.table}\n\n${r.summary}\n`);
  writeSection(join(__dirname, '..', '..', 'docs', 'benchmarks.md'), loadScenario.name, loadScenario.title, r, new Date().toISOString());
  process.exit(loadScenario.ok ? 0 : 1);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`load failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
