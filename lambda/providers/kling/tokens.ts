import { SignJWT } from 'jose';
import type { Classification, Clock, KeyCredential, UpstreamAnswer } from '../../domain';
import { classifyKling } from './classify';

/** A Kling API token: JWT HS256, `iss` = access key, valid 30 min, `nbf` 5 s in the past (clock skew). */
export async function klingJwt(access: string, secret: string, nowMs: number, ttlS = 1800): Promise<{ token: string; exp: number }> {
  const now = Math.floor(nowMs / 1000);
  const exp = now + ttlS;
  const token = await new SignJWT({ iss: access, exp, nbf: now - 5 })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
  return { token, exp: exp * 1000 };
}

/** Tokens are cached per key until a minute before they expire; a clock complaint (1003/1004) drops one. */
export class KlingTokens {
  private readonly cache = new Map<string, { token: string; exp: number }>();
  constructor(private readonly clock: Clock = Date.now) {}

  async bearer(key: KeyCredential): Promise<string> {
    const now = this.clock();
    // By fingerprint, not position: after a key list change `kling#1` may be another key.
    let t = this.cache.get(key.fingerprint);
    if (!t || t.exp - now < 60_000) {
      const [access, secret] = key.secret().split(':');
      t = await klingJwt(access, secret, now);
      this.cache.set(key.fingerprint, t);
    }
    return `Bearer ${t.token}`;
  }

  forget(key: KeyCredential): void {
    this.cache.delete(key.fingerprint);
  }

  /** Kling's classifier, dropping the key's cached token when Kling says it is not (or no longer) valid. */
  classify(key: KeyCredential | undefined, a: UpstreamAnswer, now: number): Classification {
    const c = classifyKling(a, now);
    if (key && (c.code === 'kling_1003' || c.code === 'kling_1004')) this.forget(key);
    return c;
  }
}
