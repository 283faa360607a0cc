import { elevenlabs } from './elevenlabs';
import { fal } from './fal';
import { kling } from './kling';
import { openai } from './openai';
import type { JobObject } from '../domain';
import type { BaseUrlSetting } from './types';

/**
 * Every vendor the gateway serves, and through them every provider. Routing, validation, health,
 * configuration, the local stack and the CDK names all read this list: adding a vendor is a folder
 * beside this file (its classifier, providers and `index.ts`) and one line here.
 */
export const VENDOR_MODULES = [openai, elevenlabs, fal, kling] as const;

type Module = (typeof VENDOR_MODULES)[number];
export type Vendor = Module['id'];
export type ProviderId = Module['providers'][number]['id'];
export type Provider = Module['providers'][number];

export const VENDORS: readonly Vendor[] = VENDOR_MODULES.map((m) => m.id);
export const PROVIDERS: readonly Provider[] = VENDOR_MODULES.flatMap((m): readonly Provider[] => m.providers);
export const PROVIDER_IDS: readonly ProviderId[] = PROVIDERS.map((p) => p.id);

const VENDOR_BY_PROVIDER = new Map<string, Vendor>(VENDOR_MODULES.flatMap((m) => m.providers.map((p): [string, Vendor] => [p.id, m.id])));
const BY_ID = new Map<string, Provider>(PROVIDERS.map((p) => [p.id, p]));

export function vendorOf(provider: ProviderId): Vendor {
  return VENDOR_BY_PROVIDER.get(provider) as Vendor; // every provider id is in the map by construction
}

export function providerById(id: ProviderId): Provider {
  return BY_ID.get(id) as Provider;
}

export function moduleOf(vendor: Vendor): Module {
  return VENDOR_MODULES.find((m) => m.id === vendor) as Module;
}

/** Every base URL setting of every vendor, by name. */
export const BASE_URL_SETTINGS: Readonly<Record<string, BaseUrlSetting>> = Object.assign({}, ...VENDOR_MODULES.map((m) => m.baseUrls));

type Speech = Extract<Provider, { capability: 'speech' }>;
type Image = Extract<Provider, { capability: 'image' }>;
type Job = Extract<Provider, { capability: 'job' }>;
const isSpeech = (p: Provider): p is Speech => p.capability === 'speech';
const isImage = (p: Provider): p is Image => p.capability === 'image';
const isJob = (p: Provider): p is Job => p.capability === 'job';

/** The provider serving a model on a route; undefined when no provider serves it there. */
export const speechProviderFor = (model: string) => PROVIDERS.filter(isSpeech).find((p) => p.serves(model));
export const imageProviderFor = (model: string) => PROVIDERS.filter(isImage).find((p) => p.serves(model));
export const jobProviderFor = <O extends JobObject>(object: O, model: string) =>
  PROVIDERS.filter(isJob).find((p): p is Extract<Job, { object: O }> => p.object === object && p.serves(model));
