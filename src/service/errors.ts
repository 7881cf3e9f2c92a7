// One table of coded errors: code, HTTP status, message. The error handler in app.ts maps every failure to one
// of these, records it on the span and logs it (below 500 at info, from 500 at error).

export interface ErrorDetail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export const ERRORS = {
  ERR_VALIDATION: { status: 422, message: 'Request body failed validation' },
  ERR_BATCH_TOO_LARGE: { status: 422, message: 'Batch exceeds MAX_BATCH_SIZE' },
  // Fastify's secure parser reports a `__proto__` or `constructor.prototype` key with the same error.
  ERR_BAD_JSON: { status: 400, message: 'Request body is not valid JSON (or has a forbidden __proto__/constructor key)' },
  ERR_BAD_REQUEST: { status: 400, message: 'Bad request' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content-Type must be application/json' },
  ERR_BODY_TOO_LARGE: { status: 413, message: 'Request body is larger than BODY_LIMIT_BYTES' },
  ERR_NOT_FOUND: { status: 404, message: 'Not Found' },
  ERR_MODEL_NOT_FOUND: { status: 404, message: 'Model not found' },
  ERR_PREDICT_UNAVAILABLE: { status: 404, message: 'The MODEL_NAME model cannot serve /predict' },
  ERR_INFER_INVALID: { status: 400, message: 'Inference request does not match the model' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'Method Not Allowed' },
  ERR_OVERLOADED: { status: 503, message: 'Model queue is full (MODEL_CONCURRENCY + MAX_QUEUE); retry later' },
  ERR_SHUTTING_DOWN: { status: 503, message: 'Service is shutting down' },
  // nginx's code: no client reads it (it has gone), but the log and the span say what happened.
  ERR_CLIENT_CLOSED: { status: 499, message: 'Client closed the connection while the request was queued' },
  ERR_INTERNAL: { status: 500, message: 'Internal Server Error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error of the table, with optional FastAPI-style `detail` entries for validation failures. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly detail: ErrorDetail[] | string;
  constructor(code: ErrorCode, detail?: ErrorDetail[] | string) {
    super(typeof detail === 'string' ? detail : ERRORS[code].message);
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.detail = detail ?? ERRORS[code].message;
  }
}

export const validationError = (loc: (string | number)[], msg: string, type: string): AppError =>
  new AppError('ERR_VALIDATION', [{ loc: ['body', ...loc], msg, type }]);

// Fastify's own error codes (body parsing, limits, routing) mapped onto the table.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ERR_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_BAD_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'ERR_BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'ERR_BAD_REQUEST',
};

/** Maps anything thrown in a request to an AppError. JSON.parse's SyntaxError (status 400) is malformed JSON. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { code?: string; statusCode?: number; name?: string; message?: string };
  const mapped = e?.code !== undefined ? FASTIFY_CODES[e.code] : undefined;
  if (mapped !== undefined) return new AppError(mapped);
  if (e?.name === 'SyntaxError' && e.statusCode === 400) return new AppError('ERR_BAD_JSON');
  // Fixed messages only: an error's own message may echo the request.
  if (e?.statusCode === 400) return new AppError('ERR_BAD_REQUEST');
  if (e?.statusCode === 413) return new AppError('ERR_BODY_TOO_LARGE');
  if (e?.statusCode === 415) return new AppError('ERR_UNSUPPORTED_MEDIA_TYPE');
  return new AppError('ERR_INTERNAL');
}
