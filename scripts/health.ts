/**
 * `npm run health [-- -w] [--keys] [--endpoint URL | --aws] [--table NAME]`: the 5-minute provider
 * health window as a table, read from `nanobot-config` — the local store `npm start` runs
 * (default http://127.0.0.1:8000, or DYNAMODB_ENDPOINT), or AWS through the standard credential
 * chain with `--aws`. `-w` refreshes every 3 seconds. The key probes' findings (`KEY_HEALTH#`
 * items) are in the status; `--keys` adds one line per key.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PROVIDERS, VENDORS, vendorOf } from '../lambda/providers/registry';
import { createDocumentClient, HealthStore } from '../lambda/health/store';
import { statusOf } from '../lambda/health/status';
import { KeyHealth, KeyHealthStore } from '../lambda/health/key-health';
import { summarizeProbes } from '../lambda/health/probe-summary';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Args {
  watch: boolean;
  keys: boolean;
  endpoint?: string;
  table: string;
  intervalMs: number;
}

export const DEFAULT_LOCAL_ENDPOINT = 'http://127.0.0.1:8000';

function parseArgs(argv: string[]): Args {
  const args: Args = { watch: false, keys: false, table: process.env.TABLE_NAME ?? 'nanobot-config', intervalMs: 3000, endpoint: process.env.DYNAMODB_ENDPOINT ?? DEFAULT_LOCAL_ENDPOINT };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-w' || a === '--watch') args.watch = true;
    else if (a === '--keys') args.keys = true;
    else if (a === '--aws') args.endpoint = undefined;
    else if (a === '--endpoint') args.endpoint = argv[++i];
    else if (a === '--table') args.table = argv[++i];
    else if (a === '--interval') args.intervalMs = Number(argv[++i]) * 1000;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: npm run health -- [-w] [--keys] [--endpoint URL | --aws] [--table NAME] [--interval SECONDS]\n');
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  return args;
}

/** Renders rows as an aligned text table; the first `leftAligned` columns (and the last, free text, when the header says `why`) pad right. */
export function renderTable(header: string[], rows: string[][], leftAligned = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = (i: number) => i < leftAligned || (header[i] === 'why' && i === header.length - 1);
  const line = (cells: string[]) => cells.map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Probe results older than this say nothing (three periods of the default one-minute schedule, at least). */
const STALE_AFTER_MS = 10 * 60_000;
const QUOTA_WARN_PERCENT = Number(process.env.PROBE_QUOTA_WARN_PERCENT ?? 80);

async function snapshot(store: HealthStore, probes: Map<string, KeyHealth[]>): Promise<string> {
  const now = Date.now();
  const rows = await Promise.all(
    PROVIDERS.map(async ({ id: p, p95ObjectiveMs }) => {
      const [w, st] = await Promise.all([store.readWindow(p, now), store.getStatus(p)]);
      const keys = typeof st?.keysTotal === 'number'
        ? { total: Number(st.keysTotal), available: Number(st.keysAvailable), cooling: Number(st.keysCooling), disabled: Number(st.keysDisabled) }
        : undefined;
      const summary = summarizeProbes(probes.get(vendorOf(p)) ?? [], { now, staleAfterMs: STALE_AFTER_MS, quotaWarnPercent: QUOTA_WARN_PERCENT });
      const s = statusOf(p95ObjectiveMs, w, keys, summary);
      const ms = (v: number | null) => (v === null ? '-' : `${v}`);
      return [
        p,
        s.status,
        String(w.requests),
        s.successRate === null ? '-' : `${(s.successRate * 100).toFixed(1)}%`,
        `${ms(s.p50Ms)}/${ms(s.p95Ms)}`,
        `${ms(s.ttfbP50Ms)}/${ms(s.ttfbP95Ms)}`,
        // Waited in the admission queue / its p95 wait / refused at once by it.
        `${s.queued}/${ms(s.queueP95Ms)}/${s.queueRefused}`,
        String(w.rateLimited),
        String(w.rotations),
        keys ? `${keys.available}/${keys.total}` : '-',
        s.reason,
      ];
    }),
  );
  return renderTable(['provider', 'status', 'requests', 'success', 'p50/p95 ms', 'ttfb p50/p95', 'queued/p95 ms/refused', '429s', 'rotations', 'keys usable', 'why'], rows, 1);
}

/** `--keys`: every key's last probe (by public id; the fingerprint tells keys apart across pools). */
export function keyTable(probes: Map<string, KeyHealth[]>, now = Date.now()): string {
  const rows = [...probes.values()].flat().sort((a, b) => a.keyId.localeCompare(b.keyId, 'en', { numeric: true })).map((h) => [
    h.keyId,
    h.fingerprint,
    h.state,
    h.probeResult,
    `${Math.max(0, Math.round((now - Date.parse(h.lastProbeAt)) / 1000))} s ago`,
    h.latencyMs === undefined ? '-' : String(h.latencyMs),
    h.quotaLimit === undefined ? '-' : `${h.quotaUsed ?? '?'}/${h.quotaLimit} (${h.quotaUsedPercent ?? '?'}%)`,
    h.quotaResetAt ?? '-',
    h.balance === undefined ? '-' : `${h.balance} ${h.currency ?? ''}`.trim(),
  ]);
  if (rows.length === 0) return 'no key probe results (KEY_HEALTH# items) yet';
  return renderTable(['key', 'fingerprint', 'state', 'last probe', 'when', 'ms', 'quota used', 'quota resets', 'balance'], rows, 4);
}

async function readProbes(ddb: DynamoDBDocumentClient, table: string): Promise<Map<string, KeyHealth[]>> {
  const store = new KeyHealthStore(ddb, table);
  return new Map(await Promise.all(VENDORS.map(async (v) => [v, await store.read(v)] as const)));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const ddb = createDocumentClient({ endpoint: args.endpoint });
  const store = new HealthStore(ddb, args.table);
  const source = args.endpoint ? `${args.endpoint} (local)` : 'AWS (default credential chain)';
  const once = async () => {
    const probes = await readProbes(ddb, args.table);
    const table = await snapshot(store, probes);
    const head = `nanobot provider health — last 5 minutes — table ${args.table} at ${source} — ${new Date().toISOString()}`;
    return `${head}\n\n${table}\n${args.keys ? `\nkeys (last probe of each)\n\n${keyTable(probes)}\n` : ''}`;
  };
  if (!args.watch) {
    process.stdout.write(await once());
    return;
  }
  for (;;) {
    let text: string;
    try {
      text = await once();
    } catch (err) {
      text = `cannot read ${args.table} at ${source}: ${err instanceof Error ? err.name : String(err)}\n`;
    }
    process.stdout.write(`\x1b[2J\x1b[H${text}\n(refreshing every ${args.intervalMs / 1000} s; Ctrl-C stops)\n`);
    await new Promise((r) => setTimeout(r, args.intervalMs));
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`health: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
    process.exit(1);
  });
}
