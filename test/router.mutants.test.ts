/**
 * The responder's router (`src/responder/router.ts`) at each of its lines: the path taken from an
 * http(s) URL as the serialised URL holds it (up to a query or a fragment, whichever comes first;
 * `/` for a URL without one), other schemes parsed, the base path as a whole segment, literal and
 * parameter segments (raw, exact count), routes tried in order, the `Allow` list, and the
 * pattern's check.
 */
import { describe, expect, test } from 'vitest';
import { type Route, createRouter } from '../src/responder/router.js';

const handler = (): Promise<Response> => Promise.resolve(new Response());

function route(pattern: string, ...methods: string[]): Route<unknown> {
  return { pattern, methods: Object.fromEntries(methods.map((method) => [method, handler])) };
}

const ROUTES: Route<unknown>[] = [
  route('/', 'GET'),
  route('/api/keyex/:slug/pubkey', 'GET'),
  route('/api/keyex/:slug/handshake', 'POST', 'OPTIONS'),
  route('/api/:a/:b/records', 'POST'),
  route('/c/d', 'GET'),
];

/** The pattern a URL matches and its parameters, or `undefined`. */
function matchOf(url: string, basePath?: string): [string, [string, string][]] | undefined {
  const match = createRouter(ROUTES, basePath).match(url);
  return match === undefined ? undefined : [match.route.pattern, [...match.params]];
}

describe('the path of a URL', () => {
  test('is everything after the host, for http and https', () => {
    expect(matchOf('https://edge.test/c/d')).toEqual(['/c/d', []]);
    expect(matchOf('http://edge.test/c/d')).toEqual(['/c/d', []]);
    expect(matchOf('https://e/c/d')).toEqual(['/c/d', []]);
    expect(matchOf('http://e/c/d')).toEqual(['/c/d', []]);
  });

  test('is / for a URL without one', () => {
    expect(matchOf('https://edge.test')).toEqual(['/', []]);
    expect(matchOf('http://edge.test')).toEqual(['/', []]);
    expect(matchOf('https://edge.test/')).toEqual(['/', []]);
  });

  test('stops at a query or a fragment, whichever comes first', () => {
    expect(matchOf('https://edge.test/c/d?x=/y')).toEqual(['/c/d', []]);
    expect(matchOf('https://edge.test/c/d#/z')).toEqual(['/c/d', []]);
    expect(matchOf('https://edge.test/c/d?x#y')).toEqual(['/c/d', []]);
    expect(matchOf('https://edge.test/c/d#x?y')).toEqual(['/c/d', []]);
    expect(matchOf('https://edge.test/c/d?')).toEqual(['/c/d', []]);
    expect(matchOf('https://edge.test/c/d#')).toEqual(['/c/d', []]);
  });

  test('of an http(s) URL is taken as written, not parsed again', () => {
    // `Request.url` is already serialised: a dot segment or a space left in a string passed
    // directly is no path of a route.
    expect(matchOf('https://edge.test/x/../c/d')).toBeUndefined();
    expect(matchOf('http://edge.test/x/../c/d')).toBeUndefined();
    expect(matchOf('https://edge.test/api/keyex/a b/pubkey')).toEqual([
      '/api/keyex/:slug/pubkey',
      [['slug', 'a b']],
    ]);
    expect(matchOf('http://edge.test/api/keyex/a b/pubkey')).toEqual([
      '/api/keyex/:slug/pubkey',
      [['slug', 'a b']],
    ]);
  });

  test('of another scheme is parsed', () => {
    expect(matchOf('a://b/c/d')).toEqual(['/c/d', []]);
    expect(matchOf('app://local/c/d?q#f')).toEqual(['/c/d', []]);
    expect(matchOf('a:/c/d')).toEqual(['/c/d', []]);
    expect(matchOf('a://b/x/../c/d')).toEqual(['/c/d', []]);
  });
});

