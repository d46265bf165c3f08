import { BerthError, type ErrorCode } from '../../../contracts/index.ts';
import type { ApiErrorBody } from '../../../contracts/advisor-api.ts';

/**
 * A request the advisor refuses: the HTTP status, the code, a message the client can act on
 * and, where one is at fault, the field or parameter. Routes, hooks and validators throw it;
 * the app's error handler sends it as an `ApiErrorBodyV1`.
 */
export class ApiError extends BerthError {
  readonly statusCode: number;
  readonly field: string | undefined;

  constructor(statusCode: number, code: ErrorCode, message: string, field?: string) {
    super(code, message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.field = field;
  }
}

/** The body of every HTTP error the advisor sends. */
export function errorBody(code: ErrorCode, message: string, field?: string): ApiErrorBody {
  return { error: { code, ...(field === undefined ? {} : { field }), message } };
}
