/**
 * The responder's CORS (`src/responder/cors.ts`) at each of its lines, without a responder around
 * it: the `cors` option's checks (each error names the option it is about), the preflight's headers
 * for an allowed origin, an origin not allowed and a request that is no preflight, the admin
 * routes closed unless asked, the opaque origin `null`, a predicate that throws, and the headers
 * every response gets (`Vary` appended, never repeated over `*`; immutable headers copied).
 */
import { describe, expect, test } from 'vitest';
import { ROUTES } from '../src/core/constants.js';
import {
  type CorsOptions,
  DEFAULT_CORS_MAX_AGE_SECONDS,
  createCors,
} from '../src/responder/cors.js';

const APP = 'https://app.example';
const OTHER = 'https://other.example';
const PUBKEY = ROUTES.pubkey('edge-01');
const PATTERN = '/api/keyex/{slug}/pubkey';

function options(...names: (Record<string, unknown> | CorsOptions)[]): CorsOptions {
  return Object.assign({ origins: [APP] }, ...names) as CorsOptions;
}

function preflightOf(origin: string | undefined, method: string | null = 'POST'): Request {
  const headers: Record<string, string> = {};
  if (origin !== undefined) headers['origin'] = origin;
  if (method !== null) headers['access-control-request-method'] = method;
  return new Request(`https://edge.test${PUBKEY}`, { method: 'OPTIONS', headers });
}

function getFrom(origin: string | undefined): Request {
  return new Request(`https://edge.test${PUBKEY}`, {
    headers: origin === undefined ? {} : { origin },
  });
}

/** The response's headers as a plain object (lower-case names). */
function headersOf(response: Response): Record<string, string> {
  return Object.fromEntries(response.headers.entries());
}

describe('the cors option', () => {
  test('absent: OPTIONS answers 204 with Allow, and responses pass through untouched', () => {
    const cors = createCors(undefined);
    expect(cors.enabled).toBe(false);
    const answer = cors.preflight(preflightOf(APP), PATTERN, 'GET');
    expect(answer.status).toBe(204);
    expect(headersOf(answer)).toEqual({ allow: 'GET, OPTIONS', 'cache-control': 'no-store' });
    const response = new Response('{}');
    expect(cors.decorate(getFrom(APP), PATTERN, response)).toBe(response);
    expect(headersOf(response)).toEqual({ 'content-type': 'text/plain;charset=UTF-8' });
  });

  test('is an object with origins', () => {
    expect(createCors(options()).enabled).toBe(true);
    for (const value of [null, 'https://app.example', 7])
      expect(() => createCors(value as unknown as CorsOptions)).toThrow(/^cors must/);
  });

  test('origins: exact origins as browsers send them, "*" or a function', () => {
    for (const origins of [
      'https://app.example',
      { [APP]: true },
      undefined,
      [APP, 7],
      [APP, null],
    ]) {
      expect(() => createCors(options({ origins }))).toThrow(TypeError);
      expect(() => createCors(options({ origins }))).toThrow(/cors\.origins/);
    }
    for (const origin of [
      'app.example',
      'https://app.example/',
      'https://app.example/path',
      'HTTPS://app.example',
      'https://App.Example',
      'https://app.example:443',
      'null',
      '',
    ]) {
      expect(() => createCors(options({ origins: [origin] }))).toThrow(TypeError);
      expect(() => createCors(options({ origins: [origin] }))).toThrow(`"${origin}"`);
    }
    expect(createCors(options({ origins: ['*'] })).enabled).toBe(true);
    expect(createCors(options({ origins: [] })).enabled).toBe(true);
    expect(createCors(options({ origins: () => false })).enabled).toBe(true);
  });

  test('credentials and admin: booleans', () => {
    for (const credentials of ['true', 1]) {
      expect(() => createCors(options({ credentials }))).toThrow(TypeError);
      expect(() => createCors(options({ credentials }))).toThrow(/cors\.credentials/);
    }
    for (const admin of ['true', 1]) {
      expect(() => createCors(options({ admin }))).toThrow(TypeError);
      expect(() => createCors(options({ admin }))).toThrow(/cors\.admin/);
    }
    expect(createCors(options({ credentials: false, admin: false })).enabled).toBe(true);
    // `null` and `undefined` take the defaults.
    expect(
      createCors(options({ credentials: null, admin: null, allowHeaders: null })).enabled,
    ).toBe(true);
  });

  test('"*" is refused with credentials, and allowed without', () => {
    expect(() => createCors(options({ origins: ['*'], credentials: true }))).toThrow(TypeError);
    expect(() => createCors(options({ origins: [APP, '*'], credentials: true }))).toThrow(
      /cors\.origins "\*"/,
    );
    expect(() => createCors(options({ origins: ['*'], credentials: false }))).not.toThrow();
    expect(() => createCors(options({ origins: [APP], credentials: true }))).not.toThrow();
  });

  test('maxAgeSeconds: an integer >= 0', () => {
    for (const maxAgeSeconds of [-1, 1.5, Number.NaN, 2 ** 53, '600']) {
      expect(() => createCors(options({ maxAgeSeconds }))).toThrow(RangeError);
      expect(() => createCors(options({ maxAgeSeconds }))).toThrow(/cors\.maxAgeSeconds/);
    }
    const cors = createCors(options({ maxAgeSeconds: 0 }));
    const answer = cors.preflight(preflightOf(APP), PATTERN, 'GET');
    expect(answer.headers.get('access-control-max-age')).toBe('0');
  });

  test('allowHeaders: an array of header names, lower-cased, content-type once', () => {
    for (const allowHeaders of ['x-request-id', { 0: 'x-a' }]) {
      expect(() => createCors(options({ allowHeaders }))).toThrow(TypeError);
      expect(() => createCors(options({ allowHeaders }))).toThrow(/cors\.allowHeaders/);
    }
    for (const name of ['x a', 'x:a', 'é', 7]) {
      expect(() => createCors(options({ allowHeaders: [name] }))).toThrow(TypeError);
      expect(() => createCors(options({ allowHeaders: [name] }))).toThrow(`: ${String(name)}`);
    }
    expect(() => createCors(options({ allowHeaders: [''] }))).toThrow(TypeError);
    const cors = createCors(
      options({ allowHeaders: ['X-Request-Id', 'Content-Type', "x-!#$%&'*+.^_`|~9"] }),
    );
    const answer = cors.preflight(preflightOf(APP), PATTERN, 'GET');
    expect(answer.headers.get('access-control-allow-headers')).toBe(
      "content-type, x-request-id, x-!#$%&'*+.^_`|~9",
    );
  });
});

