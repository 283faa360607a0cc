import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { errorFields } from '../domain';
import { GatewayConfig, loadConfig, mergeKeyLists } from '../config/env';
import { loadFallbackConfig } from '../config/fallbacks';
import { loadSecretKeys, SecretKeys } from '../config/secret-keys';
import { createLogger } from '../observability/logger';
import { PostResponseExtension } from '../platform/extension';
import { httpResponseStream, streamifyResponse } from '../platform/response-stream';
import { writeResult } from '../http/write';
import { Vendor, VENDORS } from '../providers/registry';
import { realTime } from './gateway';
import { createRuntime, Runtime } from './runtime';

/**
 * Lambda entry (API Gateway REST proxy, payload v1).
 *
 * Init (`prepare`, awaited at top level by the ESM entry `index.mts`): configuration from the
 * environment — a malformed variable fails the cold start with a message naming it, never the
 * key — then provider keys from Secrets Manager, then the post-response extension.
 * After each response the extension flushes health (when due) and refreshes the keys from the
 * secret's cache, so keys are added or rotated without a redeploy.
 */
const log = createLogger();
const config = loadConfig();
let runtime: Runtime | undefined;
let extension: PostResponseExtension | undefined;
let preparing: Promise<Runtime> | undefined;
let coldStart = true;

/** Environment keys first (the old way, still supported), then the secret's; deduplicated. */
function withSecretKeys(base: GatewayConfig, secret: SecretKeys): Record<Vendor, string[]> {
  const keys = {} as Record<Vendor, string[]>;
  for (const v of VENDORS) keys[v] = mergeKeyLists(base.keys[v], secret[v] ?? []);
  return keys;
}

/** Secrets Manager with short time-outs: neither init nor post-response work may hang on it. */
let secretsClient: SecretsManagerClient | undefined;

async function secretKeys(): Promise<SecretKeys> {
  if (!config.providerKeysSecretId) return {};
  secretsClient ??= new SecretsManagerClient({ maxAttempts: 2, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000, throwOnRequestTimeout: true } });
  try {
    return await loadSecretKeys(config.providerKeysSecretId, { client: secretsClient });
  } catch (err) {
    // Keep serving with what we have (env keys, or the last good list); the error names no key.
    log.error('provider keys secret unreadable', errorFields(err));
    return {};
  }
}

async function afterInvoke(rt: Runtime): Promise<void> {
  await rt.afterResponse();
  if (config.providerKeysSecretId) {
    const secret = await secretKeys();
    if (Object.keys(secret).length === 0) return;
    const changed = rt.pools.update(withSecretKeys(config, secret));
    if (changed.length) log.info('provider keys updated from the secret', { vendors: changed });
  }
}

export function prepare(): Promise<Runtime> {
  preparing ??= (async () => {
    const secret = await secretKeys();
    const keys = withSecretKeys(config, secret);
    // Chains and voices: the environment's, the secret's on top; a bad one fails start-up, as a bad variable does.
    const rt = createRuntime({ ...config, keys, fallbacks: loadFallbackConfig(process.env, secret) }, { ...realTime, log });
    // A cold container starts with the fleet's knowledge of cooling and disabled keys (one bounded read).
    await rt.keyState?.loadAll();
    const api = process.env.AWS_LAMBDA_RUNTIME_API;
    if (api) {
      extension = await PostResponseExtension.register(api, 'nanobot-health', () => afterInvoke(rt), log);
      // With an extension registered, Lambda sends SIGTERM before shutdown: write what is left.
      if (extension && process.env.AWS_LAMBDA_FUNCTION_NAME) {
        process.once('SIGTERM', () => {
          void Promise.all([rt.flusher.flush(), rt.jobs.flushUnsaved(), rt.keyState?.settle()]).finally(() => process.exit(0));
        });
      }
    }
    runtime = rt;
    return rt;
  })();
  return preparing;
}

/**
 * Every answer streams (API Gateway integration in STREAM mode): status and headers first, then the
 * body as it arrives — so no 6 MB response limit, no 29 s wall, and speech plays from its first chunk.
 */
export const handler = streamifyResponse<APIGatewayProxyEvent, Context>(async (event, responseStream, context) => {
  const rt = runtime ?? (await prepare());
  if (coldStart) {
    coldStart = false;
    rt.metrics.captureColdStartMetric(context.functionName);
  }
  try {
    const res = await rt.app(event, context);
    await writeResult(res, (statusCode, headers) => httpResponseStream(responseStream, { statusCode, headers }));
  } catch (err) {
    // A stream that failed after its first byte: the response is already aborted (never ended cleanly).
    log.warn('response aborted', errorFields(err));
    responseStream.destroy(err instanceof Error ? err : new Error('response aborted'));
  } finally {
    if (extension) extension.invocationDone(context.awsRequestId);
    // Without an extension (it failed to register), flush inline when due: short timeouts bound it.
    else await rt.afterResponse();
  }
});
