import type {
  Classifier, Clock, ImageInput, ImageRequest, JobAdapter, JobObject, KeyProbe, MediaStream, Operation, SpeechInput, SpeechRequest,
} from '../domain';

/** Every configured base URL, by the name its vendor gave it (`openai`, `falQueue`, …). */
export type BaseUrls = Record<string, string>;

/** The sandbox endpoints a base URL can point at when `npm start` runs without keys. */
export type SandboxEndpoint = 'openai' | 'elevenlabs' | 'fal' | 'falQueue' | 'falPlatform' | 'kling';

export interface BaseUrlSetting {
  /** Environment variable that overrides it. */
  variable: string;
  default: string;
  /** Which endpoint of the local provider sandbox stands in for it (none: no sandbox for this vendor). */
  sandbox?: SandboxEndpoint;
}

interface ProviderBase<Id extends string> {
  id: Id;
  /** p95 latency objective (ms): above it, the provider's health is degraded. */
  p95ObjectiveMs: number;
  /** Whether this provider serves the model (routing reads this, nothing else). */
  serves(model: string): boolean;
}

/** Operator-supplied: OpenAI voice name → ElevenLabs voice id (`VOICE_MAP`), read in both directions. */
export type VoiceMap = Record<string, string>;

/** What a provider needs to take over a request written for another provider's model (a fallback). */
export interface MappingContext {
  voices: VoiceMap;
}

/** `POST /v1/audio/speech`. */
export interface SpeechProvider<Id extends string = string> extends ProviderBase<Id> {
  capability: 'speech';
  /** The provider's own rules on top of the route's schema; throws `InvalidRequest`. */
  validate(input: SpeechInput): SpeechRequest;
  /**
   * A request written for another model, rewritten for this provider's model `target` (voice, …) before its
   * `validate` judges it; throws `InvalidRequest` when it cannot be carried over faithfully.
   */
  adopt(input: SpeechInput, target: string, ctx: MappingContext): SpeechInput;
  operation(urls: BaseUrls, req: SpeechRequest): Operation<MediaStream>;
}

/** `POST /v1/images/generations`. */
export interface ImageProvider<Id extends string = string> extends ProviderBase<Id> {
  capability: 'image';
  validate(input: ImageInput): ImageRequest;
  /** As for speech: another model's request in this provider's terms, or `InvalidRequest`. */
  adopt(input: ImageInput, target: string, ctx: MappingContext): ImageInput;
  operation(urls: BaseUrls, req: ImageRequest): Operation<MediaStream>;
}

/** What a job keeps of its request besides model and prompt (shown on the job resource). */
export interface JobMeta {
  seconds: string;
  size?: string;
}

/** Long-running generations: created through rotation, then polled with the creating key. */
export interface JobProvider<
  Id extends string = string,
  O extends JobObject = JobObject,
  In = unknown,
  Req extends { model: string; prompt: string } = { model: string; prompt: string },
> extends ProviderBase<Id> {
  capability: 'job';
  /** The route it serves: `video` → /v1/videos, `audio.generation` → /v1/audio/generations. */
  object: O;
  validate(input: In): Req;
  meta(req: Req): JobMeta;
  adapter(urls: BaseUrls, clock: Clock): JobAdapter<Req>;
}


export type AnyProvider = SpeechProvider | ImageProvider | JobProvider;

/** One vendor: its key pool's configuration, its base URLs, its classifier and its providers. */
export interface VendorModule<V extends string = string, P extends readonly AnyProvider[] = readonly AnyProvider[]> {
  id: V;
  /** Key variables: plural list first, then the older singular one; `pair` is the `A:B` shape keys must have. */
  keys: { plural: string; singular: string; pair?: string };
  baseUrls: Record<string, BaseUrlSetting>;
  classify: Classifier;
  providers: P;
  /** The key probe: one free, read-only account call per key (`lambda/probes` runs it on a schedule). */
  probe(urls: BaseUrls, clock: Clock): KeyProbe;
}

/** Keeps the literal ids of a vendor module (the registry derives its id unions from them). */
export function defineVendor<const V extends string, const P extends readonly AnyProvider[]>(m: VendorModule<V, P>): VendorModule<V, P> {
  return m;
}
