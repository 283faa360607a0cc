/**
 * The bottom layer: ids, media types, outcomes and failures, jobs, errors, and the ports (`Clock`,
 * `Log`, `Transport`, `Telemetry`, `Operation`, `JobAdapter`, `KeyProbe`, `Redactor`) the layers above implement or use.
 * It imports nothing else from `lambda/` (the lint enforces it).
 */
export * from './ids';
export * from './outcome';
export * from './errors';
export * from './ports';
export * from './media';
export * from './jobs';
export * from './log-throttle';
export * from './time';
export * from './streams';
export * from './probe';
export * from './redact';
