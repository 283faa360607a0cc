/**
 * Kling imitation (base `<root>/kling`, like https://api-singapore.klingai.com), legacy AK/SK API.
 *   POST /v1/videos/text2video                   create a task (counts against the key's rate limit)
 *   GET  /v1/videos/text2video/{task_id}         query (also by external_task_id); not rate limited
 *   GET  /v1/videos/text2video?pageNum=&pageSize= list the key's tasks; not rate limited
 *   GET  /account/costs?start_time=&end_time=[&resource_pack_name=]  resource packs (probe; 1 request/s per key)
 * Auth `Authorization: Bearer <JWT HS256>` with payload {iss: access key, exp, nbf}; the signature
 * must verify with the registered secret of `iss`; exp/nbf are checked with 5 s leeway.
 *   1001 header missing/empty, 1002 not a well-formed HS256 JWT (or no/invalid exp),
 *   1000 unknown access key, bad signature, or key configured 'invalid', 1003 nbf in the future, 1004 expired.
 * A task belongs to the access key that created it: any other key gets 404 code 1203.
 * Every answer carries `request_id` in the body and the `x-request-id` header (header name UNCONFIRMED).
 */
import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { retryHeaders } from './limits';
import { echoText, headerSafe, type ErrorFault, type Exchange, type Route, type SandboxCore, type VendorModule } from './server';
import { isRecord, uuid } from './util';

export const KLING_MODELS = ['kling-v1', 'kling-v1-6', 'kling-v2-master', 'kling-v2-1-master', 'kling-v2-5-turbo', 'kling-v2-6', 'kling-v3'];
export const KLING_LEEWAY_S = 5;
/** /account/costs: "control the request rate (QPS<=1)". */
export const KLING_COSTS_LIMIT = { calls: 1, windowMs: 1000 };
export const KLING_PACK_TOTAL = 200;
export const DEFAULT_KLING_REMAINING = 118;

function b64url(buf: Buffer | string): string {
  return Buffer.from(buf).toString('base64url');
}

