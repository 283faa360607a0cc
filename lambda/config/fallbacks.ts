import type { VoiceMap } from '../providers/types';
import { imageProviderFor, speechProviderFor } from '../providers/registry';
import { OwnError } from '../domain';

/**
 * Fallback chains and the voice map: operator configuration, off unless set. A chain is, per
 * model, an ordered list of alternative models on the same route (speech or images), usually on
 * another provider. From `MODEL_FALLBACKS` / `VOICE_MAP` (JSON) and the provider-keys secret's
 * `fallbacks` / `voices` fields; the secret's entry for a model (or voice) wins over the env's.
 */
export interface FallbackConfig {
  chains: Record<string, string[]>;
  voices: VoiceMap;
}

/** A chain or voice map that cannot be used: start-up fails, naming the variable or secret field. */
export class FallbackConfigError extends OwnError {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Capability = 'speech' | 'image';

function capabilityOf(model: string): Capability | undefined {
  if (speechProviderFor(model)) return 'speech';
  if (imageProviderFor(model)) return 'image';
  return undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON text (env) → value; `undefined` for unset or blank. */
export function parseJsonSetting(raw: string | undefined, where: string): unknown {
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new FallbackConfigError(`${where} is not valid JSON`);
  }
}

/** `{"tts-1":["eleven_turbo_v2_5"]}` → chains; every model known, every alternative on the same route, no repeats. */
export function parseChains(doc: unknown, where: string): Record<string, string[]> {
  if (doc === undefined || doc === null) return {};
  if (!isRecord(doc)) throw new FallbackConfigError(`${where} must be a JSON object of model → [alternative models]`);
  const out: Record<string, string[]> = {};
  for (const [model, list] of Object.entries(doc)) {
    const cap = capabilityOf(model);
    if (!cap) throw new FallbackConfigError(`${where}: unknown model ${JSON.stringify(model)} (only speech and image models can fall back)`);
    if (!Array.isArray(list) || list.some((m) => typeof m !== 'string')) throw new FallbackConfigError(`${where}.${model} must be an array of model names`);
    const alts = list as string[];
    alts.forEach((alt, i) => {
      const altCap = capabilityOf(alt);
      if (!altCap) throw new FallbackConfigError(`${where}.${model} entry ${i + 1}: unknown model ${JSON.stringify(alt)}`);
      if (altCap !== cap) throw new FallbackConfigError(`${where}.${model} entry ${i + 1}: ${alt} is a ${altCap} model, ${model} a ${cap} model (a chain cannot cross capabilities)`);
      if (alt === model || alts.indexOf(alt) !== i) throw new FallbackConfigError(`${where}.${model} entry ${i + 1}: ${alt} repeats a model of the chain`);
    });
    if (alts.length > 0) out[model] = alts;
  }
  return out;
}

/** `{"alloy":"21m00Tcm4TlvDq8ikWAM"}`: OpenAI voice name → ElevenLabs voice id. */
export function parseVoiceMap(doc: unknown, where: string): VoiceMap {
  if (doc === undefined || doc === null) return {};
  if (!isRecord(doc)) throw new FallbackConfigError(`${where} must be a JSON object of OpenAI voice → ElevenLabs voice id`);
  const out: VoiceMap = {};
  for (const [name, id] of Object.entries(doc)) {
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new FallbackConfigError(`${where}.${name} must be an ElevenLabs voice id`);
    out[name] = id;
  }
  return out;
}

/** The env's settings, then the secret's on top (per model, per voice). */
export function loadFallbackConfig(env: Record<string, string | undefined>, secret: { fallbacks?: unknown; voices?: unknown } = {}): FallbackConfig {
  const chains = {
    ...parseChains(parseJsonSetting(env.MODEL_FALLBACKS, 'MODEL_FALLBACKS'), 'MODEL_FALLBACKS'),
    ...parseChains(secret.fallbacks, 'provider keys secret field "fallbacks"'),
  };
  const voices = {
    ...parseVoiceMap(parseJsonSetting(env.VOICE_MAP, 'VOICE_MAP'), 'VOICE_MAP'),
    ...parseVoiceMap(secret.voices, 'provider keys secret field "voices"'),
  };
  return { chains, voices };
}