describe('the base path', () => {
  test('is a whole leading segment, stripped before matching', () => {
    expect(matchOf('https://edge.test/zeq/c/d', '/zeq')).toEqual(['/c/d', []]);
    expect(matchOf('https://edge.test/zeq/', '/zeq')).toEqual(['/', []]);
    expect(matchOf('https://edge.test/zeq/api/keyex/e/pubkey', '/zeq')).toEqual([
      '/api/keyex/:slug/pubkey',
      [['slug', 'e']],
    ]);
    expect(matchOf('https://edge.test/c/d', '/zeq')).toBeUndefined();
    expect(matchOf('https://edge.test/zeqc/d', '/zeq')).toBeUndefined();
    expect(matchOf('https://edge.test/zeqq/c/d', '/zeq')).toBeUndefined();
    expect(matchOf('https://edge.test/zeq', '/zeq')).toBeUndefined();
    expect(matchOf('https://edge.test/x/zeq/c/d', '/zeq')).toBeUndefined();
  });

  test('empty by default', () => {
    expect(matchOf('https://edge.test/zeq/c/d')).toBeUndefined();
    expect(matchOf('https://edge.test/c/d', '')).toEqual(['/c/d', []]);
  });
});

describe('segments', () => {
  test('literals match exactly, parameters any raw segment, by name', () => {
    expect(matchOf('https://edge.test/api/keyex/edge%2001/pubkey')).toEqual([
      '/api/keyex/:slug/pubkey',
      [['slug', 'edge%2001']],
    ]);
    expect(matchOf('https://edge.test/api/x/y/records')).toEqual([
      '/api/:a/:b/records',
      [
        ['a', 'x'],
        ['b', 'y'],
      ],
    ]);
    expect(matchOf('https://edge.test/api/keyex/e/Pubkey')).toBeUndefined();
    expect(matchOf('https://edge.test/API/keyex/e/pubkey')).toBeUndefined();
    expect(matchOf('https://edge.test/c/e')).toBeUndefined();
    expect(matchOf('https://edge.test/e/d')).toBeUndefined();
  });

  test('a parameter takes an empty segment', () => {
    expect(matchOf('https://edge.test/api/keyex//pubkey')).toEqual([
      '/api/keyex/:slug/pubkey',
      [['slug', '']],
    ]);
  });

  test('the number of segments must be the same', () => {
    expect(matchOf('https://edge.test/c')).toBeUndefined();
    expect(matchOf('https://edge.test/c/d/e')).toBeUndefined();
    expect(matchOf('https://edge.test/c/d/')).toBeUndefined();
    expect(matchOf('https://edge.test/api/keyex/e')).toBeUndefined();
    expect(matchOf('https://edge.test/api/keyex/e/pubkey/x')).toBeUndefined();
  });

  test('routes are tried in order: the first that matches wins', () => {
    const first = route('/api/:x/:y/records', 'GET');
    const second = route('/api/a/b/records', 'POST');
    expect(createRouter([first, second]).match('https://edge.test/api/a/b/records')?.route).toBe(
      first,
    );
    expect(createRouter([second, first]).match('https://edge.test/api/a/b/records')?.route).toBe(
      second,
    );
    expect(createRouter([second, first]).match('https://edge.test/api/a/c/records')?.route).toBe(
      first,
    );
  });
});

describe('the match', () => {
  test('lists the methods of its route for Allow', () => {
    const router = createRouter(ROUTES);
    expect(router.match('https://edge.test/api/keyex/e/handshake')?.allow).toBe('POST, OPTIONS');
    expect(router.match('https://edge.test/api/keyex/e/pubkey')?.allow).toBe('GET');
    expect(createRouter([route('/x')]).match('https://edge.test/x')?.allow).toBe('');
  });

  test('is undefined when no route matches, or with no routes', () => {
    expect(matchOf('https://edge.test/nothing')).toBeUndefined();
    expect(createRouter([]).match('https://edge.test/')).toBeUndefined();
  });
});

describe('patterns', () => {
  test('must start with /: the TypeError names the pattern', () => {
    for (const pattern of ['api', 'api/', '', ':slug/x'])
      expect(() => createRouter([route('/ok'), route(pattern)]), pattern).toThrow(
        new TypeError(`route pattern must start with "/": ${pattern}`),
      );
    expect(() => createRouter([route('/'), route('/a/'), route('/:p')])).not.toThrow();
  });

  test('a segment is a parameter only when it starts with a colon', () => {
    const router = createRouter([route('/a:b/c'), route('/x/:')]);
    expect(router.match('https://edge.test/a:b/c')?.route.pattern).toBe('/a:b/c');
    expect(router.match('https://edge.test/z/c')).toBeUndefined();
    expect([...(router.match('https://edge.test/x/anything')?.params ?? [])]).toEqual([
      ['', 'anything'],
    ]);
  });
});
