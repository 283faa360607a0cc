/**
 * Types for the two undici modules the transport imports directly (its Agent and its request API),
 * instead of undici's index: the index also brings fetch, WebSocket, caches and mocks — some 500 KiB
 * of bundle — that the transport never uses, and the bundle is cold start.
 */
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';
  const AgentClass: typeof Agent;
  export = AgentClass;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';
  function request(this: Dispatcher, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  export = request;
}
