import type { ProbeRunReport } from '../../lambda/probes/run';

/** EMF of a probe run: per vendor {service, vendor}, per key {service, vendor, key}, the names lib/ alarms on. */
test('probe runs as EMF: KeysPassingProbes and ProbeFailures per vendor, KeyQuotaUsedPercent per key', () => {
  const saved = { ...process.env };
  process.env.POWERTOOLS_DEV = 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'log').mockImplementation((s: string) => void lines.push(s));
  const item = (fingerprint: string, state: 'ok' | 'disabled') => ({ vendor: 'elevenlabs', fingerprint, keyId: 'k', state, probeResult: 'ok' as const, lastProbeAt: '' });
  const report: ProbeRunReport = {
    startedAt: 0,
    durationMs: 10,
    failed: false,
    vendors: [
      { vendor: 'openai', total: 0, keys: [], skipped: 0, items: [], storeErrors: 0 },
      {
        vendor: 'elevenlabs', total: 3, skipped: 0, storeErrors: 0,
        items: [item('a', 'ok'), item('b', 'ok'), item('c', 'disabled')],
        keys: [
          { keyId: 'elevenlabs#1', result: 'ok', state: 'ok', passed: true, conclusive: true, transportError: false, did: 'nothing', quotaUsedPercent: 86 },
          { keyId: 'elevenlabs#2', result: 'provider_error', state: 'ok', passed: false, conclusive: false, transportError: false, did: 'nothing' },
          { keyId: 'elevenlabs#3', result: 'invalid_key', state: 'disabled', passed: false, conclusive: true, transportError: false, did: 'disabled' },
        ],
      },
    ],
  };
  try {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { createMetrics } = require('../../lambda/observability/metrics') as typeof import('../../lambda/observability/metrics');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { publishProbeMetrics } = require('../../lambda/observability/probe-metrics') as typeof import('../../lambda/observability/probe-metrics');
      publishProbeMetrics(createMetrics(), report);
    });
  } finally {
    spy.mockRestore();
    process.env = saved;
  }
  const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } });
  expect(emf).toHaveLength(2);
  const [vendor, key] = emf;
  expect(vendor._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Nanobot', Dimensions: [['service', 'vendor']] });
  expect(vendor).toMatchObject({ service: 'nanobot', vendor: 'elevenlabs', KeysPassingProbes: 2, ProbeFailures: 2 });
  expect(key._aws.CloudWatchMetrics[0]).toMatchObject({ Dimensions: [['service', 'vendor', 'key']], Metrics: [{ Name: 'KeyQuotaUsedPercent', Unit: 'Percent' }] });
  expect(key).toMatchObject({ vendor: 'elevenlabs', key: 'elevenlabs#1', KeyQuotaUsedPercent: 86 });
});
