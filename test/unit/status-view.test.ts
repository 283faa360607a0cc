import { StatusView } from '../../lambda/health/status-view';

const log = () => {
  const warns: string[] = [];
  return { warns, log: { debug: () => undefined, info: () => undefined, warn: (m: string) => void warns.push(m), error: () => undefined } };
};

describe('StatusView: STATUS items read in the background for fallback chains', () => {
  test('nothing known until the first read; a read at most every refreshMs, never awaited by status()', async () => {
    let now = 0;
    let reads = 0;
    const store = { getStatus: async (p: string) => { reads += 1; return p === 'openai-tts' ? { status: 'down' } : { status: 'healthy' }; } };
    const { log: l } = log();
    const v = new StatusView(store, ['openai-tts', 'elevenlabs-tts'], () => now, l, 5_000);
    expect(v.status('openai-tts')).toBeUndefined(); // starts the read, answers at once
    await v.refresh();
    expect(v.status('openai-tts')).toBe('down');
    expect(v.status('elevenlabs-tts')).toBe('healthy');
    expect(reads).toBe(2);
    now = 4_999;
    v.status('openai-tts');
    expect(reads).toBe(2);
    now = 5_000;
    v.status('openai-tts');
    await v.refresh();
    expect(reads).toBe(4);
  });

  test('an unreadable store is logged and changes nothing; unknown values are ignored', async () => {
    let fail = false;
    const store = { getStatus: async () => { if (fail) throw new Error('store down'); return { status: 'sideways' }; } };
    const { warns, log: l } = log();
    const v = new StatusView(store, ['openai-tts'], () => 0, l, 1_000);
    await v.refresh();
    expect(v.status('openai-tts')).toBeUndefined();
    fail = true;
    await v.refresh();
    expect(warns).toEqual(['provider status unreadable']);
  });
});
