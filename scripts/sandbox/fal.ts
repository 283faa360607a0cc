/**
 * fal.ai imitation: two modules sharing the same apps.
 *   sync  `<root>/fal`        (like https://fal.run):        POST /{owner}/{app}[/{path}] -> output JSON
 *   queue `<root>/fal-queue`  (like https://queue.fal.run):  POST /{owner}/{app}[/{path}] -> submit
 *         GET  /{owner}/{app}/requests/{id}/status[?logs=1]  202 IN_QUEUE / IN_PROGRESS, 200 COMPLETED
 *         GET  /{owner}/{app}/requests/{id}                  result (400 "still in progress" before completion)
 *         PUT  /{owner}/{app}/requests/{id}/cancel           202 CANCELLATION_REQUESTED / 400 ALREADY_COMPLETED
 * Status/result/cancel URLs use owner/app only (the model subpath is dropped, as on real fal): a
 * client that polls `/fal-ai/flux/dev/requests/{id}/status` gets 404.
 * Apps: fal-ai/flux/dev, fal-ai/flux/schnell, fal-ai/stable-audio.
 * Auth `Authorization: Key <id:secret>`; header x-fal-request-id.
 * A third module imitates the platform API (`<root>/fal-api/v1`, like https://api.fal.ai/v1):
 *   GET /v1/account/billing[?expand=credits] -> {username, credits?:{current_balance, currency}} (probe)
 *   with its own error shape `{"error":{"type","message"}}`.
 */
import { retryHeaders } from './limits';
import { musicWavSize, clampAudioSeconds } from './files';
import { echoText, headerSafe, type EchoFault, type ErrorFault, type Exchange, type Route, type SandboxCore, type VendorModule } from './server';
import { hash32, isRecord, randomAlnum, uuid } from './util';

export const FAL_KEY_PATTERN = /^[A-Za-z0-9_-]{4,}:[A-Za-z0-9_-]{8,}$/;

export const FLUX_SIZES: Record<string, [number, number]> = {
  square_hd: [1024, 1024],
  square: [512, 512],
  portrait_4_3: [768, 1024],
  portrait_16_9: [576, 1024],
  landscape_4_3: [1024, 768],
  landscape_16_9: [1024, 576],
};

const APPS = ['fal-ai/flux/dev', 'fal-ai/flux/schnell', 'fal-ai/stable-audio'];

interface ValidationItem {
  loc: (string | number)[];
  msg: string;
  type: string;
}

type AppResult = { ok: true; output: Record<string, unknown> } | { ok: false; errors: ValidationItem[] };

function missing(field: string): ValidationItem {
  return { loc: ['body', field], msg: 'field required', type: 'value_error.missing' };
}

function intField(b: Record<string, unknown>, field: string, def: number, lo: number, hi: number, errors: ValidationItem[]): number {
  const v = b[field];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    errors.push({ loc: ['body', field], msg: 'value is not a valid integer', type: 'type_error.integer' });
    return def;
  }
  if (v < lo) errors.push({ loc: ['body', field], msg: `ensure this value is greater than or equal to ${lo}`, type: 'value_error.number.not_ge' });
  if (v > hi) errors.push({ loc: ['body', field], msg: `ensure this value is less than or equal to ${hi}`, type: 'value_error.number.not_le' });
  return v;
}

