/**
 * A minimal HTTP/1.1 client over node:http with keep-alive, used for every path a benchmark
 * compares (direct, ours, Portkey), so client overhead is the same on each.
 */
import http from 'node:http';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Client-observed time from send to the last body byte, ms. */
  ms: number;
  /** Set when there was no HTTP answer (connection error or client timeout). */
  error?: string;
}

export function agent(maxSockets = 1): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 1000 });
}

/** One request; never rejects: a transport failure or timeout comes back as status 0 with `error`. */
export function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: http.Agent; timeoutMs?: number } = {}): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: Omit<Answer, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...a, ms: performance.now() - t0 });
    };
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body) headers['content-length'] = String(body.length);
    const req = http.request(url, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => done({ status: 0, headers: {}, body: Buffer.alloc(0), error: e.message }));
    });
    const timer = setTimeout(() => {
      req.destroy(new Error('client timeout'));
    }, opts.timeoutMs ?? 60_000);
    req.on('error', (e) => done({ status: 0, headers: {}, body: Buffer.alloc(0), error: e.message }));
    req.end(body);
  });
}
