/**
 * Vendor and provider ids as the lower layers see them: plain labels. The provider registry
 * (`providers/registry.ts`) is the one list of the ids that exist — it derives the literal unions
 * `Vendor` and `ProviderId` the upper layers use — so nothing below it has to change when a vendor
 * is added. A vendor owns a key pool; a provider is one of its operations (`openai-tts`) and
 * shares its vendor's pool.
 */
export type VendorId = string;
export type ProviderName = string;
