/**
 * dynalite in its own process, for benchmarks that time a client: DynamoDB work (the gateway's
 * health writes and key-state reads) then never runs on the client's event loop.
 */
import { ensureTable, startDynalite } from '../local/dynamo';
import { serveParent } from './procs';

async function main(): Promise<void> {
  const dynamo = await startDynalite();
  await ensureTable(dynamo.endpoint, process.env.TABLE_NAME ?? 'nanobot-config');
  serveParent({ endpoint: dynamo.endpoint, pid: process.pid }, {}, () => dynamo.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`dynamo child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
