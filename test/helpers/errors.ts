import { expect } from 'vitest';
import { HsmError } from '../../shared/errors.ts';

/** Runs `fn`, expects an HsmError with `code` (and `field` when given); returns it. */
export function expectHsmError(fn: () => unknown, code: string, field?: string): HsmError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected HsmError ${code}`).toBeInstanceOf(HsmError);
  const error = caught as HsmError;
  expect(error.code).toBe(code);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}
