import { ConfigError, keysFromEnv, loadConfig, parseKeyList } from '../../lambda/config/env';

describe('key lists from the environment', () => {
  test.each<[string, Record<string, string>, string, string[]]>([
    ['plural only', { OPENAI_API_KEYS: 'sk-a,sk-b' }, 'openai', ['sk-a', 'sk-b']],
    ['singular only (old form)', { OPENAI_API_KEY: 'sk-a' }, 'openai', ['sk-a']],
    ['union, plural first, deduplicated', { OPENAI_API_KEYS: 'sk-b, sk-c', OPENAI_API_KEY: 'sk-a,sk-b' }, 'openai', ['sk-b', 'sk-c', 'sk-a']],
    ['trimmed, empties ignored', { ELEVENLABS_API_KEYS: ' e1 ,, e2 , ,' }, 'elevenlabs', ['e1', 'e2']],
    ['fal id:secret', { FAL_KEYS: 'id1:sec1,id2:sec2', FAL_KEY: 'id1:sec1' }, 'fal', ['id1:sec1', 'id2:sec2']],
    ['kling pairs', { KLING_API_KEYS: 'AK1:SK1', KLING_API_KEY: 'AK2:SK2' }, 'kling', ['AK1:SK1', 'AK2:SK2']],
    ['nothing set', {}, 'kling', []],
    ['only blanks', { OPENAI_API_KEYS: ' , ' }, 'openai', []],
  ])('%s', (_name, env, vendor, expected) => {
    expect(keysFromEnv(env, vendor as 'openai')).toEqual(expected);
  });

  test.each<[string, Record<string, string>, RegExp]>([
    ['kling entry without a colon', { KLING_API_KEYS: 'AK1:SK1, secretvalue123' }, /^KLING_API_KEYS entry 2 is malformed: expected ACCESS_KEY:SECRET_KEY$/],
    ['kling empty secret', { KLING_API_KEY: 'AKonly:' }, /^KLING_API_KEY entry 1 is malformed/],
    ['fal without secret part', { FAL_KEYS: 'justanid-secretvalue123' }, /^FAL_KEYS entry 1 is malformed: expected KEY_ID:KEY_SECRET$/],
    ['whitespace inside a key', { OPENAI_API_KEYS: 'sk-a,sk secretvalue123' }, /^OPENAI_API_KEYS entry 2 is malformed: it contains whitespace$/],
  ])('%s fails naming the variable and position, never the key', (_name, env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('secretvalue123');
  });

  // Control (Cc) and format (Cf) characters are invisible in a console or a pasted secret: a key
  // carrying one would fail every call with no visible cause.
  test.each<[string, string, string]>([
    ['NUL', 'sk-secretvalue123\u0000', 'U+0000) at character 19'],
    ['zero-width space', 'sk-secret\u200Bvalue123', 'U+200B) at character 11'],
    ['zero-width joiner', '\u200Dsk-secretvalue123', 'U+200D) at character 2'],
    ['soft hyphen (Cf)', 'sk-secret\u00ADvalue123', 'U+00AD) at character 11'],
    ['right-to-left mark (Cf)', 'sk-secretvalue123\u200F', 'U+200F) at character 19'],
    ['DEL (Cc)', 'sk-secret\u007Fvalue123', 'U+007F) at character 11'],
    ['C1 control NEL', 'sk-secret\u0085value123', 'U+0085) at character 11'],
    ['escape', '\u001B[0msk-secretvalue123', 'U+001B) at character 2'],
  ])('a key with %s fails start-up naming the variable, entry, character and position — never the key', (_name, bad, where) => {
    let error: unknown;
    try {
      loadConfig({ OPENAI_API_KEYS: `sk-fine-one, ${bad}` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    // The position counts the characters of the entry as written (its leading blank included).
    expect(message).toBe(`OPENAI_API_KEYS entry 2 is malformed: it contains an invisible character (${where}`);
    expect(message).not.toContain('secret');
    expect(message).not.toContain('value123');
  });

  test('a trailing newline or tab is whitespace and still trimmed away', () => {
    expect(keysFromEnv({ OPENAI_API_KEYS: 'sk-a\n, sk-b\t' }, 'openai')).toEqual(['sk-a', 'sk-b']);
  });

  test('positions count raw entries, so an operator can find the bad one', () => {
    expect(() => parseKeyList('a:b,,c', 'KLING_API_KEYS', 'A:S')).toThrow('KLING_API_KEYS entry 3 is malformed');
  });
});

describe('loadConfig', () => {
  test('defaults as documented', () => {
    const c = loadConfig({});
    expect(c.baseUrls).toEqual({
      openai: 'https://api.openai.com/v1',
      elevenlabs: 'https://api.elevenlabs.io',
      fal: 'https://fal.run',
      falQueue: 'https://queue.fal.run',
      falPlatform: 'https://api.fal.ai/v1',
      kling: 'https://api-singapore.klingai.com',
    });
    expect(c.probes).toEqual({ intervalMs: 60_000, timeoutMs: 5_000, runBudgetMs: 20_000, quotaWarnPercent: 80 });
    expect(c.tableName).toBe('nanobot-config');
    expect(c.dynamodbEndpoint).toBeUndefined();
    expect(c.keys).toEqual({ openai: [], elevenlabs: [], fal: [], kling: [] });
  });

  test('base URLs and numbers from the environment', () => {
    const c = loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:9/openai/v1/', TABLE_NAME: 't', DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000', MAX_KEY_WAIT_MS: '250' });
    expect(c.baseUrls.openai).toBe('http://127.0.0.1:9/openai/v1');
    expect(c.tableName).toBe('t');
    expect(c.dynamodbEndpoint).toBe('http://127.0.0.1:8000');
    expect(c.rotation.maxWaitMs).toBe(250);
  });

  test('probe settings: FAL_PLATFORM_BASE_URL, PROBE_INTERVAL_MS=0 turns the local timer off', () => {
    const c = loadConfig({ FAL_PLATFORM_BASE_URL: 'http://127.0.0.1:9/fal-api/v1/', PROBE_INTERVAL_MS: '0', PROBE_TIMEOUT_MS: '800', PROBE_RUN_BUDGET_MS: '5000', PROBE_QUOTA_WARN_PERCENT: '90' });
    expect(c.baseUrls.falPlatform).toBe('http://127.0.0.1:9/fal-api/v1');
    expect(c.probes).toEqual({ intervalMs: 0, timeoutMs: 800, runBudgetMs: 5_000, quotaWarnPercent: 90 });
  });

  test.each([
    [{ OPENAI_BASE_URL: 'not a url' }, 'OPENAI_BASE_URL is not a URL'],
    [{ KLING_BASE_URL: 'ftp://x' }, 'KLING_BASE_URL must be an http(s) URL'],
    [{ MAX_ATTEMPTS: '0' }, 'MAX_ATTEMPTS must be an integer ≥ 1'],
    [{ REQUEST_DEADLINE_MS: 'ten' }, 'REQUEST_DEADLINE_MS must be an integer'],
    [{ FAL_PLATFORM_BASE_URL: 'api.fal.ai' }, 'FAL_PLATFORM_BASE_URL is not a URL'],
    [{ PROBE_RUN_BUDGET_MS: '10' }, 'PROBE_RUN_BUDGET_MS must be an integer ≥ 1000'],
  ])('%j is refused', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