describe('preflight', () => {
  test('an allowed origin: methods, headers, max-age, Vary, and no cache-control', () => {
    const cors = createCors(options());
    const answer = cors.preflight(preflightOf(APP), PATTERN, 'GET');
    expect(answer.status).toBe(204);
    expect(answer.body).toBeNull();
    expect(headersOf(answer)).toEqual({
      allow: 'GET, OPTIONS',
      vary: 'origin, access-control-request-method, access-control-request-headers',
      'access-control-allow-origin': APP,
      'access-control-allow-methods': 'GET',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': String(DEFAULT_CORS_MAX_AGE_SECONDS),
    });
    expect(DEFAULT_CORS_MAX_AGE_SECONDS).toBe(600);
  });

  test('credentials: Allow-Credentials on the preflight', () => {
    const cors = createCors(options({ credentials: true, maxAgeSeconds: 60 }));
    const answer = cors.preflight(preflightOf(APP), PATTERN, 'POST');
    expect(answer.headers.get('access-control-allow-credentials')).toBe('true');
    expect(answer.headers.get('access-control-max-age')).toBe('60');
  });

  test('an origin not allowed, no origin, or no requested method: 204 with Allow and Vary only', () => {
    const cors = createCors(options());
    for (const request of [
      preflightOf(OTHER),
      preflightOf(undefined),
      preflightOf(APP, null),
      preflightOf('null'),
    ]) {
      const answer = cors.preflight(request, PATTERN, 'POST');
      expect(answer.status).toBe(204);
      expect(headersOf(answer)).toEqual({
        allow: 'POST, OPTIONS',
        'cache-control': 'no-store',
        vary: 'origin, access-control-request-method, access-control-request-headers',
      });
    }
  });

  test('"*": the header says "*" for any origin, but never for the opaque origin null', () => {
    const cors = createCors(options({ origins: ['*'] }));
    const answer = cors.preflight(preflightOf(OTHER), PATTERN, 'GET');
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    const opaque = cors.preflight(preflightOf('null'), PATTERN, 'GET');
    expect(opaque.headers.get('access-control-allow-origin')).toBeNull();
    // No Origin at all: no CORS headers either.
    expect(
      cors
        .preflight(preflightOf(undefined), PATTERN, 'GET')
        .headers.get('access-control-allow-origin'),
    ).toBeNull();
    const plain = cors.decorate(getFrom(undefined), PATTERN, new Response('{}'));
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    expect(plain.headers.get('vary')).toBe('origin');
  });

  test('a function: asked for each origin, its origin echoed; null never asked; a throw allows nothing', () => {
    const asked: string[] = [];
    const cors = createCors(
      options({
        origins: (origin: string) => {
          asked.push(origin);
          if (origin === OTHER) throw new Error('predicate failure');
          return true;
        },
      }),
    );
    expect(
      cors.preflight(preflightOf(APP), PATTERN, 'GET').headers.get('access-control-allow-origin'),
    ).toBe(APP);
    expect(
      cors.preflight(preflightOf(OTHER), PATTERN, 'GET').headers.get('access-control-allow-origin'),
    ).toBeNull();
    expect(
      cors
        .preflight(preflightOf('null'), PATTERN, 'GET')
        .headers.get('access-control-allow-origin'),
    ).toBeNull();
    expect(asked).toEqual([APP, OTHER]);
    const response = cors.decorate(getFrom(OTHER), PATTERN, new Response('{}'));
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('the admin routes: closed unless admin, then with authorization allowed', () => {
    for (const pattern of [ROUTES.modeBInitiate, ROUTES.modeBRespond]) {
      const closed = createCors(options()).preflight(preflightOf(APP), pattern, 'POST');
      expect(closed.headers.get('access-control-allow-origin')).toBeNull();
      expect(closed.headers.get('access-control-allow-headers')).toBeNull();
      const open = createCors(options({ admin: true, allowHeaders: ['x-a'] })).preflight(
        preflightOf(APP),
        pattern,
        'POST',
      );
      expect(open.headers.get('access-control-allow-origin')).toBe(APP);
      expect(open.headers.get('access-control-allow-headers')).toBe(
        'content-type, x-a, authorization',
      );
      const response = createCors(options()).decorate(getFrom(APP), pattern, new Response('{}'));
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      expect(response.headers.get('vary')).toBe('origin');
    }
    // Other routes never allow authorization, admin or not.
    const other = createCors(options({ admin: true })).preflight(preflightOf(APP), PATTERN, 'GET');
    expect(other.headers.get('access-control-allow-headers')).toBe('content-type');
  });
});

describe('decorate', () => {
  test('an allowed origin: Allow-Origin, Expose-Headers and Vary; the same response', () => {
    const cors = createCors(options({ credentials: true }));
    const response = new Response('{}', { status: 429, headers: { 'retry-after': '3' } });
    const out = cors.decorate(getFrom(APP), PATTERN, response);
    expect(out).toBe(response);
    expect(out.status).toBe(429);
    expect(headersOf(out)).toEqual({
      'content-type': 'text/plain;charset=UTF-8',
      'retry-after': '3',
      vary: 'origin',
      'access-control-allow-origin': APP,
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'retry-after',
    });
  });

  test('an origin not allowed, or none, or a path no route serves: Vary only', () => {
    const cors = createCors(options());
    for (const [request, pattern] of [
      [getFrom(OTHER), PATTERN],
      [getFrom(undefined), PATTERN],
      [getFrom(APP), undefined],
    ] as const) {
      const out = cors.decorate(request, pattern, new Response(null, { status: 404 }));
      const headers = headersOf(out);
      expect(headers['vary']).toBe('origin');
      expect(headers['access-control-allow-origin']).toBe(pattern === undefined ? APP : undefined);
      expect(headers['access-control-expose-headers']).toBe(
        pattern === undefined ? 'retry-after' : undefined,
      );
    }
  });

  test('Vary: appended to the one there, and left alone when it is "*"', () => {
    const cors = createCors(options());
    const appended = cors.decorate(
      getFrom(APP),
      PATTERN,
      new Response(null, { headers: { vary: 'accept-encoding' } }),
    );
    expect(appended.headers.get('vary')).toBe('accept-encoding, origin');
    for (const vary of ['*', ' * ']) {
      const star = cors.decorate(getFrom(APP), PATTERN, new Response(null, { headers: { vary } }));
      expect(star.headers.get('vary')).toBe('*');
    }
  });

  test('Vary: a name already there, in any case and spacing, is not repeated', () => {
    const cors = createCors(options());
    for (const vary of [
      'origin',
      'Origin',
      'accept-encoding,ORIGIN',
      'accept-encoding , origin ,x',
    ]) {
      const kept = cors.decorate(getFrom(APP), PATTERN, new Response(null, { headers: { vary } }));
      expect(kept.headers.get('vary')).toBe(vary.trim());
    }
    // A name that merely contains it is another name.
    const other = cors.decorate(
      getFrom(APP),
      PATTERN,
      new Response(null, { headers: { vary: 'x-origin' } }),
    );
    expect(other.headers.get('vary')).toBe('x-origin, origin');
  });

  test('a response with immutable headers is copied, with its status and body', async () => {
    const cors = createCors(options());
    const redirect = Response.redirect('https://elsewhere.example/', 302);
    const out = cors.decorate(getFrom(APP), PATTERN, redirect);
    expect(out).not.toBe(redirect);
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe('https://elsewhere.example/');
    expect(out.headers.get('vary')).toBe('origin');
    expect(out.headers.get('access-control-allow-origin')).toBe(APP);
    expect(redirect.headers.get('vary')).toBeNull();
    const other = cors.decorate(getFrom(OTHER), PATTERN, Response.redirect(`${APP}/`, 301));
    expect(other.status).toBe(301);
    expect(other.headers.get('vary')).toBe('origin');
    expect(await other.text()).toBe('');
  });
});
