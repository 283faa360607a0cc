import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PostResponseExtension } from '../../lambda/platform/extension';
import { MemoryLog } from '../../lambda/observability/logger';

/**
 * The internal extension against a stand-in for Lambda's Extensions API on loopback: the
 * register call, and the ordering that makes the flush post-response — the extension asks for
 * its next event only after the handler said it is done and the work ran.
 */
interface Api {
  server: Server;
  runtimeApi: string;
  registered: { name?: string; body?: unknown }[];
  /** Each /event/next call resolves when the test pushes an event. */
  nextCalls: number;
  push(event: object): void;
  waitForNext(n: number): Promise<void>;
}

async function fakeApi(): Promise<Api> {
  const pending: ServerResponse[] = [];
  const queued: object[] = [];
  const api = {
    registered: [] as { name?: string; body?: unknown }[],
    nextCalls: 0,
  } as Api;
  const body = (req: IncomingMessage) => new Promise<string>((r) => { let s = ''; req.on('data', (c) => (s += c)); req.on('end', () => r(s)); });
  api.server = createServer(async (req, res) => {
    if (req.url === '/2020-01-01/extension/register' && req.method === 'POST') {
      api.registered.push({ name: req.headers['lambda-extension-name'] as string, body: JSON.parse(await body(req)) });
      res.writeHead(200, { 'lambda-extension-identifier': 'ext-id-1', 'content-type': 'application/json' });
      res.end('{}');
      return;
    }
    if (req.url === '/2020-01-01/extension/event/next' && req.headers['lambda-extension-identifier'] === 'ext-id-1') {
      api.nextCalls += 1;
      const ev = queued.shift();
      if (ev) res.end(JSON.stringify(ev));
      else pending.push(res);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
  api.runtimeApi = `127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  api.push = (ev) => {
    const res = pending.shift();
    if (res) res.end(JSON.stringify(ev));
    else queued.push(ev);
  };
  api.waitForNext = async (n) => {
    for (let i = 0; i < 200 && api.nextCalls < n; i++) await new Promise((r) => setTimeout(r, 5));
  };
  return api;
}

test('registers for INVOKE, runs the work only after the handler is done, then asks for the next event', async () => {
  const api = await fakeApi();
  const order: string[] = [];
  const ext = await PostResponseExtension.register(api.runtimeApi, 'nanobot-health', async () => {
    order.push('work');
  }, new MemoryLog());
  expect(ext).toBeDefined();
  expect(api.registered).toEqual([{ name: 'nanobot-health', body: { events: ['INVOKE'] } }]);
  await api.waitForNext(1);
  expect(api.nextCalls).toBe(1);

  api.push({ eventType: 'INVOKE', requestId: 'req-1', deadlineMs: Date.now() + 10_000 });
  await new Promise((r) => setTimeout(r, 50));
  // The handler has not returned yet: no work, and no next call (Lambda keeps the environment up).
  expect(order).toEqual([]);
  expect(api.nextCalls).toBe(1);
  order.push('response');
  ext!.invocationDone('req-1');
  await api.waitForNext(2);
  expect(order).toEqual(['response', 'work']);

  // The handler may finish before the extension even sees the event.
  ext!.invocationDone('req-2');
  api.push({ eventType: 'INVOKE', requestId: 'req-2', deadlineMs: Date.now() + 10_000 });
  await api.waitForNext(3);
  expect(order).toEqual(['response', 'work', 'work']);

  ext!.stop();
  api.push({ eventType: 'SHUTDOWN' });
  api.server.closeAllConnections();
  await new Promise<void>((r) => api.server.close(() => r()));
});

test('a failed registration is logged and leaves the caller to flush inline', async () => {
  const log = new MemoryLog();
  const ext = await PostResponseExtension.register('127.0.0.1:9', 'x', async () => undefined, log);
  expect(ext).toBeUndefined();
  expect(log.lines[0]).toMatchObject({ level: 'WARN', message: expect.stringContaining('extension registration failed') });
});
