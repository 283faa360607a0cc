import { startDynalite } from '../local/dynamo';
import { agent, Answer, request } from './client';
import { fmt, mdTable, quantile, Scenario } from './lib';
import { forkTs, startPortkey } from './procs';
import { gatewayEnv, startGatewayChild, startSandboxChild } from './rig';

type Path = 'direct' | 'floor' | 'floorFetch' | 'ours' | 'portkey';
const PATHS: Path[] = ['direct', 'floor', 'floorFetch', 'ours', 'portkey'];
const LABEL: Record<Path, string> = {
  direct: 'direct to sandbox',
  floor: 'floor: bare pass-through proxy (node:http out)',
  floorFetch: 'bare pass-through proxy with fetch out (as ours)',
  ours: 'ours (local server, HEALTH_RECORDING=on)',
  portkey: 'Portkey 1.15.2 (headers mode)',
};

/** Fisher–Yates on a copy: each round sends the three paths in a fresh random order. */
function shuffled<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Added latency of one gateway hop: the same image request sent sequentially straight to the
 * sandbox, through our local server and through Portkey, interleaved in random order per round.
 * Each server runs in its own process; the client is the same keep-alive node:http client on
 * every path.
 */
export const overheadScenario: Scenario = {
  name: 'overhead',
  title: 'Added latency per request: direct vs a bare hop vs ours vs Portkey',
  async run() {
    const samples = Number(process.env.BENCH_OVERHEAD_SAMPLES ?? 1000);
    const warmup = Number(process.env.BENCH_OVERHEAD_WARMUP ?? 200);
    const dynamo = await startDynalite();
    const sb = await startSandboxChild({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
    const key = sb.info.defaultKeys.openai[0];
    const needles = Object.values(sb.info.defaultKeys).flat();
    const ours = await startGatewayChild(gatewayEnv(sb.info, dynamo.endpoint, {}, { HEALTH_RECORDING: 'on' }), needles);
    const floor = await forkTs<{ url: string }>('floor-child.ts', { BENCH_FLOOR_UPSTREAM: sb.info.urls.openai });
    const floorFetch = await forkTs<{ url: string }>('floor-child.ts', { BENCH_FLOOR_UPSTREAM: sb.info.urls.openai, BENCH_FLOOR_CLIENT: 'fetch' });
    const pk = await startPortkey();
    const body = JSON.stringify({ model: 'dall-e-3', prompt: 'a lighthouse at dusk', size: '1024x1024' });
    const agents: Record<Path, ReturnType<typeof agent>> = { direct: agent(), floor: agent(), floorFetch: agent(), ours: agent(), portkey: agent() };
    const target: Record<Path, { url: string; headers: Record<string, string> }> = {
      direct: { url: `${sb.info.urls.openai}/images/generations`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } },
      floor: { url: `${floor.info.url}/images/generations`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } },
      floorFetch: { url: `${floorFetch.info.url}/images/generations`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } },
      ours: { url: `${ours.info.url}/v1/images/generations`, headers: { 'content-type': 'application/json' } },
      portkey: {
        url: `${pk.url}/v1/images/generations`,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': sb.info.urls.openai },
      },
    };
    const lat: Record<Path, number[]> = { direct: [], floor: [], floorFetch: [], ours: [], portkey: [] };
    const bad: Record<Path, number> = { direct: 0, floor: 0, floorFetch: 0, ours: 0, portkey: 0 };
    const send = (p: Path): Promise<Answer> => request(target[p].url, { headers: target[p].headers, body, agent: agents[p], timeoutMs: 10_000 });
    const started = performance.now();
    try {
      for (let i = 0; i < warmup; i++) for (const p of shuffled(PATHS)) await send(p);
      for (let i = 0; i < samples; i++) {
        for (const p of shuffled(PATHS)) {
          const a = await send(p);
          if (a.status !== 200 || !a.body.toString('utf8').includes('"data"')) bad[p] += 1;
          else lat[p].push(a.ms);
        }
      }
    } finally {
      for (const a of Object.values(agents)) a.destroy();
    }
    const elapsed = (performance.now() - started) / 1000;
    const stats = await ours.call<{ bucketWrites: number; errors: number }>('flush');
    await pk.close();
    await floor.close();
    await floorFetch.close();
    await ours.close();
    await sb.close();
    await dynamo.close();

    const q = (p: Path, x: number) => quantile(lat[p], x);
    const added = (p: Path, x: number) => q(p, x) - q('direct', x);
    const even = lat.direct.filter((_, i) => i % 2 === 0);
    const odd = lat.direct.filter((_, i) => i % 2 === 1);
    const noise50 = Math.abs(quantile(even, 0.5) - quantile(odd, 0.5));
    const noise99 = Math.abs(quantile(even, 0.99) - quantile(odd, 0.99));
    const rows = PATHS.map((p) => [
      LABEL[p],
      lat[p].length,
      bad[p],
      fmt(q(p, 0.5), 2),
      fmt(q(p, 0.9), 2),
      fmt(q(p, 0.99), 2),
      fmt(q(p, 1), 1),
      p === 'direct' ? '' : fmt(added(p, 0.5), 2),
      p === 'direct' ? '' : fmt(added(p, 0.99), 2),
    ]);
    rows.push(['A/A noise (direct, even vs odd)', '', '', fmt(noise50, 2), '', fmt(noise99, 2), '', '', '']);
    const r50 = added('ours', 0.5) / added('portkey', 0.5);
    const r99 = added('ours', 0.99) / added('portkey', 0.99);
    const met = added('ours', 0.5) <= added('portkey', 0.5);
    const third = added('ours', 0.5) <= added('portkey', 0.5) / 3;
    const anyBad = PATHS.reduce((n, p) => n + bad[p], 0);
    const overFloor = added('ours', 0.5) - added('floor', 0.5);
    return {
      table: `${mdTable(['path', 'samples', 'failed', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'added p50 ms', 'added p99 ms'], rows)}\n\n${mdTable(['ratio ours / Portkey', 'value'], [
        ['added p50', fmt(r50, 2)],
        ['added p99', fmt(r99, 2)],
        ['ours added p50 minus the floor\'s (ms)', fmt(overFloor, 2)],
        ['ours added p50 minus the fetch pass-through\'s (our own logic per request, ms)', fmt(added('ours', 0.5) - added('floorFetch', 0.5), 2)],
      ])}`,
      summary:
        `added latency ours p50 ${fmt(added('ours', 0.5), 2)} ms / p99 ${fmt(added('ours', 0.99), 2)} ms vs Portkey p50 ${fmt(added('portkey', 0.5), 2)} ms / p99 ${fmt(added('portkey', 0.99), 2)} ms; floor (bare proxy hop) p50 ${fmt(added('floor', 0.5), 2)} ms` +
        ` (ours/Portkey p50 ${fmt(r50, 2)}×; target ≤ Portkey: ${met ? 'met' : 'MISSED'}; aim ≤ ⅓ = ${fmt(added('portkey', 0.5) / 3, 2)} ms: ${third ? 'met' : `missed, the bare hop alone adds ${fmt(added('floor', 0.5), 2)} ms`})${anyBad ? `; ${anyBad} failed answers excluded` : ''}.`,
      notes:
        `Method: ${samples} rounds after ${warmup} warm-up rounds, ${fmt(elapsed, 0)} s in all; each round sends \`POST /v1/images/generations\` (\`dall-e-3\`, url response) once per path, sequentially, in a fresh random order. ` +
        'The floor is the physical limit of one more loopback hop through Node: a pass-through proxy with no logic (node:http in, keep-alive node:http out, bodies piped); the fetch pass-through is the same proxy calling upstream with Node\'s fetch and buffering bodies, as our gateway does, so ours minus it is the cost of our own logic (routing, validation, rotation, health, API Gateway event mapping). ' +
        'Sandbox (rate limits off), floor proxy, our gateway (the local server with health recording on, flushing to dynalite in the bench process) and Portkey (`build/start-server.js --headless`, headers `x-portkey-provider: openai`, `Authorization`, `x-portkey-custom-host`) each run in their own Node process on loopback; ' +
        'the client is one keep-alive node:http connection per path, timed from send to last body byte. Added = path quantile − direct quantile. ' +
        `Our gateway wrote health during the run (${stats.bucketWrites} bucket writes, ${stats.errors} store errors); keys found in its output: ${ours.output.found.size}. ` +
        'Images, not speech: Portkey 1.15.2 on Node 20 answers 500 ("TypeError: immutable") to audio/speech passthrough.',
    };
  },
};