function runFlux(core: SandboxCore, app: string, b: Record<string, unknown>): AppResult {
  const errors: ValidationItem[] = [];
  if (b.prompt === undefined || b.prompt === null) errors.push(missing('prompt'));
  else if (typeof b.prompt !== 'string') errors.push({ loc: ['body', 'prompt'], msg: 'str type expected', type: 'type_error.str' });
  let width = 1024;
  let height = 768;
  const size = b.image_size ?? 'landscape_4_3';
  if (typeof size === 'string') {
    const preset = FLUX_SIZES[size];
    if (preset) [width, height] = preset;
    else errors.push({ loc: ['body', 'image_size'], msg: `value is not a valid enumeration member; permitted: ${Object.keys(FLUX_SIZES).map((s) => `'${s}'`).join(', ')}`, type: 'type_error.enum' });
  } else if (isRecord(size)) {
    width = intField(size, 'width', 512, 1, 14142, errors);
    height = intField(size, 'height', 512, 1, 14142, errors);
  } else errors.push({ loc: ['body', 'image_size'], msg: 'value is not a valid dict', type: 'type_error.dict' });
  const schnell = app.endsWith('/schnell');
  const numImages = intField(b, 'num_images', 1, 1, 4, errors);
  intField(b, 'num_inference_steps', schnell ? 4 : 28, 1, schnell ? 12 : 50, errors);
  const seed = intField(b, 'seed', hash32(`${String(b.prompt)}${core.now()}`) % 2_147_483_647, 0, Number.MAX_SAFE_INTEGER, errors);
  const fmt = b.output_format ?? 'jpeg';
  if (fmt !== 'jpeg' && fmt !== 'png') errors.push({ loc: ['body', 'output_format'], msg: "value is not a valid enumeration member; permitted: 'jpeg', 'png'", type: 'type_error.enum' });
  if (b.guidance_scale !== undefined && (typeof b.guidance_scale !== 'number' || b.guidance_scale < 1 || b.guidance_scale > 20)) {
    errors.push({ loc: ['body', 'guidance_scale'], msg: 'ensure this value is between 1 and 20', type: 'value_error.number' });
  }
  if (errors.length > 0) return { ok: false, errors };
  const ext = fmt === 'png' ? 'png' : 'jpg';
  const images = Array.from({ length: numImages }, (_, i) => ({
    url: `${core.root()}/files/image/${randomAlnum(21)}.${ext}?seed=${seed + i}`,
    width,
    height,
    content_type: fmt === 'png' ? 'image/png' : 'image/jpeg',
  }));
  return {
    ok: true,
    output: {
      images,
      timings: { inference: schnell ? 0.41 : 1.87 },
      seed,
      has_nsfw_concepts: images.map(() => false),
      prompt: b.prompt,
    },
  };
}

function runStableAudio(core: SandboxCore, b: Record<string, unknown>): AppResult {
  const errors: ValidationItem[] = [];
  if (b.prompt === undefined || b.prompt === null) errors.push(missing('prompt'));
  else if (typeof b.prompt !== 'string') errors.push({ loc: ['body', 'prompt'], msg: 'str type expected', type: 'type_error.str' });
  const total = intField(b, 'seconds_total', 30, 0, 47, errors);
  intField(b, 'seconds_start', 0, 0, 47, errors);
  intField(b, 'steps', 100, 1, 1000, errors);
  if (errors.length > 0) return { ok: false, errors };
  const seconds = clampAudioSeconds(total);
  const name = `${randomAlnum(21)}.wav`;
  return {
    ok: true,
    output: {
      audio_file: {
        url: `${core.root()}/files/audio/${name}?seconds=${seconds}&seed=${encodeURIComponent(String(b.prompt).slice(0, 200))}`,
        content_type: 'audio/wav',
        file_name: name,
        file_size: musicWavSize(seconds),
      },
    },
  };
}

function runApp(core: SandboxCore, app: string, b: Record<string, unknown>): AppResult {
  return app === 'fal-ai/stable-audio' ? runStableAudio(core, b) : runFlux(core, app, b);
}

function findApp(path: string): string | undefined {
  const p = path.replace(/\/+$/, '');
  return APPS.find((a) => p === `/${a}` || p.startsWith(`/${a}/`));
}

interface QueueJob {
  id: string;
  app: string;
  /** owner/app: the prefix of the status/result/cancel URLs. */
  ownerApp: string;
  key: string;
  createdAt: number;
  output: Record<string, unknown>;
  cancelled: boolean;
}

/** The parts of a fal key an echo canary may name. */
function falEcho(fault: EchoFault, key: string): string {
  const i = key.indexOf(':');
  return echoText(fault, { key, secret: i > 0 ? key.slice(i + 1) : '' });
}

/** An app the key may not call (KeyRule.restrict.deniedModels): 403 that is not an account lock. */
function deniedApp(core: SandboxCore, ex: Exchange, key: string, app: string): boolean {
  if (!core.ruleFor('fal', key).restrict?.deniedModels?.includes(app)) return false;
  ex.sendJson(403, { detail: `Access denied: this key is not allowed to use the application ${app}.` });
  return true;
}

