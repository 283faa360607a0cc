import { startSandbox } from '../sandbox';
import { startDynalite, ensureTable } from '../local/dynamo';
import { forkTs } from './procs';
import { fmt, mdTable, quantile, Scenario, sleep } from './lib';
import type { SharingStats } from '../../lambda/keys/shared-state';

interface ChildStats {
  commands: Record<string, number>;
  keyState: SharingStats | null;
}

/**
 * K gateway processes sharing one dynalite and one sandbox: three keys each limited to 3 calls per
 * 30 s, requests spread round-robin 300 ms apart; fleet key-state sharing on vs off, side by side.
 */
export const fleetScenario: Scenario = {
  name: 'fleet',
  title: 'Fleet-wide key state: K instances, sharing on vs off',
  async run() {
    const sandbox = await startSandbox({ defaultRateLimit: { openai: null, elevenlabs: null, fal: null, kling: null } });
    const dynamo = await startDynalite();
    await ensureTable(dynamo.endpoint, 'nanobot-config');
    const rows: (string | number)[][] = [];
    const results: Record<string, { wasted: number; maxPerKey: number; served: number; refusedP99: number; perReqReads: number; perReqWrites: number }> = {};
    const instances = Number(process.env.BENCH_FLEET_INSTANCES ?? 4);
    const requests = 30;
    let run = 0;
    for (const sharing of ['on', 'off'] as const) {
      run += 1;
      const keys = [1, 2, 3].map((i) => `sk-bench-fleet-${run}-${i}-${Math.random().toString(36).slice(2, 14)}`);
      for (const k of keys) sandbox.configureKey('openai', k, { rateLimit: { calls: 3, windowMs: 30_000 }, retryHint: 'seconds' });
      const env = {
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        OPENAI_API_KEYS: keys.join(','),
        OPENAI_BASE_URL: sandbox.urls.openai,
        ELEVENLABS_API_KEYS: sandbox.defaultKeys.elevenlabs.join(','),
        FAL_KEYS: sandbox.defaultKeys.fal.join(','),
        KLING_API_KEYS: sandbox.defaultKeys.kling.join(','),
        ELEVENLABS_BASE_URL: sandbox.urls.elevenlabs,
        FAL_BASE_URL: sandbox.urls.fal,
        FAL_QUEUE_BASE_URL: sandbox.urls.falQueue,
        KLING_BASE_URL: sandbox.urls.kling,
        KEY_STATE_SHARING: sharing,
        // Key probes off: the benchmark counts request traffic only.
        PROBE_INTERVAL_MS: '0',
        FAL_PLATFORM_BASE_URL: sandbox.urls.falPlatform,
      };
      const children = await Promise.all(Array.from({ length: instances }, () => forkTs<{ url: string }>('fleet-child.ts', env, { needles: keys })));
      const statuses: number[] = [];
      const refusedMs: number[] = [];
      const body = JSON.stringify({ model: 'tts-1', input: 'fleet', voice: 'alloy' });
      for (let i = 0; i < requests; i++) {
        const t0 = Date.now();
        const res = await fetch(`${children[i % instances].info.url}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.arrayBuffer();
        statuses.push(res.status);
        if (res.status === 429) refusedMs.push(Date.now() - t0);
        await sleep(Math.max(0, 300 - (Date.now() - t0)));
      }
      const stats = await Promise.all(children.map((c) => c.call<ChildStats>('stats')));
      const leaked = children.some((c) => c.output.found.size > 0);
      await Promise.all(children.map((c) => c.close()));
      const wastedPerKey = keys.map((k) => sandbox.log().filter((r) => r.key === k && r.status === 429).length);
      const wasted = wastedPerKey.reduce((a, b) => a + b, 0);
      const sum = (f: (s: ChildStats) => number) => stats.reduce((a, s) => a + f(s), 0);
      const ksReads = sum((s) => s.keyState?.reads ?? 0);
      const ksWrites = sum((s) => s.keyState?.writes ?? 0) + sum((s) => s.keyState?.writesSuperseded ?? 0);
      const allReads = sum((s) => s.commands.QueryCommand ?? 0) + sum((s) => s.commands.GetItemCommand ?? 0);
      const allWrites = sum((s) => (s.commands.UpdateItemCommand ?? 0) + (s.commands.PutItemCommand ?? 0));
      const served = statuses.filter((s) => s === 200).length;
      const refused = statuses.filter((s) => s === 429).length;
      results[sharing] = { wasted, maxPerKey: Math.max(...wastedPerKey), served, refusedP99: refusedMs.length ? quantile(refusedMs, 0.99) : NaN, perReqReads: ksReads / requests, perReqWrites: ksWrites / requests };
      rows.push([
        sharing, instances, requests, served, refused, refusedMs.length ? `${fmt(quantile(refusedMs, 0.5), 0)} / ${fmt(quantile(refusedMs, 0.99), 0)}` : '-', `${wasted} (${wastedPerKey.join('/')})`,
        fmt(ksReads / requests, 2), fmt(ksWrites / requests, 2), fmt(allReads / requests, 2), fmt(allWrites / requests, 2),
        sum((s) => s.keyState?.coldStartReads ?? 0), sum((s) => s.keyState?.budgetExceeded ?? 0), leaked ? 'LEAK' : 'none',
      ]);
    }
    await sandbox.close();
    await dynamo.close();
    const on = results.on;
    const off = results.off;
    return {
      table: mdTable(['sharing', 'instances', 'requests', 'served', 'refused 429', 'refused ms p50 / p99', 'wasted upstream 429s (per key)', 'key-state reads/req', 'key-state writes/req', 'all DynamoDB reads/req', 'all DynamoDB writes/req', 'cold-start reads (all instances)', 'reads past 20 ms budget', 'key in output'], rows),
      summary: `sharing on: ${on.served} served (capacity 9), ${on.wasted} wasted upstream 429s (target ≤ 1 per key per window — the 9 s run lies in one 30 s window of each key: at most ${on.maxPerKey} per key, ${on.maxPerKey <= 1 ? 'met' : 'MISSED'}), its 429s answered at once (p99 ${fmt(on.refusedP99, 0)} ms; goal < 50 ms: ${on.refusedP99 < 50 ? 'met' : 'MISSED'}); sharing off: ${off.served} served, ${off.wasted} wasted — sharing cost ${fmt(on.perReqReads, 2)} reads and ${fmt(on.perReqWrites, 2)} writes of key state per request at this (deliberately sparse) rate.`,
      notes: `Method: ${instances} gateway processes (scripts/bench/fleet-child.ts; each its own memory, like Lambda containers) on one in-memory dynalite and one sandbox; 3 OpenAI keys each limited to 3 calls per 30 s (Retry-After in seconds); ${requests} speech requests round-robin over the instances, 300 ms apart. "All DynamoDB" includes health recording (the final flush of each instance included). The middleware counting "all DynamoDB" commands is installed after start-up, so cold-start reads appear only in their own column. Key-state reads per request are at their worst here: each instance sees a request every ${fmt((instances * 300) / 1000, 1)} s, longer than the 1 s refresh interval, so every request refreshes. Requests are sent one after another; once the 9 calls the keys allow are spent, the next slot is about 27 s away — beyond the admission queue's 20 s MAX_QUEUE_WAIT_MS — so each later request is answered 429 at once with its Retry-After (the "refused" column), and no container waits onto a key the fleet knows is spent.`,
    };
  },
};
