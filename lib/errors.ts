/**
 * The errors somax raises, and the checks that raise them when a transform is built.
 * @module
 */

/** Base class of every error somax raises. */
export class SomaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Two trees that should match differ in structure, shape or dtype; the message names the path. */
export class TreeMismatchError extends SomaxError {}

/** A hyperparameter is out of its valid range; raised when the transform is built. */
export class HyperparameterError extends SomaxError {}

/** An input at step time is unusable (wrong dtype, non-scalar loss, missing batch, ...). */
export class InputError extends SomaxError {}

/** A second-order product went through an op that cannot be differentiated twice. */
export class UnsupportedOpError extends SomaxError {}

/** Rejects a value that is not a finite number. */
export function assertFinite(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new HyperparameterError(`${name} must be a finite number, got ${String(value)}`);
  }
}

/** Rejects a value outside `[lo, hi]` (or the open ends when asked). */
export function assertInRange(
  name: string,
  value: number,
  lo: number,
  hi: number,
  { loOpen = false, hiOpen = false }: { loOpen?: boolean; hiOpen?: boolean } = {},
): void {
  assertFinite(name, value);
  const belowLo = loOpen ? value <= lo : value < lo;
  const aboveHi = hiOpen ? value >= hi : value > hi;
  if (belowLo || aboveHi) {
    const range = `${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}`;
    throw new HyperparameterError(`${name} must be in ${range}, got ${value}`);
  }
}

/** Rejects a value that is negative (or NaN). */
export function assertNonNegative(name: string, value: number): void {
  assertInRange(name, value, 0, Infinity);
}

/** Rejects a value that is not strictly positive. */
export function assertPositive(name: string, value: number): void {
  assertInRange(name, value, 0, Infinity, { loOpen: true });
}

/** Rejects a value that is not an integer ≥ `min`. */
export function assertInteger(name: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) {
    throw new HyperparameterError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}

/** Rejects a learning rate that is negative or NaN; schedules are checked when evaluated. */
export function assertLearningRate(name: string, value: number | ((step: number) => number)): void {
  if (typeof value === 'function') return;
  assertNonNegative(name, value);
}
