import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureRuntimeClient, HARNESS_DIR } from './install';

/**
 * jest globalSetup: builds aws-lambda-ric before any test worker starts, when this run includes a
 * test of test/lambda-runtime (`npm test`, CI, `npx jest test/lambda-runtime`), and does nothing
 * for runs that cannot reach one (`npm run test:unit`, `npx jest test/infra`).
 *
 * Why here and not in a test's beforeAll: the first build takes minutes and must not count
 * against a test's timeout or compete for the two cores with running tests; it runs once per
 * jest run whatever the worker count. Why not a pre-step in package.json: `npx jest <path>`
 * would skip it. The drivers call ensureRuntimeClient() too (one stat when built), so a run that
 * bypasses this still works, serialised by the install lock.
 */
/** The slice of jest's GlobalConfig used here (jest 30). */
interface JestGlobalConfig {
  rootDir: string;
  testPathPatterns: { isSet(): boolean; toExecutor(o: { rootDir: string }): { isMatch(absPath: string): boolean } };
}

export default async function globalSetup(globalConfig: JestGlobalConfig): Promise<void> {
  const ours = fs
    .readdirSync(HARNESS_DIR)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(HARNESS_DIR, f));
  const patterns = globalConfig.testPathPatterns;
  const executor = patterns.toExecutor({ rootDir: globalConfig.rootDir });
  if (patterns.isSet() && !ours.some((f) => executor.isMatch(f))) return;
  const r = await ensureRuntimeClient();
  if (r.built) {
    process.stderr.write(`[lambda-runtime] aws-lambda-ric ${r.ricVersion} ready for Node ${r.nodeVersion} after ${(r.ms / 1000).toFixed(0)} s${r.aptInstalled.length ? ` (apt-get installed ${r.aptInstalled.join(' ')})` : ''}\n`);
  }
}
