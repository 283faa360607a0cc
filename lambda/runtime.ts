import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { GatewayConfig } from './config/env';
import { Gateway, GatewayDeps } from './gateway';
import { createApp, ProxyHandler } from './http/app';
import { healthRoute } from './http/health-route';
import { DEFAULT_FLUSH_POLICY, FlushPolicy, HealthFlusher } from './health/flusher';
import { HealthRecorder } from './health/recorder';
import { createDocumentClient, HealthStore } from './health/store';
import { createMetrics, MetricsTelemetry, TelemetryFanout } from './observability/metrics';
import { JobService } from './jobs/service';
import { JobStore } from './jobs/store';
import { jobRoutes } from './http/job-routes';
import { KlingTokens, klingVideo } from './providers/kling-video';
import { falQueueAudio } from './providers/fal-queue';
import { DEFAULT_SHARING_POLICY, SharedKeyState } from './keys/shared-state';
import type { KeyPool } from './keys/key-pool';

export interface Runtime {
  gateway: Gateway;
  app: ProxyHandler;
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

export interface RuntimeOptions extends Omit<GatewayDeps, 'telemetry'> {
  metrics?: Metrics;
  ddb?: DynamoDBDocumentClient;
  flushPolicy?: Partial<FlushPolicy>;
}

/** Wires the gateway, health recording and metrics from one configuration: the same in Lambda and locally. */
export function createRuntime(config: GatewayConfig, opts: RuntimeOptions): Runtime {
  const ddb = opts.ddb ?? createDocumentClient({ endpoint: config.dynamodbEndpoint });
  const store = new HealthStore(ddb, config.tableName);
  const recorder = new HealthRecorder();
  const metrics = opts.metrics ?? createMetrics();
  const sinks = config.healthRecording ? [recorder, new MetricsTelemetry(metrics)] : [new MetricsTelemetry(metrics)];
  const telemetry = new TelemetryFanout(sinks, (e) =>
    opts.log.warn('telemetry sink failed', { error: e instanceof Error ? e.message : String(e) }),
  );
  const sharing = config.keyStateSharing;
  // The pools live in the gateway, which needs the sharer first: the sharer looks them up lazily
  // (only once requests run, after `gateway` below is initialised).
  const keyState = sharing.enabled
    ? new SharedKeyState(ddb, config.tableName, (v): KeyPool => gateway.pools[v], opts.log, opts.clock, {
        ...DEFAULT_SHARING_POLICY,
        refreshIntervalMs: sharing.refreshIntervalMs,
        waitBudgetMs: sharing.waitBudgetMs,
      })
    : undefined;
  const gateway: Gateway = new Gateway(config, { clock: opts.clock, sleep: opts.sleep, random: opts.random, log: opts.log, telemetry, keyState });
  const flusher = new HealthFlusher(recorder, store, (p) => gateway.poolOf(p).counts(), opts.log, opts.clock, { ...DEFAULT_FLUSH_POLICY, ...opts.flushPolicy });
  const jobs = new JobService(gateway, new JobStore(ddb, config.tableName), config.jobs, opts.clock, opts.log, config.healthRecording ? recorder : undefined);
  const adapters = {
    video: klingVideo(config.baseUrls.kling, new KlingTokens(opts.clock)),
    audio: falQueueAudio(config.baseUrls.falQueue),
  };
  const app = createApp(gateway, [healthRoute(store, flusher, (p) => gateway.poolOf(p), opts.clock), ...jobRoutes(gateway, jobs, adapters, opts.clock)]);
  const afterResponse = async () => {
    await Promise.all([flusher.flushIfDue(), jobs.flushUnsaved(), keyState?.settle()]);
  };
  return { gateway, app, recorder, store, flusher, metrics, ddb, jobs, keyState, afterResponse };
}
