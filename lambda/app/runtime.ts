import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RouteContract } from '../contracts';
import { errorFields, Log, Redactor } from '../domain';
import type { GatewayConfig } from '../config/env';
import type { Transport } from '../domain';
import { DEFAULT_FLUSH_POLICY, FlushPolicy, HealthFlusher } from '../health/flusher';
import { KeyHealthStore } from '../health/key-health';
import { ProbeView } from '../health/probe-view';
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
import { KeyRedactor } from '../keys/redactor';
import { DEFAULT_SHARING_POLICY, SharedKeyState } from '../keys/shared-state';
import { createMetrics, MetricsTelemetry, TelemetryFanout } from '../observability/metrics';
import { redactingLog } from '../observability/redacting-log';
import { httpTransport } from '../providers/http/transport';
import { PROVIDER_IDS, PROVIDERS, ProviderId, providerById, vendorOf, VENDORS } from '../providers/registry';
import { StatusView } from '../health/status-view';
import { Fallbacks } from './fallback';
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
  /** How requests reach providers (the key probes use it too). */
  transport: Transport;
  /** The key probes' results (`KEY_HEALTH#` items), for status. */
  probeView: ProbeView;
  /** Removes key fragments and key shapes from what leaves the process (applied to `log`, failures, job records). */
  redactor: Redactor;
  /** The runtime's log: the caller's, every line redacted. */
  log: Log;
  /** The STATUS items fallback chains read (refreshed in the background). */
  statusView: StatusView;
  /** Post-response work: health flush when due, job records kept while the store was down. */
  afterResponse(): Promise<void>;
}

export interface RuntimeOptions extends Omit<GatewayDeps, 'telemetry' | 'keyState' | 'transport' | 'redactor' | 'fallbacks'> {
  /** How requests reach providers (default: HTTP, with the configured byte cap and idle timeout). */
  transport?: GatewayDeps['transport'];
  metrics?: Metrics;
  ddb?: DynamoDBDocumentClient;
  flushPolicy?: Partial<FlushPolicy>;
}

/** Wires the gateway, health recording and metrics from one configuration: the same in Lambda and locally. */
export function createRuntime(config: GatewayConfig, opts: RuntimeOptions): Runtime {
  const { clock } = opts;
  const pools = new KeyPools(config.keys, clock, config.cooldown);
  // Our own names are not secrets even where a (demo) key contains them.
  const redactor = new KeyRedactor(pools, [...VENDORS, ...PROVIDER_IDS]);
  const log = redactingLog(opts.log, redactor);
  const transport = opts.transport ?? httpTransport(config.transport);
  const ddb = opts.ddb ?? createDocumentClient({ endpoint: config.dynamodbEndpoint });
  const store = new HealthStore(ddb, config.tableName);
  const recorder = new HealthRecorder();
  const metrics = opts.metrics ?? createMetrics();
  const sinks = config.healthRecording ? [recorder, new MetricsTelemetry(metrics)] : [new MetricsTelemetry(metrics)];
  const telemetry = new TelemetryFanout(sinks, (e) => log.warn('telemetry sink failed', errorFields(e)));
  const sharing = config.keyStateSharing;
  const keyState = sharing.enabled
    ? new SharedKeyState(ddb, config.tableName, pools, log, clock, { ...DEFAULT_SHARING_POLICY, refreshIntervalMs: sharing.refreshIntervalMs, waitBudgetMs: sharing.waitBudgetMs, refreshAheadMs: sharing.refreshAheadMs })
    : undefined;
  const statusView = new StatusView(store, PROVIDER_IDS, clock, log, config.fallbackPolicy.statusRefreshMs);
  const fallbacks = Object.keys(config.fallbacks.chains).length > 0
    ? new Fallbacks(config.fallbacks, { clock, log, status: (p) => statusView.status(p), fellBack: (p, at) => telemetry.fellBack(p, at), retryDownMs: config.fallbackPolicy.retryDownMs })
    : undefined;
  const gateway = new Gateway(config, pools, { ...opts, log, transport, telemetry, keyState, redactor, fallbacks });
  const probeView = createProbeView(config, ddb, { ...opts, log });
  const fingerprints = (p: ProviderId) => gateway.poolOf(p).view().map((k) => k.fingerprint);
  const about = (p: string) => ({
    keys: gateway.poolOf(p as ProviderId).counts(p),
    p95ObjectiveMs: providerById(p as ProviderId).p95ObjectiveMs,
    probes: probeView.summary(vendorOf(p as ProviderId), fingerprints(p as ProviderId)),
  });
  const flusher = new HealthFlusher(recorder, store, about, log, clock, { ...DEFAULT_FLUSH_POLICY, ...opts.flushPolicy });
  const jobs = new JobService(new JobStore(ddb, config.tableName), config.jobs, {
    runner: gateway,
    poolOf: (p) => gateway.poolOf(p as ProviderId),
    transport,
    clock,
    log,
    events: config.healthRecording ? recorder : undefined,
    redactor,
  });
  // Idempotency-Key records (Powertools Idempotency) live in the same table, on a raw client of their own.
  const idempotency = new JobIdempotency(createIdempotencyClient(config.dynamodbEndpoint, ddb.config.requestHandler), config.tableName);
  const adapters: JobAdapters = new Map(PROVIDERS.flatMap((p) => (p.capability === 'job' ? [[p.id, p.adapter(config.baseUrls, clock)] as const] : [])));
  const routes = [...mediaRoutes(gateway), healthRoute({ store, flusher, poolOf: (p) => gateway.poolOf(p), waiting: (p) => gateway.waiting(p), clock, probes: probeView }), ...jobRoutes(jobs, adapters, { clock, log, idempotency })];
  const app = createApp(routes, { clock, log, requestDeadlineMs: config.rotation.requestDeadlineMs, deadlineMarginMs: config.rotation.deadlineMarginMs });
  const afterResponse = async () => {
    const probed = VENDORS.filter((v) => pools.get(v).size > 0);
    await Promise.all([flusher.flushIfDue(), jobs.flushUnsavedIfDue(), keyState?.settle(), probeView.refreshIfDue(probed)]);
  };
  return { gateway, statusView, pools, app, routes: routes.map(({ method, path }) => ({ method, path })), recorder, store, flusher, metrics, ddb, jobs, keyState, transport, probeView, redactor, log, afterResponse };
}

/** Probe results are fresh for three schedule periods (at least five minutes). */
function createProbeView(config: GatewayConfig, ddb: DynamoDBDocumentClient, opts: RuntimeOptions): ProbeView {
  const { intervalMs, quotaWarnPercent } = config.probes;
  const staleAfterMs = intervalMs > 0 ? Math.max(5 * 60_000, 3 * intervalMs) : 10 * 60_000;
  return new ProbeView(new KeyHealthStore(ddb, config.tableName), opts.clock, opts.log, { refreshIntervalMs: 60_000, staleAfterMs, quotaWarnPercent });
}
