import { ROTATED_MESSAGE, ROTATED_TERM } from '../../lambda/contracts';
import { MemoryLog } from '../../lambda/observability/logger';
import { rotationLog } from '../../lambda/observability/rotation-log';
import type { RequestSummary } from '../../lambda/domain';

type MetricsModule = typeof import('../../lambda/observability/metrics');

/** The EMF lines a fresh metrics module prints while `use` runs (Powertools on, console captured). */
function emfLines(use: (m: MetricsModule) => void): string[] {
  const saved = { ...process.env };
  process.env.POWERTOOLS_DEV = 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
  try {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      use(require('../../lambda/observability/metrics') as MetricsModule);
    });
  } finally {
    spy.mockRestore();
    process.env = saved;
  }
  return lines;
}

/** EMF output of one request: namespace Nanobot, dimensions exactly {service, provider}, the documented names (TimeToFirstByte, StreamAborted only when there is one). */
test('one EMF line per request with the documented metric names', () => {
  const lines = emfLines(({ createMetrics, MetricsTelemetry }) => {
      const t = new MetricsTelemetry(createMetrics());
      const s: RequestSummary = {
        provider: 'openai-tts', served: true, status: 200, latencyMs: 420, attempts: 3, rateLimited: 2, rotations: 2,
        keysDisabled: 1, allKeysExhausted: false, upstreamLatencyMs: [12, 15, 380], at: Date.now(), ttfbMs: 180.4,
      };
      t.requestDone(s);
      t.requestDone({ ...s, provider: 'fal-flux', served: false, status: 429, rateLimited: 0, rotations: 0, keysDisabled: 0, allKeysExhausted: true, upstreamLatencyMs: [], ttfbMs: undefined });
      // A stream cut after its first byte: a failure, and StreamAborted.
      t.requestDone({ ...s, provider: 'elevenlabs-tts', served: false, rateLimited: 0, rotations: 0, keysDisabled: 0, upstreamLatencyMs: [90], ttfbMs: undefined, streamAborted: true });
      // A request that waited in the admission queue: QueueWait.
      t.requestDone({ ...s, queuedMs: 2_400.6 });
  });
  const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } });
  expect(emf).toHaveLength(4);
  const [first, second, third, fourth] = emf;
  expect(fourth).toMatchObject({ provider: 'openai-tts', QueueWait: 2_401 });
  expect(fourth._aws.CloudWatchMetrics[0].Metrics).toEqual(expect.arrayContaining([{ Name: 'QueueWait', Unit: 'Milliseconds' }]));
  for (const line of [first, second, third]) expect(line).not.toHaveProperty('QueueWait');
  const meta = first._aws.CloudWatchMetrics[0];
  expect(meta.Namespace).toBe('Nanobot');
  for (const line of emf) expect(line._aws.CloudWatchMetrics[0].Dimensions).toEqual([['service', 'provider']]);
  expect(first).toMatchObject({ service: 'nanobot', provider: 'openai-tts', Requests: 1, Successes: 1, Failures: 0, RateLimited: 2, KeyRotations: 2, KeysDisabled: 1, UpstreamLatency: [12, 15, 380], TimeToFirstByte: 180 });
  expect(meta.Metrics).toEqual(expect.arrayContaining([{ Name: 'UpstreamLatency', Unit: 'Milliseconds' }, { Name: 'TimeToFirstByte', Unit: 'Milliseconds' }, { Name: 'Requests', Unit: 'Count' }]));
  expect(first).not.toHaveProperty('StreamAborted');
  expect(second).toMatchObject({ provider: 'fal-flux', Requests: 1, Successes: 0, Failures: 1, AllKeysExhausted: 1 });
  expect(second).not.toHaveProperty('KeyRotations');
  expect(second).not.toHaveProperty('TimeToFirstByte');
  expect(second).not.toHaveProperty('StreamAborted');
  expect(third).toMatchObject({ provider: 'elevenlabs-tts', Requests: 1, Successes: 0, Failures: 1, StreamAborted: 1 });
  expect(third._aws.CloudWatchMetrics[0].Metrics).toEqual(expect.arrayContaining([{ Name: 'StreamAborted', Unit: 'Count' }]));
  expect(third).not.toHaveProperty('TimeToFirstByte');
});

test('the admission queue: QueueRefused for a refusal at once; a client gone from the queue emits its wait only', () => {
  const base: RequestSummary = {
    provider: 'openai-image', served: false, status: 429, latencyMs: 3, attempts: 0, rateLimited: 0, rotations: 0,
    keysDisabled: 0, allKeysExhausted: true, upstreamLatencyMs: [], at: Date.now(),
  };
  const lines = emfLines(({ createMetrics, MetricsTelemetry }) => {
    const t = new MetricsTelemetry(createMetrics());
    t.requestDone({ ...base, queueRefused: true });
    t.requestDone({ ...base, queuedMs: 3_000.2, clientGone: true });
  });
  const [refused, gone] = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] } });
  expect(lines).toHaveLength(2);
  expect(refused).toMatchObject({ provider: 'openai-image', QueueRefused: 1, Requests: 1, Failures: 1 });
  expect(refused._aws.CloudWatchMetrics[0].Metrics).toEqual(expect.arrayContaining([{ Name: 'QueueRefused', Unit: 'Count' }]));
  expect(refused).not.toHaveProperty('QueueWait');
  expect(gone._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name)).toEqual(['QueueWait']);
  expect(gone).toMatchObject({ provider: 'openai-image', QueueWait: 3_000 });
});

test('a fallback: one EMF line with Fallbacks = 1 on the provider fallen back from, dimensions {service, provider}', () => {
  const lines = emfLines(({ createMetrics, MetricsTelemetry, TelemetryFanout }) => {
    new TelemetryFanout([new MetricsTelemetry(createMetrics())]).fellBack('openai-tts', Date.now());
  });
  expect(lines).toHaveLength(1);
  const emf = JSON.parse(lines[0]) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
  expect(emf.Fallbacks).toBe(1);
  expect(emf.provider).toBe('openai-tts');
  expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name)).toEqual(['Fallbacks']);
  expect(emf._aws.CloudWatchMetrics[0].Dimensions[0].sort()).toEqual(['provider', 'service']);
});

test('the rotation log line contains the word the log metric filter counts (one contract, lambda/contracts.ts)', () => {
  expect(ROTATED_MESSAGE).toContain(ROTATED_TERM);
  const log = new MemoryLog();
  rotationLog(log).rotated?.({ provider: 'openai-tts', reason: 'rate_limited', fromKey: 'openai#1', toKey: 'openai#2' });
  expect(log.lines.map((l) => l.message)).toEqual([ROTATED_MESSAGE]);
});
