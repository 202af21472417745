/**
 * Assertions catch our own bugs. They are always on, in production too: a failed
 * assertion in the runtime commands the actuator's safe state and exits non-zero.
 * Operating errors (bad frames, timeouts, bad config) never use this; they are data.
 */
export class TmrAssertionError extends Error {
  override readonly name = 'TmrAssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new TmrAssertionError(message);
}

/**
 * Throws an assertion error. For hot paths: `if (!ok) fail(\`…${detail}\`)` builds its message
 * only on failure, where `assert(ok, \`…\`)` would build a string on every call.
 */
export function fail(message: string): never {
  throw new TmrAssertionError(message);
}

/** Exhaustiveness check for discriminated unions. */
export function assertNever(value: never, what: string): never {
  throw new TmrAssertionError(`unhandled ${what}: ${JSON.stringify(value)}`);
}

export function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff;
}

export function isUint32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}
