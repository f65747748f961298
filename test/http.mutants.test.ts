/**
 * The responder's request checks of `src/responder/http.ts` and `src/responder/request-body.ts` at
 * each of their lines, without a responder around them: the refusal type and the JSON and error
 * responses (status, exact headers, body), the media-type check (case, parameters, the `charset`
 * and its quoting), the body reader's limits (a declared `content-length` checked as digits, the
 * limit itself allowed, a body read past it refused, a failing body, a body source handed over by
 * an adapter and taken once), the release of a body left unread, and the JSON object parser.
 */
import { describe, expect, test } from 'vitest';
import { WIRE_ERRORS } from '../src/core/constants.js';
import {
  HttpError,
  discardBody,
  errorResponse,
  isMediaType,
  jsonResponse,
  jsonTextResponse,
  parseJsonObject,
  readBody,
  refusalResponse,
} from '../src/responder/http.js';
import {
  type BodySource,
  requestHeader,
  setBodySource,
  takeBodySource,
} from '../src/responder/request-body.js';

const URL_ = 'https://responder.test/api';
const BASE = {
  'cache-control': 'no-store',
  'content-type': 'application/json',
  'x-content-type-options': 'nosniff',
};

function headersOf(response: Response): Record<string, string> {
  return Object.fromEntries(response.headers.entries());
}

function post(body: BodyInit | null, headers: Record<string, string> = {}): Request {
  return new Request(URL_, { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof HttpError) return error.code;
    return `not an HttpError: ${String(error)}`;
  }
  return 'no error';
}

/** A stream that records whether it was cancelled. */
function recordingStream(chunks: number): {
  stream: ReadableStream<Uint8Array>;
  cancelled: () => number;
} {
  let cancelled = 0;
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < chunks) controller.enqueue(new Uint8Array([sent]));
      else controller.close();
    },
    cancel() {
      cancelled++;
    },
  });
  return { stream, cancelled: () => cancelled };
}

/** A body source that records what it was asked. */
function recordingSource(bytes: Uint8Array | undefined): BodySource & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    read(maxBytes) {
      calls.push(`read ${String(maxBytes)}`);
      return Promise.resolve(bytes);
    },
    discard() {
      calls.push('discard');
    },
  };
}

