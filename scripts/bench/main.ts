/**
 * `npm run bench [-- scenario ...]`: runs the named scenarios (default: all) and writes their
 * sections in docs/benchmarks.md.
 */
import { join } from 'node:path';
import { Scenario, writeSection } from './lib';
import { poolScenario } from './pool';
import { healthScenario } from './health';
import { overheadScenario } from './overhead';
import { stormScenario } from './storm';
import { concurrencyScenario } from './concurrency';
import { coldstartScenario } from './coldstart';
import { fleetScenario } from './fleet';
import { ttfbScenario } from './ttfb';
import { redactScenario } from './redact';
import { outageScenario } from './outage';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const SCENARIOS: Scenario[] = [poolScenario, healthScenario, overheadScenario, stormScenario, concurrencyScenario, coldstartScenario, fleetScenario, ttfbScenario, redactScenario, outageScenario];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
  if (unknown.length) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; available: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
    process.exit(2);
  }
  const run = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;
  const when = new Date().toISOString();
  const doc = join(__dirname, '..', '..', 'docs', 'benchmarks.md');
  for (const s of run) {
    process.stdout.write(`\n== ${s.name}: ${s.title}\n`);
    const r = await s.run();
    process.stdout.write(`${r.table}\n\n${r.summary}\n`);
    writeSection(doc, s.name, s.title, r, when);
  }
  process.stdout.write(`\nwritten: ${doc}\n`);
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
