// The error table (src/service/errors.ts): every code has its status and message, AppError carries them, and
// toAppError maps whatever a request throws (our errors, Fastify's, JSON.parse's, anything else) onto the table
// without echoing the original message.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorCodes } from 'fastify';
import { AppError, ERRORS, toAppError, validationError, type ErrorCode } from '../../src/service/errors.ts';

const CODES = Object.keys(ERRORS) as ErrorCode[];

describe('the error table', () => {
  test('holds exactly these codes with these statuses', () => {
    const statuses = Object.fromEntries(CODES.map((code) => [code, ERRORS[code].status]));
    assert.deepEqual(statuses, {
      ERR_VALIDATION: 422,
      ERR_BATCH_TOO_LARGE: 422,
      ERR_BAD_JSON: 400,
      ERR_BAD_REQUEST: 400,
      ERR_UNSUPPORTED_MEDIA_TYPE: 415,
      ERR_BODY_TOO_LARGE: 413,
      ERR_NOT_FOUND: 404,
      ERR_PREDICT_UNAVAILABLE: 404,
      ERR_MODEL_NOT_FOUND: 404,
      ERR_INFER_INVALID: 400,
      ERR_METHOD_NOT_ALLOWED: 405,
      ERR_OVERLOADED: 503,
      ERR_SHUTTING_DOWN: 503,
      ERR_CLIENT_CLOSED: 499,
      ERR_INTERNAL: 500,
    });
  });

  test('every code has an HTTP error status and a message of its own that names no internals', () => {
    const messages = new Set<string>();
    for (const code of CODES) {
      const { status, message } = ERRORS[code];
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
      assert.ok(message.length > 0, code);
      assert.doesNotMatch(message, /\bat |\.(?:ts|js)\b|\/work\/|node_modules/, code);
      messages.add(message);
    }
    assert.equal(messages.size, CODES.length, 'two codes share a message');
  });

  test('an AppError of each code carries the code, its status, and its message as detail and message', () => {
    for (const code of CODES) {
      const err = new AppError(code);
      assert.ok(err instanceof Error);
      assert.equal(err.name, 'AppError');
      assert.equal(err.code, code);
      assert.equal(err.statusCode, ERRORS[code].status);
      assert.equal(err.detail, ERRORS[code].message);
      assert.equal(err.message, ERRORS[code].message);
    }
  });

  test('a string detail replaces the message; a detail list keeps the table message', () => {
    const named = new AppError('ERR_BATCH_TOO_LARGE', 'Batch of 5 exceeds MAX_BATCH_SIZE=3');
    assert.equal(named.detail, 'Batch of 5 exceeds MAX_BATCH_SIZE=3');
    assert.equal(named.message, 'Batch of 5 exceeds MAX_BATCH_SIZE=3');
    const listed = new AppError('ERR_VALIDATION', [{ loc: ['body', 'features'], msg: 'field required', type: 'value_error.missing' }]);
    assert.deepEqual(listed.detail, [{ loc: ['body', 'features'], msg: 'field required', type: 'value_error.missing' }]);
    assert.equal(listed.message, 'Request body failed validation');
  });

  test('validationError makes a 422 ERR_VALIDATION whose one detail entry is located under body', () => {
    const err = validationError(['instances', 2, 0], 'value is not a valid float', 'type_error.float');
    assert.equal(err.code, 'ERR_VALIDATION');
    assert.equal(err.statusCode, 422);
    assert.deepEqual(err.detail, [{ loc: ['body', 'instances', 2, 0], msg: 'value is not a valid float', type: 'type_error.float' }]);
  });
});

describe('toAppError', () => {
  test('returns an AppError as it is', () => {
    const err = validationError(['features'], 'field required', 'value_error.missing');
    assert.equal(toAppError(err), err);
    const overloaded = new AppError('ERR_OVERLOADED');
    assert.equal(toAppError(overloaded), overloaded);
  });

  test("maps Fastify's body-parsing, limit and routing errors by their code", () => {
    const expected: Record<string, ErrorCode> = {
      FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
      FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ERR_BAD_REQUEST',
      FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_BAD_JSON',
      FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_BAD_JSON',
      FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
      // Fastify's own status for these two is 500; the code decides.
      FST_ERR_CTP_INVALID_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
      FST_ERR_ASYNC_CONSTRAINT: 'ERR_BAD_REQUEST',
      FST_ERR_BAD_URL: 'ERR_BAD_REQUEST',
    };
    for (const [fastifyCode, code] of Object.entries(expected)) {
      const FastifyError = errorCodes[fastifyCode as keyof typeof errorCodes];
      assert.ok(FastifyError !== undefined, `Fastify has no ${fastifyCode}`);
      const mapped = toAppError(new FastifyError('secret-detail'));
      assert.equal(mapped.code, code, fastifyCode);
      assert.equal(mapped.statusCode, ERRORS[code].status, fastifyCode);
      assert.equal(mapped.detail, ERRORS[code].message, fastifyCode);
    }
  });

  test("maps Fastify's schema validation error (400) to 400 ERR_BAD_REQUEST, without its message", () => {
    const err = Object.assign(new errorCodes.FST_ERR_VALIDATION('body/features must be array'), { validation: [{ message: 'must be array' }] });
    const mapped = toAppError(err);
    assert.equal(mapped.code, 'ERR_BAD_REQUEST');
    assert.equal(mapped.statusCode, 400);
    assert.equal(mapped.detail, 'Bad request');
  });

  test("maps JSON.parse's SyntaxError with status 400 (as Fastify's JSON parser throws it) to ERR_BAD_JSON", () => {
    let syntax: Error | undefined;
    try {
      JSON.parse('{"features": [1,');
    } catch (err) {
      syntax = err as Error;
    }
    assert.ok(syntax instanceof SyntaxError);
    assert.equal(toAppError(Object.assign(syntax, { statusCode: 400 })).code, 'ERR_BAD_JSON');
    // Without the 400 it was not the body parser's: an internal error.
    assert.equal(toAppError(new SyntaxError('Unexpected token')).code, 'ERR_INTERNAL');
  });

  test('maps an uncoded error by its status: 400, 413 and 415 to their codes, any other status to 500', () => {
    const byStatus = (statusCode: number) => toAppError(Object.assign(new Error('from a plugin'), { statusCode })).code;
    assert.equal(byStatus(400), 'ERR_BAD_REQUEST');
    assert.equal(byStatus(413), 'ERR_BODY_TOO_LARGE');
    assert.equal(byStatus(415), 'ERR_UNSUPPORTED_MEDIA_TYPE');
    assert.equal(byStatus(404), 'ERR_INTERNAL');
    assert.equal(byStatus(503), 'ERR_INTERNAL');
    assert.equal(toAppError(new errorCodes.FST_ERR_FAILED_ERROR_SERIALIZATION('x', 'y')).code, 'ERR_INTERNAL');
  });

  test('maps anything unknown to 500 ERR_INTERNAL with the fixed message, never the thrown one', () => {
    const thrown: unknown[] = [
      new Error('SECRET at /work/main/src/x.ts:1:2'),
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      Object.assign(new Error('coded elsewhere'), { code: 'ECONNRESET' }),
      'a string',
      42,
      null,
      undefined,
      {},
    ];
    for (const err of thrown) {
      const mapped = toAppError(err);
      assert.equal(mapped.code, 'ERR_INTERNAL', String(err));
      assert.equal(mapped.statusCode, 500);
      assert.equal(mapped.detail, 'Internal Server Error');
      assert.equal(mapped.message, 'Internal Server Error');
    }
  });
});
