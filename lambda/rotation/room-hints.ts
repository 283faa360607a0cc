/** What an answer's headers say about its key's room, whatever the vendor (headers no other vendor sends). */
export interface RoomHints {
  remaining?: number;
  limit?: number;
  maxInFlight?: number;
}

function count(v: string | undefined): number | undefined {
  if (v === undefined || !/^\s*\d+\s*$/.test(v)) return undefined;
  return Number(v);
}

/**
 * OpenAI's `x-ratelimit-remaining-requests` / `x-ratelimit-limit-requests` (the key's request
 * budget) and ElevenLabs' `maximum-concurrent-requests` (its concurrency); undefined if none.
 */
export function roomHints(headers: Record<string, string | undefined>): RoomHints | undefined {
  const h: RoomHints = {
    remaining: count(headers['x-ratelimit-remaining-requests']),
    limit: count(headers['x-ratelimit-limit-requests']),
    maxInFlight: count(headers['maximum-concurrent-requests']),
  };
  if (h.maxInFlight === 0) h.maxInFlight = undefined;
  return h.remaining === undefined && h.limit === undefined && h.maxInFlight === undefined ? undefined : h;
}
