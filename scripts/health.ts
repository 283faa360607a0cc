/**
 * `npm run health [-- -w] [--endpoint URL | --aws] [--table NAME]`: the 5-minute provider
 * health window as a table, read from `nanobot-config` — the local store `npm start` runs
 * (default http://127.0.0.1:8000, or DYNAMODB_ENDPOINT), or AWS through the standard credential
 * chain with `--aws`. `-w` refreshes every 3 seconds.
 */
import { PROVIDERS } from '../lambda/providers/registry';
import { createDocumentClient, HealthStore } from '../lambda/health/store';
import { statusOf } from '../lambda/health/status';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Args {
  watch: boolean;
  endpoint?: string;
  table: string;
  intervalMs: number;
}

export const DEFAULT_LOCAL_ENDPOINT = 'http://127.0.0.1:8000';

function parseArgs(argv: string[]): Args {
  const args: Args = { watch: false, table: process.env.TABLE_NAME ?? 'nanobot-config', intervalMs: 3000, endpoint: process.env.DYNAMODB_ENDPOINT ?? DEFAULT_LOCAL_ENDPOINT };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-w' || a === '--watch') args.watch = true;
    else if (a === '--aws') args.endpoint = undefined;
    else if (a === '--endpoint') args.endpoint = argv[++i];
    else if (a === '--table') args.table = argv[++i];
    else if (a === '--interval') args.intervalMs = Number(argv[++i]) * 1000;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: npm run health -- [-w] [--endpoint URL | --aws] [--table NAME] [--interval SECONDS]\n');
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  return args;
}

/** Renders rows as an aligned text table. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function snapshot(store: HealthStore): Promise<string> {
  const now = Date.now();
  const rows = await Promise.all(
    PROVIDERS.map(async ({ id: p, p95ObjectiveMs }) => {
      const [w, st] = await Promise.all([store.readWindow(p, now), store.getStatus(p)]);
      const keys = typeof st?.keysTotal === 'number'
        ? { total: Number(st.keysTotal), available: Number(st.keysAvailable), cooling: Number(st.keysCooling), disabled: Number(st.keysDisabled) }
        : undefined;
      const s = statusOf(p95ObjectiveMs, w, keys);
      const ms = (v: number | null) => (v === null ? '-' : `${v}`);
      return [
        p,
        s.status,
        String(w.requests),
        s.successRate === null ? '-' : `${(s.successRate * 100).toFixed(1)}%`,
        `${ms(s.p50Ms)}/${ms(s.p95Ms)}`,
        `${ms(s.ttfbP50Ms)}/${ms(s.ttfbP95Ms)}`,
        String(w.rateLimited),
        String(w.rotations),
        keys ? `${keys.available}/${keys.total}` : '-',
      ];
    }),
  );
  return renderTable(['provider', 'status', 'requests', 'success', 'p50/p95 ms', 'ttfb p50/p95', '429s', 'rotations', 'keys usable'], rows);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const store = new HealthStore(createDocumentClient({ endpoint: args.endpoint }), args.table);
  const source = args.endpoint ? `${args.endpoint} (local)` : 'AWS (default credential chain)';
  const once = async () => {
    const table = await snapshot(store);
    const head = `nanobot provider health — last 5 minutes — table ${args.table} at ${source} — ${new Date().toISOString()}`;
    return `${head}\n\n${table}\n`;
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