/** Shared auth and error answers of both fal modules. */
function falCommon(
  core: SandboxCore,
): Pick<VendorModule, 'vendor' | 'requestIdHeader' | 'newRequestId' | 'authenticate' | 'notFound' | 'invalidKey' | 'quota' | 'rateLimited' | 'fault' | 'echo' | 'concurrencyLimited'> {
  const invalidKey = (ex: Exchange): void => {
    const missingAuth = (ex.header('authorization') ?? '') === '';
    ex.sendJson(401, { detail: missingAuth ? 'Authentication is required to access this application.' : 'No user found for Key ID and Secret' });
  };
  const quota = (ex: Exchange): void => {
    ex.sendJson(403, { detail: 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.' });
  };
  const tooMany = (ex: Exchange, key: string, retryAfterMs: number, concurrent?: number): void => {
    const max = concurrent ?? core.limitFor('fal', key)?.calls ?? 2;
    ex.sendJson(429, { detail: `Too many concurrent requests: your account is limited to ${max} concurrent requests.` }, { headers: retryHeaders(core.hintFor('fal', key), retryAfterMs, core.now(), false) });
  };
  const infra = (ex: Exchange, status: number, errorType: string, message: string): void => {
    ex.sendJson(status, { detail: message, error_type: errorType }, { headers: { 'x-fal-error-type': errorType } });
  };
  return {
    vendor: 'fal',
    requestIdHeader: 'x-fal-request-id',
    newRequestId: uuid,
    authenticate(ex) {
      const m = /^Key\s+(\S+)\s*$/i.exec(ex.header('authorization') ?? '');
      const key = m?.[1] ?? '';
      const valid = key !== '' && (core.isKnown('fal', key) || (core.acceptUnknownKeys && FAL_KEY_PATTERN.test(key)));
      if (valid) return { ok: true, key };
      return { ok: false, key, reply: invalidKey };
    },
    notFound(ex) {
      ex.sendJson(404, { detail: 'Not Found' });
    },
    invalidKey,
    quota,
    rateLimited(ex, key, verdict) {
      tooMany(ex, key, verdict.resetMs);
    },
    concurrencyLimited(ex, key, _current, max) {
      tooMany(ex, key, 1000, max);
    },
    echo(ex, fault, key) {
      const t = falEcho(fault, key);
      const h = headerSafe(t);
      ex.sendJson(fault.status ?? 500, { detail: t, error_type: t }, { headers: { 'x-fal-error-type': h, 'x-fal-request-id': h } });
    },
    fault(ex, fault: ErrorFault, key) {
      if (fault.kind === 'concurrency') return tooMany(ex, key, 1000);
      if (fault.kind === 'system_busy') return infra(ex, 503, 'runner_scheduling_failure', 'Failed to schedule a runner for the request.');
      const s = fault.status;
      switch (s) {
        case 401:
          return invalidKey(ex);
        case 403:
          return quota(ex);
        case 429:
          return tooMany(ex, key, 1000);
        case 422:
          return ex.sendJson(422, { detail: [{ loc: ['body'], msg: 'invalid input', type: 'value_error' }] });
        case 400:
          return infra(ex, 400, 'bad_request', 'Bad request');
        case 499:
          return infra(ex, 499, 'client_disconnected', 'Client disconnected');
        case 500:
          return infra(ex, 500, 'internal_error', 'Internal server error');
        case 502:
          return infra(ex, 502, 'runner_incomplete_response', 'The runner returned an incomplete response.');
        case 503:
          return infra(ex, 503, 'runner_scheduling_failure', 'Failed to schedule a runner for the request.');
        case 504:
          return infra(ex, 504, 'request_timeout', 'Request timed out');
        default:
          return s >= 500 ? infra(ex, s, 'internal_error', 'Internal server error') : ex.sendJson(s, { detail: 'Request failed' });
      }
    },
  };
}

/** Parses and runs a request's input; answers fal's 422 itself (and returns undefined) when it is not valid. */
function runInput(core: SandboxCore, app: string, ex: Exchange): { ok: true; output: Record<string, unknown> } | undefined {
  const parsed = ex.json();
  if (!parsed.ok || !isRecord(parsed.value)) {
    ex.sendJson(422, { detail: [{ loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', type: 'model_attributes_type' }] });
    return undefined;
  }
  const r = runApp(core, app, parsed.value);
  if (!r.ok) {
    ex.sendJson(422, { detail: r.errors });
    return undefined;
  }
  return r;
}

export function createFalSync(core: SandboxCore): VendorModule {
  const common = falCommon(core);
  const run: Route['handle'] = (ex, key) => {
    const app = ex.params.app ?? '';
    if (deniedApp(core, ex, key, app)) return;
    const r = runInput(core, app, ex);
    if (!r) return;
    ex.sendJson(200, r.output);
  };
  return {
    ...common,
    prefix: '/fal',
    match(method, path) {
      const app = findApp(path);
      if (method === 'POST' && app) return { kind: 'json', limited: true, params: { app }, handle: run };
      return null;
    },
  };
}

export interface FalQueueModule extends VendorModule {
  jobCount(): number;
}

export function createFalQueue(core: SandboxCore): FalQueueModule {
  const common = falCommon(core);
  const jobs = new Map<string, QueueJob>();

  const urls = (job: QueueJob): Record<string, string> => {
    const base = `${core.root()}/fal-queue/${job.ownerApp}/requests/${job.id}`;
    return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
  };

  const lookup = (ex: Exchange, key: string): QueueJob | undefined => {
    const job = jobs.get(ex.params.id ?? '');
    if (!job || job.key !== key || job.ownerApp !== ex.params.ownerApp) {
      ex.sendJson(404, { detail: `Request ${ex.params.id ?? ''} not found` });
      return undefined;
    }
    return job;
  };

  const queuePosition = (job: QueueJob): number =>
    [...jobs.values()].filter((j) => j.key === job.key && j.createdAt < job.createdAt && core.jobPhase(j.createdAt).phase === 'queued').length;

  const submit: Route['handle'] = (ex, key) => {
    const app = ex.params.app ?? '';
    if (deniedApp(core, ex, key, app)) return;
    const r = runInput(core, app, ex);
    if (!r) return;
    const [owner = '', name = ''] = app.split('/');
    const job: QueueJob = { id: uuid(), app, ownerApp: `${owner}/${name}`, key, createdAt: core.now(), output: r.output, cancelled: false };
    jobs.set(job.id, job);
    ex.sendJson(200, { status: 'IN_QUEUE', request_id: job.id, ...urls(job), queue_position: queuePosition(job) });
  };

  const status: Route['handle'] = (ex, key) => {
    const job = lookup(ex, key);
    if (!job) return;
    const withLogs = ex.query.get('logs') === '1' || ex.query.get('logs') === 'true';
    const { phase, fraction } = core.jobPhase(job.createdAt);
    const base = { request_id: job.id, ...urls(job) };
    if (job.cancelled || phase === 'done') {
      return ex.sendJson(200, {
        status: 'COMPLETED',
        ...base,
        logs: withLogs ? [{ message: job.cancelled ? 'Request cancelled' : 'Generation finished', level: 'INFO', source: 'user', timestamp: new Date(core.now()).toISOString() }] : null,
        metrics: { inference_time: Math.round(core.jobDurationMs * 0.8) / 1000 },
      });
    }
    if (phase === 'queued') return ex.sendJson(202, { status: 'IN_QUEUE', ...base, queue_position: queuePosition(job) });
    ex.sendJson(202, {
      status: 'IN_PROGRESS',
      ...base,
      logs: withLogs ? [{ message: `step ${Math.round(fraction * 100)}/100`, level: 'INFO', source: 'user', timestamp: new Date(core.now()).toISOString() }] : null,
    });
  };

  const result: Route['handle'] = (ex, key) => {
    const job = lookup(ex, key);
    if (!job) return;
    if (job.cancelled) return ex.sendJson(400, { detail: 'Request was cancelled' });
    if (core.jobPhase(job.createdAt).phase !== 'done') return ex.sendJson(400, { detail: 'Request is still in progress' });
    ex.sendJson(200, job.output);
  };

  const cancel: Route['handle'] = (ex, key) => {
    const job = lookup(ex, key);
    if (!job) return;
    if (job.cancelled || core.jobPhase(job.createdAt).phase === 'done') return ex.sendJson(400, { status: 'ALREADY_COMPLETED' });
    job.cancelled = true;
    ex.sendJson(202, { status: 'CANCELLATION_REQUESTED' });
  };

  return {
    ...common,
    prefix: '/fal-queue',
    match(method, path) {
      const m = /^\/([^/]+)\/([^/]+)\/requests\/([^/]+)(\/status|\/cancel)?\/?$/.exec(path);
      if (m) {
        const params = { ownerApp: `${m[1] ?? ''}/${m[2] ?? ''}`, id: m[3] ?? '' };
        const tail = m[4];
        if (method === 'GET' && tail === '/status') return { kind: 'json', limited: false, params, handle: status };
        if (method === 'GET' && tail === undefined) return { kind: 'json', limited: false, params, handle: result };
        if (method === 'PUT' && tail === '/cancel') return { kind: 'json', limited: false, params, handle: cancel };
        return null;
      }
      const app = findApp(path);
      if (method === 'POST' && app) return { kind: 'json', limited: false, params: { app }, handle: submit };
      return null;
    },
    reset() {
      jobs.clear();
    },
    jobCount: () => jobs.size,
  };
}

/** Default credits.current_balance (USD) of a sandbox fal key. */
export const DEFAULT_FAL_BALANCE = 24.5;

/** fal's platform API (https://api.fal.ai/v1): same keys and fault queue as the other fal bases. */
export function createFalPlatform(core: SandboxCore): VendorModule {
  const common = falCommon(core);
  const error = (ex: Exchange, status: number, type: string, message: string, headers: Record<string, string> = {}): void => {
    ex.sendJson(status, { error: { type, message } }, { headers });
  };
  const invalidKey = (ex: Exchange): void => error(ex, 401, 'authorization_error', 'Invalid API key or malformed Authorization header');

  const billing: Route['handle'] = (ex, key) => {
    const rule = core.ruleFor('fal', key);
    const expand = ex.query.getAll('expand').flatMap((v) => v.split(','));
    // An account name derived from the key, never a fragment of it.
    const out: Record<string, unknown> = { username: `sandbox-team-${hash32(`account:${key}`).toString(36)}` };
    if (expand.includes('credits')) {
      out.credits = { current_balance: rule.state === 'quota' ? 0 : (rule.account?.creditBalance ?? DEFAULT_FAL_BALANCE), currency: 'USD' };
    }
    ex.sendJson(200, out);
  };

  return {
    ...common,
    prefix: '/fal-api',
    match(method, path): Route | null {
      if (method === 'GET' && (path === '/v1/account/billing' || path === '/v1/account/billing/')) {
        return { kind: 'json', limited: false, params: {}, handle: billing, scope: 'billing:usage:read', probe: true };
      }
      return null;
    },
    authenticate(ex) {
      const r = common.authenticate(ex);
      return r.ok ? r : { ok: false, key: r.key, reply: invalidKey };
    },
    notFound(ex) {
      error(ex, 404, 'not_found', 'Not Found');
    },
    invalidKey,
    quota(ex) {
      error(ex, 403, 'authorization_error', 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.');
    },
    rateLimited(ex, key, verdict) {
      error(ex, 429, 'rate_limited', 'Too many requests', retryHeaders(core.hintFor('fal', key), verdict.resetMs, core.now(), false));
    },
    missingScope(ex, _key, scope, status) {
      error(ex, status ?? 403, 'authorization_error', `This API key does not have the ${scope} permission required by this endpoint (an ADMIN key or a key with billing access is needed).`);
    },
    echo(ex, fault, key) {
      const t = falEcho(fault, key);
      const h = headerSafe(t);
      ex.sendJson(fault.status ?? 500, { error: { type: t, message: t }, detail: t, error_type: t }, { headers: { 'x-fal-error-type': h, 'x-fal-request-id': h } });
    },
    fault(ex, fault: ErrorFault, key) {
      if (fault.kind === 'concurrency' || (fault.kind === 'status' && fault.status === 429)) {
        return error(ex, 429, 'rate_limited', 'Too many requests', retryHeaders(core.hintFor('fal', key), 1000, core.now(), false));
      }
      if (fault.kind === 'system_busy') return error(ex, 503, 'service_unavailable', 'Service temporarily unavailable');
      const s = fault.status;
      if (s === 401) return invalidKey(ex);
      if (s === 403) return error(ex, 403, 'authorization_error', 'Forbidden');
      if (s >= 500) return error(ex, s, s === 503 ? 'service_unavailable' : 'internal_error', 'Internal server error');
      error(ex, s, 'bad_request', 'Request failed');
    },
  };
}
