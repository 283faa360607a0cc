import type { MediaHosts } from '../domain';

/** Longest result URL we store or redirect to. */
const MAX_URL_LENGTH = 2048;

export type MediaUrlCheck = { ok: true; url: string } | { ok: false; reason: string; host?: string };

/** `cdn.x.com` matches that host only; `.x.com` matches any subdomain of x.com (not x.com itself). */
export function hostMatches(host: string, rule: string): boolean {
  const r = rule.toLowerCase();
  return r.startsWith('.') ? host.endsWith(r) && host.length > r.length : host === r;
}

/**
 * Where a job's result URL may send a client (`GET /v1/videos/{id}/content` redirects to it, the
 * job resource shows it): `https:` on the vendor's documented media hosts or on the operator's
 * extra hosts (`MEDIA_URL_HOSTS`), or exactly a configured base URL's origin (the local sandbox
 * serves its files there). No credentials in the URL, no explicit port on a host rule, no control
 * characters or whitespace anywhere (a CR/LF must never reach a `Location` header). Anything else —
 * `http://169.254.169.254/…`, `javascript:…`, `file:///…`, `//evil.example` — is refused.
 */
export function checkMediaUrl(raw: unknown, media: MediaHosts, extraHosts: readonly string[]): MediaUrlCheck {
  if (typeof raw !== 'string' || raw === '') return { ok: false, reason: 'not a URL' };
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: 'too long' };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u009f\u2028\u2029]/.test(raw)) return { ok: false, reason: 'control character or whitespace' };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  const host = u.hostname.toLowerCase().slice(0, 253);
  if (u.username !== '' || u.password !== '') return { ok: false, reason: 'credentials in the URL', host: host.slice(0, 100) };
  if (media.origins.includes(u.origin)) return { ok: true, url: u.href };
  if (u.protocol !== 'https:') return { ok: false, reason: `scheme ${u.protocol.slice(0, 20)} is not https`, host };
  if (u.port !== '') return { ok: false, reason: 'explicit port', host };
  if (![...media.hosts, ...extraHosts].some((rule) => hostMatches(host, rule))) return { ok: false, reason: 'host not allowed', host };
  return { ok: true, url: u.href };
}
