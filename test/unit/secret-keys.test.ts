import * as http from 'http';
import { AddressInfo } from 'net';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadSecretKeys, parseSecretKeys, SecretKeys } from '../../lambda/config/secret-keys';
import { VENDORS } from '../../lambda/providers/registry';

describe('parseSecretKeys', () => {
  const ok: [string, string, SecretKeys][] = [
    [
      'arrays for every vendor',
      '{"openai":["sk-a","sk-b"],"elevenlabs":["el-1"],"fal":["id:secret"],"kling":["AK:SK"]}',
      { openai: ['sk-a', 'sk-b'], elevenlabs: ['el-1'], fal: ['id:secret'], kling: ['AK:SK'] },
    ],
    ['comma-separated strings', '{"openai":"sk-a, sk-b,,","kling":" AK:SK "}', { openai: ['sk-a', 'sk-b'], kling: ['AK:SK'] }],
    ['the empty template the stack creates', '{"openai":[],"elevenlabs":[],"fal":[],"kling":[]}', { openai: [], elevenlabs: [], fal: [], kling: [] }],
    ['blank-padded and empty entries (trimmed, dropped)', '{"openai":["  sk-a  ","", "   "]}', { openai: ['sk-a'] }],
    ['duplicate keys (first one kept)', '{"openai":["sk-a","sk-b","sk-a"]}', { openai: ['sk-a', 'sk-b'] }],
    ['unknown fields (ignored, the generated placeholder too)', '{"openai":["sk-a"],"_placeholder":"x1","azure":[1]}', { openai: ['sk-a'] }],
    ['null (no keys)', '{"fal":null}', { fal: [] }],
    ['no vendor at all', '{}', {}],
  ];
  it('reads a field for every vendor the gateway knows', () => {
    const all = Object.fromEntries(VENDORS.map((v) => [v, ['a:b']]));
    expect(parseSecretKeys(JSON.stringify(all))).toEqual(all);
  });

  it.each(ok)('accepts %s', (_name, json, expected) => {
    expect(parseSecretKeys(json)).toEqual(expected);
  });

  // Every malformed case carries a key-like value that must never appear in the message.
  const bad: [string, string, RegExp][] = [
    ['invalid JSON', '{"openai":["sk-LEAKED"', /not valid JSON/],
    ['a top-level array', '["sk-LEAKED"]', /must be a JSON object/],
    ['a top-level string', '"sk-LEAKED"', /must be a JSON object/],
    ['a number field', '{"elevenlabs":42}', /field "elevenlabs" must be an array of strings or a comma-separated string/],
    ['an object field', '{"openai":{"key":"sk-LEAKED"}}', /field "openai" must be an array/],
    ['a non-string entry', '{"openai":["sk-LEAKED",7]}', /field "openai" entry 2 must be a string/],
    ['whitespace inside a key', '{"openai":["sk-ok","sk LEAKED"]}', /field "openai" entry 2 is malformed: it contains whitespace/],
    ['a Kling entry without a colon', '{"kling":["AK:SK","LEAKEDSECRET"]}', /field "kling" entry 2 is malformed: expected ACCESS_KEY:SECRET_KEY/],
    ['a Kling entry with an empty half', '{"kling":"AK:SK,,LEAKED:"}', /field "kling" entry 3 is malformed/],
    ['a fal entry without a colon', '{"fal":["LEAKEDFALKEY"]}', /field "fal" entry 1 is malformed: expected KEY_ID:KEY_SECRET/],
    ['a NUL inside a key', '{"openai":["sk-ok","sk-LEAKED\\u0000x"]}', /field "openai" entry 2 is malformed: it contains an invisible character \(U\+0000\) at character 10$/],
    ['a zero-width space in a Kling secret', '{"kling":["AK:SK\\u200bLEAKED"]}', /field "kling" entry 1 is malformed: it contains an invisible character \(U\+200B\) at character 6$/],
    ['a BOM inside a comma-separated string', '{"elevenlabs":"el-LEAKED-1,el\\ufeffLEAKED"}', /field "elevenlabs" entry 2 is malformed: it contains an invisible character \(U\+FEFF\) at character 3$/],
  ];
  it.each(bad)('rejects %s, naming the field and position but not the value', (_name, json, message) => {
    let error: unknown;
    try {
      parseSecretKeys(json);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const text = String((error as Error).message);
    expect(text).toMatch(message);
    expect(text).not.toMatch(/LEAKED/);
    expect(text).not.toMatch(/sk-/);
  });
});

/**
 * A loopback stand-in for Secrets Manager speaking its JSON 1.1 protocol
 * (`POST /`, `X-Amz-Target: secretsmanager.GetSecretValue`).
 */
class FakeSecretsManager {
  readonly calls: { target: string; secretId: string }[] = [];
  readonly secrets = new Map<string, string>();
  private server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server.close((e) => (e ? reject(e) : resolve())));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string };
      const secretId = body.SecretId ?? '';
      this.calls.push({ target, secretId });
      const reply = (status: number, payload: object) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'req-1' });
        res.end(JSON.stringify(payload));
      };
      if (target !== 'secretsmanager.GetSecretValue') {
        reply(400, { __type: 'UnknownOperationException', message: `unexpected ${target}` });
        return;
      }
      const value = this.secrets.get(secretId);
      if (value === undefined) {
        reply(400, {
          __type: 'ResourceNotFoundException',
          message: "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      reply(200, {
        ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${secretId}-AbCdEf`,
        Name: secretId,
        SecretString: value,
        VersionId: 'v1',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_700_000_000,
      });
    });
  }
}

describe('loadSecretKeys against a Secrets Manager endpoint', () => {
  const fake = new FakeSecretsManager();
  let endpoint: string;
  const newClient = () =>
    new SecretsManagerClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
  const callsFor = (secretId: string) => fake.calls.filter((c) => c.secretId === secretId).length;

  beforeAll(async () => {
    endpoint = await fake.start();
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('fetches with GetSecretValue, parses, and serves the second call within maxAge from the cache', async () => {
    fake.secrets.set('nanobot/cached', '{"openai":["sk-one","sk-two"],"kling":"AK:SK"}');
    const client = newClient();

    const first = await loadSecretKeys('nanobot/cached', { client });
    expect(first).toEqual({ openai: ['sk-one', 'sk-two'], kling: ['AK:SK'] });
    expect(fake.calls.find((c) => c.secretId === 'nanobot/cached')?.target).toBe('secretsmanager.GetSecretValue');

    fake.secrets.set('nanobot/cached', '{"openai":["sk-rotated"]}');
    const second = await loadSecretKeys('nanobot/cached', { client });
    expect(second).toEqual(first);
    expect(callsFor('nanobot/cached')).toBe(1);
  });

  it('sees a rotated value once the cache may not be used (maxAgeSeconds 0)', async () => {
    fake.secrets.set('nanobot/fresh', '{"openai":["sk-old"]}');
    const client = newClient();
    expect(await loadSecretKeys('nanobot/fresh', { client, maxAgeSeconds: 0 })).toEqual({ openai: ['sk-old'] });

    fake.secrets.set('nanobot/fresh', '{"openai":["sk-old","sk-new"]}');
    expect(await loadSecretKeys('nanobot/fresh', { client, maxAgeSeconds: 0 })).toEqual({ openai: ['sk-old', 'sk-new'] });
    expect(callsFor('nanobot/fresh')).toBe(2);
  });

  it('fetches again after maxAge has passed', async () => {
    // Powertools stamps each cached value with an expiry and compares it with Date.now().
    const realNow = Date.now.bind(Date);
    let offsetMs = 0;
    const now = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offsetMs);
    try {
      fake.secrets.set('nanobot/expiring', '{"elevenlabs":["el-1"]}');
      const client = newClient();
      await loadSecretKeys('nanobot/expiring', { client, maxAgeSeconds: 60 });
      offsetMs = 30_000;
      await loadSecretKeys('nanobot/expiring', { client, maxAgeSeconds: 60 });
      expect(callsFor('nanobot/expiring')).toBe(1);

      fake.secrets.set('nanobot/expiring', '{"elevenlabs":["el-1","el-2"]}');
      offsetMs = 61_000;
      expect(await loadSecretKeys('nanobot/expiring', { client, maxAgeSeconds: 60 })).toEqual({
        elevenlabs: ['el-1', 'el-2'],
      });
      expect(callsFor('nanobot/expiring')).toBe(2);
    } finally {
      now.mockRestore();
    }
  });

  it('reports a missing secret by id and cause', async () => {
    await expect(loadSecretKeys('nanobot/missing', { client: newClient() })).rejects.toThrow(
      /could not read provider keys secret nanobot\/missing: Secrets Manager can't find the specified secret/,
    );
  });

  it('rejects a malformed secret without echoing its content', async () => {
    fake.secrets.set('nanobot/malformed', '{"kling":["AK:SK","sk-LEAKED-no-colon"]}');
    const error = await loadSecretKeys('nanobot/malformed', { client: newClient() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/field "kling" entry 2 is malformed/);
    expect((error as Error).message).not.toMatch(/LEAKED/);
  });
});
