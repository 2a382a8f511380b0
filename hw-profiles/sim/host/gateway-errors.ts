/**
 * The Open API's error codes: one stable table, after the DiQi API's (spec/seeds/diqi-api.txt
 * §"Errors"). Every error body is `{"errors":[{"field","message","code"}]}` (`field` only
 * where one input was at fault).
 *
 * One code is the app's, not ours: a `user_tx_no` posted again for the same request is
 * answered HTTP 400 with `"code": 3` at the top of the body, which the released app reads
 * (its ApiError {code, message}) as "already accepted" (spec "What the released app does").
 * @module
 */
import { HsmError } from '../../../shared/errors.ts';

export const GATEWAY_ERRORS = {
  NOT_FOUND: { code: 1000, status: 404, text: 'no such resource' },
  ADDRESS_INVALID: { code: 1100, status: 400, text: 'the address is invalid for the coin' },
  INSUFFICIENT_FUNDS: { code: 1103, status: 400, text: 'the hot wallet cannot pay this' },
  HSM_UNREACHABLE: { code: 1200, status: 503, text: 'HSM-Hot cannot be reached' },
  SCOPE_MISSING: { code: 1300, status: 403, text: 'the token lacks the scope this needs' },
  UNAUTHORIZED: { code: 1301, status: 401, text: 'no valid token' },
  SIGNATURE_INVALID: { code: 1303, status: 401, text: 'the request signature does not match' },
  TIMESTAMP_OUTSIDE_WINDOW: { code: 1304, status: 401, text: 'the request timestamp is outside the accepted window' },
  SIGNATURE_REPLAYED: { code: 1305, status: 401, text: 'this signed request was already seen' },
  RATE_LIMITED: { code: 1600, status: 429, text: 'too many requests' },
  USER_TX_NO_DUPLICATE: { code: 3, status: 400, text: 'this request was already accepted' },
  USER_TX_NO_CONFLICT: { code: 2100, status: 409, text: 'user_tx_no was used for another request' },
  HSM_REFUSED: { code: 2101, status: 400, text: 'HSM-Hot refused the request' },
  INPUT: { code: 40001, status: 400, text: 'input error in the form' },
  INTERNAL: { code: 500, status: 500, text: 'internal server error' },
} as const;

export type GatewayErrorName = keyof typeof GATEWAY_ERRORS;

export class GatewayError extends HsmError {
  readonly status: number;
  readonly apiCode: number;

  /** `apiCode` replaces the table's code (vweb's own codes). */
  constructor(name: GatewayErrorName, message: string = GATEWAY_ERRORS[name].text, field?: string, apiCode?: number) {
    super(name, message, field === undefined ? {} : { field });
    this.status = GATEWAY_ERRORS[name].status;
    this.apiCode = apiCode ?? GATEWAY_ERRORS[name].code;
  }
}

export interface ErrorBody {
  errors: Array<{ field?: string; message: string; code: number }>;
  /** The app's ApiError fields, on a duplicate only. */
  code?: number;
  message?: string;
}

export function errorBody(error: GatewayError): ErrorBody {
  const body: ErrorBody = { errors: [{ ...(error.field === undefined ? {} : { field: error.field }), message: error.message, code: error.apiCode }] };
  return error.code === 'USER_TX_NO_DUPLICATE' ? { code: error.apiCode, message: error.message, ...body } : body;
}
