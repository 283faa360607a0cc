import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TransportError } from '../../lambda/domain';
import { httpTransport } from '../../lambda/providers/http/transport';

const transport = httpTransport();

/** The HTTP transport's own facts, over real sockets: what counts as sent, and time-outs. */
test('a refused connection was never sent (safe to replay anywhere)', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const err = await transport.send({ method: 'POST', url: `http://127.0.0.1:${port}/v1/audio/speech`, headers: {}, body: '{}' }, 2_000).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TransportError);
  expect(err).toMatchObject({ sent: false, timedOut: false, causeCode: 'ECONNREFUSED' });
});

test('no answer within the budget: a time-out, possibly sent', async () => {
  const server = createServer(() => undefined); // accepts, never answers
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const err = await transport.send({ method: 'GET', url: `http://127.0.0.1:${port}/`, headers: {} }, 100).catch((e: unknown) => e);
  expect(err).toMatchObject({ sent: true, timedOut: true, causeCode: 'timeout' });
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