describe('HttpError', () => {
  test("carries its code, the code's status and message, and its headers", () => {
    const error = new HttpError('method_not_allowed', { allow: 'GET' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('HttpError');
    expect(error.code).toBe('method_not_allowed');
    expect(error.status).toBe(405);
    expect(error.message).toBe(WIRE_ERRORS.method_not_allowed.message);
    expect(error.headers).toEqual({ allow: 'GET' });
    expect(new HttpError('not_found').headers).toEqual({});
  });
});

describe('JSON and error responses', () => {
  test('a JSON text response has the standard headers and the text as body', async () => {
    const response = jsonTextResponse(201, '{"a":1}');
    expect(response.status).toBe(201);
    expect(headersOf(response)).toEqual(BASE);
    expect(await response.text()).toBe('{"a":1}');
  });

  test('extra headers are added to the standard ones, and may replace one', async () => {
    const response = jsonTextResponse(200, '[]', { allow: 'GET', 'Cache-Control': 'private' });
    expect(headersOf(response)).toEqual({
      ...BASE,
      allow: 'GET',
      'cache-control': 'no-store, private',
    });
    expect(headersOf(jsonTextResponse(200, '[]', { 'cache-control': 'private' }))).toEqual({
      ...BASE,
      'cache-control': 'private',
    });
    expect(await response.text()).toBe('[]');
  });

  test('a JSON response serialises its object', async () => {
    const response = jsonResponse(200, { b: [1, 'x'] }, { vary: 'origin' });
    expect(headersOf(response)).toEqual({ ...BASE, vary: 'origin' });
    expect(await response.json()).toEqual({ b: [1, 'x'] });
  });

  test('a refusal is { error, message } with its status and headers', async () => {
    const response = refusalResponse(new HttpError('method_not_allowed', { allow: 'POST' }));
    expect(response.status).toBe(405);
    expect(headersOf(response)).toEqual({ ...BASE, allow: 'POST' });
    expect(await response.json()).toEqual({
      error: 'method_not_allowed',
      message: WIRE_ERRORS.method_not_allowed.message,
    });
    const plain = errorResponse('payload_too_large');
    expect(plain.status).toBe(413);
    expect(headersOf(plain)).toEqual(BASE);
    expect(await plain.json()).toEqual({
      error: 'payload_too_large',
      message: WIRE_ERRORS.payload_too_large.message,
    });
    expect(headersOf(errorResponse('not_found', { allow: 'GET' }))).toEqual({
      ...BASE,
      allow: 'GET',
    });
  });
});

describe('isMediaType', () => {
  const JSON_TYPE = 'application/json';

  test('no header, or another type, is no match', () => {
    expect(isMediaType(null, JSON_TYPE)).toBe(false);
    expect(isMediaType('', JSON_TYPE)).toBe(false);
    expect(isMediaType('text/plain', JSON_TYPE)).toBe(false);
    expect(isMediaType('application/jsonx', JSON_TYPE)).toBe(false);
    expect(isMediaType('text/plain; charset=utf-8', JSON_TYPE)).toBe(false);
  });

  test('the type itself, in any case and with spaces around it, matches', () => {
    expect(isMediaType(JSON_TYPE, JSON_TYPE)).toBe(true);
    expect(isMediaType('Application/JSON', JSON_TYPE)).toBe(true);
    expect(isMediaType(' application/json ', JSON_TYPE)).toBe(true);
    expect(isMediaType('application/json;', JSON_TYPE)).toBe(true);
  });

  test('parameters other than charset are allowed, with or without a value', () => {
    expect(isMediaType('application/json; profile=x', JSON_TYPE)).toBe(true);
    expect(isMediaType('application/json; charsetx', JSON_TYPE)).toBe(true);
    expect(isMediaType('application/json; =latin1', JSON_TYPE)).toBe(true);
    expect(isMediaType('application/json; xcharset=latin1', JSON_TYPE)).toBe(true);
  });

  test('a charset must be UTF-8, in either spelling, any case, quoted or not', () => {
    for (const value of ['utf-8', 'utf8', 'UTF-8', ' utf-8 ', '"utf-8"', '"UTF8"'])
      expect(isMediaType(`application/json; charset=${value}`, JSON_TYPE), value).toBe(true);
    expect(isMediaType('application/json;charset=utf-8', JSON_TYPE)).toBe(true);
    expect(isMediaType('application/json ; Charset = utf-8', JSON_TYPE)).toBe(true);
  });

  test('any other charset is refused, whatever the case of its name, and among other parameters', () => {
    for (const value of [
      'latin1',
      'utf-16',
      '',
      'utf-8""',
      '""utf-8',
      '"utf-8',
      'utf-8"',
      '"x"utf-8"',
    ])
      expect(isMediaType(`application/json; charset=${value}`, JSON_TYPE), value).toBe(false);
    expect(isMediaType('application/json; CHARSET=latin1', JSON_TYPE)).toBe(false);
    expect(isMediaType('application/json; profile=x; charset=latin1', JSON_TYPE)).toBe(false);
    expect(isMediaType('application/json; charset=utf-8; charset=latin1', JSON_TYPE)).toBe(false);
  });
});

describe('readBody', () => {
  test('reads a body up to the limit, the limit included', async () => {
    expect(await readBody(post('12345'), 5)).toEqual(new TextEncoder().encode('12345'));
    expect(await readBody(post('12345', { 'content-length': '5' }), 5)).toEqual(
      new TextEncoder().encode('12345'),
    );
    expect(await readBody(post('123456789012', { 'content-length': '12' }), 20)).toHaveLength(12);
    // Whitespace a header value may keep around its digits (a vertical tab) is allowed.
    expect(await readBody(post('1', { 'content-length': '\u000b1\u000b' }), 5)).toHaveLength(1);
  });

  test('no body is an empty one', async () => {
    expect(await readBody(new Request(URL_), 5)).toEqual(new Uint8Array(0));
  });

  test('a body read past the limit, or declared above it, is payload_too_large', async () => {
    expect(await codeOf(readBody(post('123456'), 5))).toBe('payload_too_large');
    expect(await codeOf(readBody(post('1', { 'content-length': '6' }), 5))).toBe(
      'payload_too_large',
    );
  });

  test('a declared content-length that is not digits is invalid_request', async () => {
    for (const declared of ['', '1x', 'x1', '-1', '1.0', '1e1', '0x1'])
      expect(await codeOf(readBody(post('1', { 'content-length': declared }), 5)), declared).toBe(
        'invalid_request',
      );
  });

  test('a body that fails while being read is invalid_request', async () => {
    const failing = new ReadableStream<Uint8Array>({
      pull() {
        throw new Error('connection reset');
      },
    });
    expect(await codeOf(readBody(post(failing), 5))).toBe('invalid_request');
  });

  test("an adapter's body source is read with the limit, instead of the stream, once", async () => {
    const request = post('stream body');
    const source = recordingSource(new Uint8Array([7, 8]));
    setBodySource(request, source);
    expect(await readBody(request, 9)).toEqual(new Uint8Array([7, 8]));
    expect(source.calls).toEqual(['read 9']);
    expect(takeBodySource(request)).toBeUndefined();
    expect(request.bodyUsed).toBe(false);
    expect(await readBody(request, 20)).toEqual(new TextEncoder().encode('stream body'));
  });

  test('a body source past its limit is payload_too_large, and one that fails invalid_request', async () => {
    const request = new Request(URL_, { method: 'POST' });
    setBodySource(request, recordingSource(undefined));
    expect(await codeOf(readBody(request, 3))).toBe('payload_too_large');
    const failing = new Request(URL_, { method: 'POST' });
    setBodySource(failing, {
      read: () => Promise.reject(new Error('cut short')),
      discard: () => undefined,
    });
    expect(await codeOf(readBody(failing, 3))).toBe('invalid_request');
  });
});

describe('takeBodySource', () => {
  test('gives a source once, and nothing for a request without one', () => {
    const request = new Request(URL_, { method: 'POST' });
    expect(takeBodySource(request)).toBeUndefined();
    const source = recordingSource(new Uint8Array(0));
    setBodySource(request, source);
    expect(takeBodySource(new Request(URL_, { method: 'POST' }))).toBeUndefined();
    expect(takeBodySource(request)).toBe(source);
    expect(takeBodySource(request)).toBeUndefined();
  });
});

describe('requestHeader', () => {
  const headed = (values: Record<string, string>): BodySource => ({
    ...recordingSource(new Uint8Array(0)),
    header: (name) => values[name] ?? null,
  });

  test("answers from the adapter's body source while the request has it, else from its headers", () => {
    const request = post('{}', { 'content-type': 'text/plain', 'content-length': '2' });
    expect(requestHeader(request, 'content-type')).toBe('text/plain');
    setBodySource(request, headed({ 'content-type': 'application/json' }));
    expect(requestHeader(request, 'content-type')).toBe('application/json');
    expect(requestHeader(request, 'content-length')).toBeNull();
    takeBodySource(request);
    expect(requestHeader(request, 'content-length')).toBe('2');
    const plain = post('{}', { 'content-type': 'text/plain' });
    setBodySource(plain, recordingSource(new Uint8Array(0)));
    expect(requestHeader(plain, 'content-type')).toBe('text/plain');
  });

  test('readBody checks the content-length the body source answers, before reading', async () => {
    const request = post('{}', { 'content-length': '2' });
    setBodySource(request, headed({ 'content-length': '6' }));
    expect(await codeOf(readBody(request, 5))).toBe('payload_too_large');
    const malformed = post('{}');
    setBodySource(malformed, headed({ 'content-length': '1x' }));
    expect(await codeOf(readBody(malformed, 5))).toBe('invalid_request');
  });
});

describe('discardBody', () => {
  test("drops an adapter's body source, once, and leaves the stream alone", () => {
    const { stream, cancelled } = recordingStream(3);
    const request = post(stream);
    const source = recordingSource(undefined);
    setBodySource(request, source);
    discardBody(request);
    expect(source.calls).toEqual(['discard']);
    expect(cancelled()).toBe(0);
    expect(takeBodySource(request)).toBeUndefined();
  });

  test('cancels a body stream nobody read', async () => {
    const { stream, cancelled } = recordingStream(3);
    const request = post(stream);
    discardBody(request);
    await Promise.resolve();
    expect(cancelled()).toBe(1);
  });

  test('leaves a body that was read, or is being read, and a request without body', async () => {
    const { stream, cancelled } = recordingStream(3);
    const request = post(stream);
    const reader = (request.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    reader.releaseLock();
    expect(request.bodyUsed).toBe(true);
    discardBody(request);
    await Promise.resolve();
    expect(cancelled()).toBe(0);

    const locked = recordingStream(3);
    const reading = post(locked.stream);
    (reading.body as ReadableStream<Uint8Array>).getReader();
    expect(() => {
      discardBody(reading);
    }).not.toThrow();
    await Promise.resolve();
    expect(locked.cancelled()).toBe(0);

    expect(() => {
      discardBody(new Request(URL_));
    }).not.toThrow();
  });
});

describe('parseJsonObject', () => {
  test('a JSON object is returned, anything else is invalid_request', () => {
    expect(parseJsonObject(new TextEncoder().encode('{"a":1}'))).toEqual({ a: 1 });
    for (const text of ['[]', '1', 'null', '"x"', '{', ''])
      expect(() => parseJsonObject(new TextEncoder().encode(text)), text).toThrow(
        expect.objectContaining({ code: 'invalid_request' }),
      );
  });
});
