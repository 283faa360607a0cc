import { InvalidRequest } from '../domain';

/** Validation helpers shared by the providers' rules: OpenAI-style messages and codes. */

export function tooLong(param: string, max: number): InvalidRequest {
  return new InvalidRequest(`'${param}' is too long: at most ${max} characters.`, param, 'string_above_max_length');
}

export function range(param: string, v: number, lo: number, hi: number): number {
  if (v < lo || v > hi) throw new InvalidRequest(`'${param}' must be between ${lo} and ${hi}.`, param);
  return v;
}
