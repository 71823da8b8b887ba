/**
 * One error type for everything the API refuses on purpose. The error handler renders it as
 * application/problem+json (RFC 9457); `code` becomes the problem type, `field` names the part
 * of the request at fault.
 */
export interface FieldProblem {
  /** Where the bad value is: "body.customer.email", "query.limit", "header.if-match". */
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly errors: FieldProblem[] = [],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
    this.name = 'AppError';
  }
}

export const badRequest = (field: string, message: string) =>
  new AppError(400, 'validation', 'Invalid request', `${field}: ${message}`, [{ field, message }]);
export const unauthorized = (detail = 'A valid API key is required: send "Authorization: Bearer <key>".') =>
  new AppError(401, 'unauthorized', 'Unauthorized', detail);
export const forbidden = (detail: string) => new AppError(403, 'forbidden', 'Forbidden', detail);
export const notFound = (what: string, id?: string | number) =>
  new AppError(404, 'not-found', 'Not found', id === undefined ? `${what} not found` : `${what} ${id} not found`);
export const conflict = (code: string, detail: string, extra: Record<string, unknown> = {}) =>
  new AppError(409, code, 'Conflict', detail, [], extra);
export const preconditionFailed = (detail: string, extra: Record<string, unknown> = {}) =>
  new AppError(412, 'stale-version', 'Precondition failed', detail, [{ field: 'header.if-match', message: detail }], extra);
export const preconditionRequired = (detail: string) =>
  new AppError(428, 'version-required', 'Precondition required', detail, [{ field: 'header.if-match', message: detail }]);
export const serviceUnavailable = (code: string, detail: string) =>
  new AppError(503, code, 'Service unavailable', detail);
