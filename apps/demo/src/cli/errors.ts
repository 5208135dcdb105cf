/**
 * User errors: one line `forgetless: <what is wrong>` and an exit code (2: bad arguments, 1: bad
 * files or data, 3: a run diverged), no stack trace unless FORGETLESS_DEBUG=1.
 */
import { ConfigError } from '@forgetless/experiments';
import { MethodError } from '@forgetless/experiments';

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 | 3 = 1,
  ) {
    super(message);
  }
}

/** A bad command-line argument (exit code 2). */
export function usage(message: string): UserError {
  return new UserError(message, 2);
}

/** The line to print and the exit code for any error reaching the top. */
export function describeError(e: unknown): { line: string; exitCode: number } {
  if (e instanceof UserError) return { line: e.message, exitCode: e.exitCode };
  if (e instanceof ConfigError || e instanceof MethodError) return { line: e.message, exitCode: 2 };
  const err = e as { code?: string; message?: string };
  if (err?.code === 'ENOENT' || err?.code === 'EACCES' || err?.code === 'EISDIR') return { line: err.message ?? String(e), exitCode: 1 };
  const message = (err?.message ?? String(e)).split('\n')[0] ?? String(e);
  return { line: message, exitCode: 1 };
}
