/** Validation of the hyperparameters every regulariser shares; errors name the parameter and value. */

/** λ: a finite number ≥ 0. */
export function checkLambda(lambda: unknown, what: string): number {
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0) {
    throw new Error(`${what}: lambda must be a finite number >= 0, got ${String(lambda)}`);
  }
  return lambda;
}

/** η: a finite number > 0. */
export function checkLearningRate(learningRate: unknown, what: string): number {
  if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate <= 0) {
    throw new Error(`${what}: learningRate must be a finite number > 0, got ${String(learningRate)}`);
  }
  return learningRate;
}

/** γ of online EWC: a number in [0, 1]. */
export function checkGamma(gamma: unknown, what: string): number {
  if (typeof gamma !== 'number' || !(gamma >= 0 && gamma <= 1)) {
    throw new Error(`${what}: gamma must be a number in [0, 1], got ${String(gamma)}`);
  }
  return gamma;
}

/** One of `allowed`, named `name` in the error. */
export function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], name: string, what: string): T {
  if (!allowed.includes(value as T)) {
    throw new Error(`${what}: unknown ${name} '${String(value)}' (expected one of ${allowed.map((a) => `'${a}'`).join(', ')})`);
  }
  return value as T;
}
