import type { RequestSummary } from '../../lambda/domain';

/** EMF output of one request: namespace Nanobot, dimensions exactly {service, provider}, the documented names. */
test('one EMF line per request with the documented metric names', () => {
  const saved = { ...process.env };
  process.env.POWERTOOLS_DEV = 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
  try {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { createMetrics, MetricsTelemetry } = require('../../lambda/observability/metrics') as typeof import('../../lambda/observability/metrics');
      const t = new MetricsTelemetry(createMetrics());
      const s: RequestSummary = {
        provider: 'openai-tts', served: true, status: 200, latencyMs: 420, attempts: 3, rateLimited: 2, rotations: 2,
        keysDisabled: 1, allKeysExhausted: false, upstreamLatencyMs: [12, 15, 380], at: Date.now(),
      };
      t.requestDone(s);
      t.requestDone({ ...s, provider: 'fal-flux', served: false, status: 429, rateLimited: 0, rotations: 0, keysDisabled: 0, allKeysExhausted: true, upstreamLatencyMs: [] });
    });
  } finally {
    spy.mockRestore();
    process.env = saved;
  }
  const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } });
  expect(emf).toHaveLength(2);
  const [first, second] = emf;
  const meta = first._aws.CloudWatchMetrics[0];
  expect(meta.Namespace).toBe('Nanobot');
  expect(meta.Dimensions).toEqual([['service', 'provider']]);
  expect(first).toMatchObject({ service: 'nanobot', provider: 'openai-tts', Requests: 1, Successes: 1, Failures: 0, RateLimited: 2, KeyRotations: 2, KeysDisabled: 1, UpstreamLatency: [12, 15, 380] });
  expect(meta.Metrics).toEqual(expect.arrayContaining([{ Name: 'UpstreamLatency', Unit: 'Milliseconds' }, { Name: 'Requests', Unit: 'Count' }]));
  expect(second).toMatchObject({ provider: 'fal-flux', Requests: 1, Successes: 0, Failures: 1, AllKeysExhausted: 1 });
  expect(second).not.toHaveProperty('KeyRotations');
});
