import type { Context, ScheduledEvent } from 'aws-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { errorFields, OwnError } from '../domain';
import { GatewayConfig, loadConfig, mergeKeyLists } from '../config/env';
import { loadSecretKeys, SecretKeys } from '../config/secret-keys';
import { createLogger } from '../observability/logger';
import { Vendor, VENDORS } from '../providers/registry';
import { realTime } from './gateway';
import { createProber, Prober } from './prober';
import { createRuntime, Runtime } from './runtime';

/**
 * Lambda entry of the scheduled key probe (`index.probeHandler`): the same bundle as the API
 * function, a function of its own (see the README, "Key probes"). An EventBridge rule invokes it
 * once per period; each invocation is one probe run over every configured key, bounded by
 * `PROBE_RUN_BUDGET_MS`. A run that could not do its job (store down, no probe answered) throws,
 * so Lambda counts an error — the "probe runs failing" alarm watches those.
 *
 * Init is lazy: the API function imports this module too (one bundle) and must pay nothing for it.
 */
let prepared: Promise<{ rt: Runtime; prober: Prober; config: GatewayConfig }> | undefined;
let secretsClient: SecretsManagerClient | undefined;
const log = createLogger();

export class ProbeRunFailed extends OwnError {
  constructor() {
    super('probe run failed: the store or every provider was unreachable (see the warnings before this)');
    this.name = 'ProbeRunFailed';
  }
}

/** The pools as the API function builds them: environment keys first, then the secret's. */
async function currentKeys(config: GatewayConfig): Promise<Record<Vendor, string[]>> {
  let secret: SecretKeys = {};
  if (config.providerKeysSecretId) {
    secretsClient ??= new SecretsManagerClient({ maxAttempts: 2, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true } });
    try {
      secret = await loadSecretKeys(config.providerKeysSecretId, { client: secretsClient });
    } catch (err) {
      log.error('provider keys secret unreadable', errorFields(err));
    }
  }
  const keys = {} as Record<Vendor, string[]>;
  for (const v of VENDORS) keys[v] = mergeKeyLists(config.keys[v], secret[v] ?? []);
  return keys;
}

export function prepareProbe(): Promise<{ rt: Runtime; prober: Prober; config: GatewayConfig }> {
  prepared ??= (async () => {
    const config = loadConfig();
    const rt = createRuntime({ ...config, keys: await currentKeys(config) }, { ...realTime, log });
    if (!rt.keyState) log.warn('KEY_STATE_SHARING=off: what the probes learn stays in the probe function');
    return { rt, prober: createProber(rt, config, { ...realTime, log, metrics: rt.metrics }), config };
  })();
  return prepared;
}

export const probeHandler = async (_event: ScheduledEvent, _context?: Context): Promise<{ probed: number; passed: number; skipped: number; durationMs: number }> => {
  const { rt, prober, config } = await prepareProbe();
  // Keys added or rotated in the secret are probed from the next run on (the secret's 5-minute cache).
  const changed = rt.pools.update(await currentKeys(config));
  if (changed.length) log.info('provider keys updated from the secret', { vendors: changed });
  const r = await prober.run();
  if (r.failed) throw new ProbeRunFailed();
  const keys = r.vendors.flatMap((v) => v.keys);
  return { probed: keys.length, passed: keys.filter((k) => k.passed).length, skipped: r.vendors.reduce((n, v) => n + v.skipped, 0), durationMs: r.durationMs };
};
