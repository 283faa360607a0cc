import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RouteContract } from '../contracts';
import { errorFields } from '../domain';
import type { GatewayConfig } from '../config/env';
import { DEFAULT_FLUSH_POLICY, FlushPolicy, HealthFlusher } from '../health/flusher';
import { HealthRecorder } from '../health/recorder';
import { createDocumentClient, HealthStore } from '../health/store';
import { createApp, ProxyHandler } from '../http/app';
import { healthRoute } from '../http/health-route';
import { JobAdapters, jobRoutes } from '../http/job-routes';
import { mediaRoutes } from '../http/media-routes';
import { createIdempotencyClient, JobIdempotency } from '../jobs/idempotency';
import { JobService } from '../jobs/service';
import { JobStore } from '../jobs/store';
import { KeyPools } from '../keys/pools';
import { DEFAULT_SHARING_POLICY, SharedKeyState } from '../keys/shared-state';
import { createMetrics, MetricsTelemetry, TelemetryFanout } from '../observability/metrics';
import { sendUpstream } from '../providers/http/transport';
import { PROVIDERS, ProviderId, providerById } from '../providers/registry';
import { Gateway, GatewayDeps } from './gateway';

export interface Runtime {
  gateway: Gateway;
  pools: KeyPools;
  app: ProxyHandler;
  /** Every route the app serves (method and path). */
  routes: RouteContract[];
  recorder: HealthRecorder;
  store: HealthStore;
  flusher: HealthFlusher;
  metrics: Metrics;
  ddb: DynamoDBDocumentClient;
  jobs: JobService;
  keyState?: SharedKeyState;
  /** Post-response work: health flush when due, job records kept while the store was down. */
  afterResponse(): Promise<void>;
}

export interface RuntimeOptions extends Omit<GatewayDeps, 'telemetry' | 'keyState'> {
  metrics?: Metrics;
  ddb?: DynamoDBDocumentClient;
  flushPolicy?: Partial<FlushPolicy>;
}

/** Wires the gateway, health recording and metrics from one configuration: the same in Lambda and locally. */
export function createRuntime(config: GatewayConfig, opts: RuntimeOptions): Runtime {
  const { clock, log } = opts;
  const transport = opts.transport ?? sendUpstream;
  const ddb = opts.ddb ?? createDocumentClient({ endpoint: config.dynamodbEndpoint });
  const store = new HealthStore(ddb, config.tableName);
  const recorder = new HealthRecorder();
  const metrics = opts.metrics ?? createMetrics();
  const sinks = config.healthRecording ? [recorder, new MetricsTelemetry(metrics)] : [new MetricsTelemetry(metrics)];
  const telemetry = new TelemetryFanout(sinks, (e) => log.warn('telemetry sink failed', errorFields(e)));
  const pools = new KeyPools(config.keys, clock, config.cooldown);
  const sharing = config.keyStateSharing;
  const keyState = sharing.enabled
    ? new SharedKeyState(ddb, config.tableName, pools, log, clock, { ...DEFAULT_SHARING_POLICY, refreshIntervalMs: sharing.refreshIntervalMs, waitBudgetMs: sharing.waitBudgetMs })
    : undefined;
  const gateway = new Gateway(config, pools, { ...opts, transport, telemetry, keyState });
  const about = (p: string) => ({ keys: gateway.poolOf(p as ProviderId).counts(), p95ObjectiveMs: providerById(p as ProviderId).p95ObjectiveMs });
  const flusher = new HealthFlusher(recorder, store, about, log, clock, { ...DEFAULT_FLUSH_POLICY, ...opts.flushPolicy });
  const jobs = new JobService(new JobStore(ddb, config.tableName), config.jobs, {
    runner: gateway,
    poolOf: (p) => gateway.poolOf(p as ProviderId),
    transport,
    clock,
    log,
    events: config.healthRecording ? recorder : undefined,
  });
  // Idempotency-Key records (Powertools Idempotency) live in the same table, on a raw client of their own.
  const idempotency = new JobIdempotency(createIdempotencyClient(config.dynamodbEndpoint, ddb.config.requestHandler), config.tableName);
  const adapters: JobAdapters = new Map(PROVIDERS.flatMap((p) => (p.capability === 'job' ? [[p.id, p.adapter(config.baseUrls, clock)] as const] : [])));
  const routes = [...mediaRoutes(gateway), healthRoute(store, flusher, (p) => gateway.poolOf(p), clock), ...jobRoutes(jobs, adapters, { clock, log, idempotency })];
  const app = createApp(routes, { clock, log, requestDeadlineMs: config.rotation.requestDeadlineMs, deadlineMarginMs: config.rotation.deadlineMarginMs });
  const afterResponse = async () => {
    await Promise.all([flusher.flushIfDue(), jobs.flushUnsavedIfDue(), keyState?.settle()]);
  };
  return { gateway, pools, app, routes: routes.map(({ method, path }) => ({ method, path })), recorder, store, flusher, metrics, ddb, jobs, keyState, afterResponse };
}