/** Mint a Kling JWT the way the official clients do: exp = now + ttl, nbf = now - 5. */
export function klingJwt(accessKey: string, secretKey: string, nowMs: number = Date.now(), ttlSeconds = 1800): string {
  const now = Math.floor(nowMs / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ iss: accessKey, exp: now + ttlSeconds, nbf: now - 5 }));
  const sig = createHmac('sha256', secretKey).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${sig}`;
}

/** Split an `ACCESS:SECRET` entry (the secret may itself contain ':'). */
export function splitKlingEntry(entry: string): { access: string; secret: string } {
  const i = entry.indexOf(':');
  if (i <= 0 || i === entry.length - 1) throw new Error('a Kling key entry must look like ACCESS_KEY:SECRET_KEY');
  return { access: entry.slice(0, i).trim(), secret: entry.slice(i + 1).trim() };
}

type JwtCheck = { ok: true; iss: string } | { ok: false; iss: string; code: number; message: string };

function parseJson(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function verifyKlingJwt(token: string, secrets: Map<string, string>, nowMs: number): JwtCheck {
  const parts = token.split('.');
  const invalid = (iss: string): JwtCheck => ({ ok: false, iss, code: 1002, message: 'Authorization is invalid' });
  if (parts.length !== 3) return invalid('');
  const [h = '', p = '', s = ''] = parts;
  const header = parseJson(h);
  const payload = parseJson(p);
  if (!isRecord(header) || !isRecord(payload)) return invalid('');
  const iss = typeof payload.iss === 'string' ? payload.iss : '';
  if (header.alg !== 'HS256' || iss === '') return invalid(iss);
  const secret = secrets.get(iss);
  if (secret === undefined) return { ok: false, iss, code: 1000, message: 'Authentication failed' };
  const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, iss, code: 1000, message: 'Authentication failed' };
  const now = nowMs / 1000;
  if (typeof payload.exp !== 'number') return invalid(iss);
  if (now > payload.exp + KLING_LEEWAY_S) return { ok: false, iss, code: 1004, message: 'Authorization token has expired' };
  if (typeof payload.nbf === 'number' && now < payload.nbf - KLING_LEEWAY_S) return { ok: false, iss, code: 1003, message: 'Authorization token is not yet valid' };
  return { ok: true, iss };
}

interface KlingTask {
  taskId: string;
  externalTaskId?: string;
  key: string;
  createdAt: number;
  model: string;
  prompt: string;
  duration: string;
  fails: boolean;
  videoId: string;
  /** Set by an echo fault on a query: the task failed with this task_status_msg. */
  echoMsg?: string;
}

export function createKling(core: SandboxCore): VendorModule {
  const tasks = new Map<string, KlingTask>();

  const err = (ex: Exchange, status: number, code: number, message: string, headers: Record<string, string> = {}): void => {
    ex.sendJson(status, { code, message, request_id: ex.requestId }, { headers });
  };
  const ok = (ex: Exchange, data: unknown): void => {
    ex.sendJson(200, { code: 0, message: 'SUCCEED', request_id: ex.requestId, data });
  };

  const view = (t: KlingTask): Record<string, unknown> => {
    const { phase } = core.jobPhase(t.createdAt);
    const status = t.echoMsg !== undefined ? 'failed' : phase === 'queued' ? 'submitted' : phase === 'running' ? 'processing' : t.fails ? 'failed' : 'succeed';
    const doneAt = t.createdAt + core.jobDurationMs;
    const data: Record<string, unknown> = {
      task_id: t.taskId,
      task_status: status,
      task_info: t.externalTaskId !== undefined ? { external_task_id: t.externalTaskId } : {},
      created_at: t.createdAt,
      updated_at: phase === 'done' ? doneAt : phase === 'running' ? Math.min(core.now(), doneAt) : t.createdAt,
    };
    if (status === 'failed') data.task_status_msg = t.echoMsg ?? 'Video generation failed: the prompt did not pass the content review (sandbox: prompt contains "fail").';
    if (status === 'succeed') {
      data.task_status_msg = '';
      data.task_result = {
        videos: [{ id: t.videoId, url: `${core.root()}/files/video/${t.taskId}.mp4`, duration: t.duration }],
      };
      data.final_unit_deduction = t.duration === '10' ? '2' : '1';
    }
    return data;
  };

  const create: Route['handle'] = (ex, key) => {
    const parsed = ex.json();
    if (!parsed.ok || !isRecord(parsed.value)) return err(ex, 400, 1200, 'Invalid request parameters: body is not valid JSON');
    const b = parsed.value;
    const bad = (message: string): void => err(ex, 400, 1201, message);
    const model = b.model_name ?? 'kling-v1';
    if (typeof model !== 'string' || !KLING_MODELS.includes(model)) return bad(`model_name value '${String(model)}' is invalid`);
    if (core.ruleFor('kling', key).restrict?.deniedModels?.includes(model)) return err(ex, 403, 1103, `No permission to access the requested resource: model ${model}`);
    const prompt = b.prompt;
    if (typeof prompt !== 'string' || prompt.trim() === '') return bad('prompt is required');
    if (prompt.length > 2500) return bad('prompt cannot exceed 2500 characters');
    const negative = b.negative_prompt;
    if (negative !== undefined && (typeof negative !== 'string' || negative.length > 2500)) return bad('negative_prompt cannot exceed 2500 characters');
    const duration = b.duration ?? '5';
    if (duration !== '5' && duration !== '10') return bad(`duration value '${String(duration)}' is invalid, supported: "5", "10"`);
    const aspect = b.aspect_ratio ?? '16:9';
    if (aspect !== '16:9' && aspect !== '9:16' && aspect !== '1:1') return bad(`aspect_ratio value '${String(aspect)}' is invalid`);
    const mode = b.mode ?? 'std';
    if (mode !== 'std' && mode !== 'pro') return bad(`mode value '${String(mode)}' is invalid`);
    if (b.cfg_scale !== undefined && (typeof b.cfg_scale !== 'number' || b.cfg_scale < 0 || b.cfg_scale > 1)) return bad('cfg_scale must be within [0, 1]');
    if (b.sound !== undefined && b.sound !== 'on' && b.sound !== 'off') return bad(`sound value '${String(b.sound)}' is invalid`);
    const external = b.external_task_id;
    if (external !== undefined && typeof external !== 'string') return bad('external_task_id must be a string');
    if (external !== undefined) {
      const existing = [...tasks.values()].find((t) => t.key === key && t.externalTaskId === external);
      if (existing) return ok(ex, view(existing));
    }
    const t: KlingTask = {
      taskId: `${Date.now()}${randomInt(100000, 999999)}`,
      externalTaskId: external,
      key,
      createdAt: core.now(),
      model,
      prompt,
      duration,
      fails: /fail/i.test(prompt),
      videoId: uuid(),
    };
    tasks.set(t.taskId, t);
    ok(ex, view(t));
  };

  const query: Route['handle'] = (ex, key) => {
    const id = ex.params.id ?? '';
    const t = tasks.get(id) ?? [...tasks.values()].find((x) => x.key === key && x.externalTaskId === id);
    if (!t || t.key !== key) return err(ex, 404, 1203, 'Task not found');
    ok(ex, view(t));
  };

  const list: Route['handle'] = (ex, key) => {
    const pageNum = Math.max(1, Number(ex.query.get('pageNum') ?? '1') || 1);
    const pageSize = Math.min(500, Math.max(1, Number(ex.query.get('pageSize') ?? '30') || 30));
    const mine = [...tasks.values()].filter((t) => t.key === key).sort((a, b) => b.createdAt - a.createdAt);
    ok(ex, mine.slice((pageNum - 1) * pageSize, pageNum * pageSize).map(view));
  };

  const costs: Route['handle'] = (ex, key) => {
    const start = ex.query.get('start_time');
    const end = ex.query.get('end_time');
    for (const [name, v] of [
      ['start_time', start],
      ['end_time', end],
    ] as const) {
      if (v === null || v === '') return err(ex, 400, 1201, `${name} is required`);
      if (!/^\d+$/.test(v)) return err(ex, 400, 1201, `${name} must be a Unix timestamp in ms`);
    }
    const rule = core.ruleFor('kling', key);
    const runOut = rule.state === 'quota';
    const remaining = runOut ? 0 : Math.min(KLING_PACK_TOTAL, rule.account?.remainingUnits ?? DEFAULT_KLING_REMAINING);
    const day = 86_400_000;
    const bought = Math.floor(core.now() / day) * day - 30 * day;
    const name = 'Video Generation - 200 units';
    const pack = {
      resource_pack_name: name,
      resource_pack_id: createHash('sha256').update(`pack:${key}`).digest('hex').slice(0, 32),
      resource_pack_type: 'decreasing_total',
      total_quantity: KLING_PACK_TOTAL,
      remaining_quantity: remaining,
      purchase_time: bought,
      effective_time: bought,
      invalid_time: bought + 365 * day,
      status: runOut || remaining === 0 ? 'runOut' : 'online',
    };
    const wanted = ex.query.get('resource_pack_name');
    ok(ex, { code: 0, msg: 'success', resource_pack_subscribe_infos: wanted !== null && wanted !== name ? [] : [pack] });
  };

  const rateLimited = (ex: Exchange, key: string, retryAfterMs: number): void =>
    err(ex, 429, 1302, 'Rate limit exceeded: the API request is too fast, please slow down the request frequency.', retryHeaders(core.hintFor('kling', key), retryAfterMs, core.now(), false));

  return {
    vendor: 'kling',
    prefix: '/kling',
    requestIdHeader: 'x-request-id',
    newRequestId: uuid,

    authenticate(ex) {
      const h = (ex.header('authorization') ?? '').trim();
      if (h === '' || /^Bearer\s*$/i.test(h)) return { ok: false, key: '', reply: (e) => err(e, 401, 1001, 'Authorization is empty') };
      const m = /^Bearer\s+(\S+)$/i.exec(h);
      if (!m) return { ok: false, key: '', reply: (e) => err(e, 401, 1002, 'Authorization is invalid') };
      const r = verifyKlingJwt(m[1] ?? '', core.klingSecrets, core.now());
      if (r.ok) return { ok: true, key: r.iss };
      return { ok: false, key: r.iss, reply: (e) => err(e, 401, r.code, r.message) };
    },

    match(method, path): Route | null {
      if (method === 'GET' && path === '/account/costs') {
        return { kind: 'json', limited: false, params: {}, handle: costs, probe: true, ownLimit: { limit: KLING_COSTS_LIMIT, bucket: 'costs' } };
      }
      if (path === '/v1/videos/text2video' || path === '/v1/videos/text2video/') {
        if (method === 'POST') return { kind: 'json', limited: true, params: {}, handle: create };
        if (method === 'GET') return { kind: 'json', limited: false, params: {}, handle: list };
        return null;
      }
      const m = /^\/v1\/videos\/text2video\/([^/]+)$/.exec(path);
      if (m && method === 'GET') return { kind: 'json', limited: false, params: { id: decodeURIComponent(m[1] ?? '') }, handle: query };
      return null;
    },

    notFound(ex) {
      err(ex, 404, 1202, `Request method or path is invalid: ${ex.method} ${ex.path}`);
    },

    invalidKey(ex) {
      err(ex, 401, 1000, 'Authentication failed');
    },

    quota(ex) {
      err(ex, 429, 1102, 'Account balance is insufficient: the resource pack is exhausted or expired.');
    },

    rateLimited(ex, key, verdict) {
      rateLimited(ex, key, verdict.resetMs);
    },

    echo(ex, fault, key) {
      const t = echoText(fault, { key: core.configuredKey('kling', key), secret: core.klingSecrets.get(key) ?? '', token: /^Bearer\s+(\S+)/i.exec(ex.header('authorization') ?? '')?.[1] ?? '' });
      const id = ex.params.id;
      const task = id === undefined ? undefined : (tasks.get(id) ?? [...tasks.values()].find((x) => x.key === key && x.externalTaskId === id));
      if (ex.method === 'GET' && task && task.key === key) {
        task.echoMsg = t;
        return ok(ex, view(task));
      }
      ex.sendJson(fault.status ?? 500, { code: t, message: t, request_id: t }, { headers: { 'x-request-id': headerSafe(t) } });
    },

    fault(ex, fault: ErrorFault, key) {
      if (fault.kind === 'concurrency') return err(ex, 429, 1303, 'parallel task over resource pack limit');
      if (fault.kind === 'system_busy') return err(ex, 503, 5001, 'Server temporarily unavailable, usually due to maintenance');
      const s = fault.status;
      if (s === 429) return rateLimited(ex, key, 1000);
      if (s === 500) return err(ex, 500, 5000, 'Server internal error');
      if (s === 503) return err(ex, 503, 5001, 'Server temporarily unavailable, usually due to maintenance');
      if (s === 504) return err(ex, 504, 5002, 'Server internal timeout, usually due to a backlog');
      if (s >= 500) return err(ex, s, 5000, 'Server internal error');
      if (s === 401) return err(ex, 401, 1000, 'Authentication failed');
      if (s === 403) return err(ex, 403, 1103, 'No permission to access the requested resource');
      if (s === 404) return err(ex, 404, 1203, 'Requested resource not found');
      return err(ex, s, 1200, 'Invalid request parameters');
    },

    reset() {
      tasks.clear();
    },
  };
}
