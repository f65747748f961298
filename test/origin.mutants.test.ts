/**
 * Where a responder lives (`src/core/origin.ts`): only an absolute http(s) URL without query,
 * fragment or credentials, normalised to origin and path without trailing slashes; anything else
 * is `undefined` from `parseOrigin` and a `TypeError` from `normaliseOrigin`.
 */
import { describe, expect, test } from 'vitest';
import { normaliseOrigin, parseOrigin } from '../src/core/origin.js';

describe('parseOrigin', () => {
  test('the normal form: lowercase host, default port dropped, trailing slashes removed', () => {
    expect(parseOrigin('https://Edge.Example/')).toBe('https://edge.example');
    expect(parseOrigin('https://edge.example')).toBe('https://edge.example');
    expect(parseOrigin('http://edge.example:80//')).toBe('http://edge.example');
    expect(parseOrigin('https://edge.example:8443/zeq/')).toBe('https://edge.example:8443/zeq');
    expect(parseOrigin('https://edge.example/a/b')).toBe('https://edge.example/a/b');
    expect(parseOrigin(new URL('https://edge.example/zeq'))).toBe('https://edge.example/zeq');
    expect(parseOrigin('http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000');
    // An empty query or fragment mark carries nothing: the URL has neither, and the form drops it.
    expect(parseOrigin('https://edge.example/?')).toBe('https://edge.example');
    expect(parseOrigin('https://edge.example/#')).toBe('https://edge.example');
  });

  test('not a URL, not http(s), a query, a fragment or credentials: undefined', () => {
    for (const origin of [
      '',
      'edge.example',
      '/api',
      'ftp://edge.example',
      'ws://edge.example',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'https://edge.example/?a=1',
      'https://edge.example/#top',
      'https://user@edge.example',
      'https://user:pass@edge.example',
      'https://:pass@edge.example',
      undefined,
      null,
      42,
      { href: 'https://edge.example' },
      { toString: () => 'https://edge.example' },
    ])
      expect([origin, parseOrigin(origin)]).toEqual([origin, undefined]);
  });
});

describe('normaliseOrigin', () => {
  test('returns the normal form, or throws a TypeError', () => {
    expect(normaliseOrigin('https://edge.example/')).toBe('https://edge.example');
    for (const origin of ['ftp://edge.example', 'https://edge.example?x', 'nope', 7])
      expect(() => normaliseOrigin(origin)).toThrow(TypeError);
    expect(() => normaliseOrigin('nope', 'peerOrigin')).toThrow(TypeError);
    // The message names the option.
    expect(() => normaliseOrigin('nope', 'peerOrigin')).toThrow(/^peerOrigin /);
    expect(() => normaliseOrigin('nope')).toThrow(/^origin /);
  });
});
