/**
 * The one error type that crosses module boundaries (DESIGN.md, rule 6).
 *
 * Every parser and every device operation reports bad input as an `HsmError` with a stable
 * `code` (a string-literal constant owned by the module that throws it), the `field` at fault
 * when there is one, and a message that is safe to show an operator: it never carries a secret.
 * Raw library exceptions are caught at the seam and re-thrown as one of these.
 * @module
 */

export interface HsmErrorOptions {
  /** The input field, key or position that was wrong, e.g. `outs[2].value` or `word 5`. */
  field?: string;
  /** The underlying exception, kept for debugging; never shown or logged in full. */
  cause?: unknown;
}

export class HsmError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly field: string | undefined;

  constructor(code: Code, message: string, options: HsmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HsmError';
    this.code = code;
    this.field = options.field;
  }

  /** The shape used on every wire that reports errors (API, console, CLI `--json`). */
  toJSON(): { code: Code; field?: string; message: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, field: this.field, message: this.message };
  }
}

export function isHsmError(error: unknown, code?: string): error is HsmError {
  return error instanceof HsmError && (code === undefined || error.code === code);
}

/** Assertion for programmer errors (not for input validation, which throws HsmError). */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant failed: ${message}`);
}
