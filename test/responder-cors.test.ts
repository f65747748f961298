/**
 * CORS on the responder: preflights on every route (in process and over a real loopback server),
 * the headers of responses to an allowed origin and to any other, the admin routes closed unless
 * asked, the option's checks, and `serve --cors-origin`.
 */
import { describe, expect, test } from 'vitest';
import { createClient, sessionRecords } from '../src/index.js';
import { type ResponderOptions, createResponder } from '../src/responder.js';
import { type CliIo, runCli } from '../src/node/cli/index.js';
import { serve } from '../src/node/server.js';
import { FIELD_KEY, ORIGIN, getRequest, jsonRequest } from './helpers/responder.js';

const APP = 'https://app.example';
const MACHINES = { 'edge-01': 'machine:edge-01' };
const ROUTES = [
  ['/api/keyex/edge-01/pubkey', 'GET'],
  ['/api/keyex/edge-01/handshake', 'POST'],
  [`/api/keyex/edge-01/sessions/${'A'.repeat(22)}/records`, 'POST'],
] as const;
const ADMIN_ROUTES = ['/api/ssl/peer-seed/keyex/initiate', '/api/ssl/peer-seed/keyex/respond'];

function responderWith(
  options: Partial<ResponderOptions> = {},
): ReturnType<typeof createResponder> {
  return createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    onRecord: (plaintext) => plaintext,
    ...options,
  });
}

function preflight(
  path: string,
  origin: string,
  method: string,
  headers = 'content-type',
): Request {
  return new Request(ORIGIN + path, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': headers,
    },
  });
}

describe('preflights', () => {
  test.each(ROUTES)(
    '%s: an allowed origin gets the methods, headers and max-age',
    async (path, method) => {
      const responder = responderWith({ cors: { origins: [APP] } });
      const response = await responder.fetch(preflight(path, APP, method));
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(APP);
      expect(response.headers.get('access-control-allow-methods')).toBe(method);
      expect(response.headers.get('access-control-allow-headers')).toBe('content-type');
      expect(response.headers.get('access-control-max-age')).toBe('600');
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      expect(response.headers.get('vary')).toMatch(/^origin, access-control-request-method/);
      expect(response.headers.get('allow')).toBe(`${method}, OPTIONS`);
      responder.close();
    },
  );

  test.each(ROUTES)('%s: another origin gets no Access-Control header', async (path, method) => {
    const responder = responderWith({ cors: { origins: [APP] } });
    for (const origin of [
      'https://evil.example',
      'null',
      `${APP}.evil.example`,
      'http://app.example',
    ]) {
      const response = await responder.fetch(preflight(path, origin, method));
      expect(response.status).toBe(204);
      expect(
        [...response.headers.keys()].filter((name) => name.startsWith('access-control')),
      ).toEqual([]);
      expect(response.headers.get('vary')).toContain('origin');
    }
    responder.close();
  });

  test('without the cors option, OPTIONS answers 204 with Allow (not 405) and opens nothing', async () => {
    const responder = responderWith();
    const response = await responder.fetch(preflight(ROUTES[1][0], APP, 'POST'));
    expect(response.status).toBe(204);
    expect(response.headers.get('allow')).toBe('POST, OPTIONS');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const plain = await responder.fetch(getRequest(ROUTES[0][0], { headers: { origin: APP } }));
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    expect(plain.headers.get('vary')).toBeNull();
    responder.close();
  });

  test('OPTIONS on a path no route serves is 404 not_found', async () => {
    const responder = responderWith({ cors: { origins: [APP] } });
    const response = await responder.fetch(preflight('/api/keyex/edge-01/nothing', APP, 'GET'));
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toBe('not_found');
    responder.close();
  });

  test('maxAgeSeconds, allowHeaders and credentials are carried', async () => {
    const responder = responderWith({
      cors: {
        origins: [APP],
        maxAgeSeconds: 60,
        allowHeaders: ['X-Request-Id'],
        credentials: true,
      },
    });
    const response = await responder.fetch(preflight(ROUTES[1][0], APP, 'POST'));
    expect(response.headers.get('access-control-max-age')).toBe('60');
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type, x-request-id');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    responder.close();
  });

  test('the admin routes are closed to browsers unless cors.admin, then allow authorization', async () => {
    const closed = responderWith({ cors: { origins: [APP] } });
    for (const path of ADMIN_ROUTES) {
      const response = await closed.fetch(
        preflight(path, APP, 'POST', 'authorization, content-type'),
      );
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      const post = await closed.fetch(
        jsonRequest(path, {}, { headers: { origin: APP, 'content-type': 'application/json' } }),
      );
      expect(post.headers.get('access-control-allow-origin')).toBeNull();
    }
    closed.close();
    const open = responderWith({ cors: { origins: [APP], admin: true } });
    const response = await open.fetch(preflight(ADMIN_ROUTES[0] as string, APP, 'POST'));
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(response.headers.get('access-control-allow-headers')).toBe(
      'content-type, authorization',
    );
    open.close();
  });
});

describe('responses', () => {
  test('an allowed origin gets Allow-Origin, Vary and Retry-After exposed; others only Vary', async () => {
    const responder = responderWith({ cors: { origins: [APP] } });
    const ok = await responder.fetch(getRequest(ROUTES[0][0], { headers: { origin: APP } }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('access-control-expose-headers')).toBe('retry-after');
    expect(ok.headers.get('vary')).toBe('origin');
    // Refusals too: a page must be able to read the wire error code.
    const refused = await responder.fetch(
      getRequest('/api/keyex/nobody/pubkey', { headers: { origin: APP } }),
    );
    expect(refused.status).toBe(404);
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP);
    const other = await responder.fetch(
      getRequest(ROUTES[0][0], { headers: { origin: 'https://evil.example' } }),
    );
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toBe('origin');
    responder.close();
  });

  test("'*' answers '*'; a function decides per origin, and one that throws allows nothing", async () => {
    const any = responderWith({ cors: { origins: ['*'] } });
    const response = await any.fetch(getRequest(ROUTES[0][0], { headers: { origin: APP } }));
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    any.close();
    const seen: string[] = [];
    const byFunction = responderWith({
      cors: {
        origins: (origin) => {
          seen.push(origin);
          if (origin === 'https://throws.example') throw new Error('boom');
          return origin.endsWith('.app.example');
        },
      },
    });
    const yes = await byFunction.fetch(preflight(ROUTES[0][0], 'https://a.app.example', 'GET'));
    expect(yes.headers.get('access-control-allow-origin')).toBe('https://a.app.example');
    const no = await byFunction.fetch(preflight(ROUTES[0][0], 'https://throws.example', 'GET'));
    expect(no.status).toBe(204);
    expect(no.headers.get('access-control-allow-origin')).toBeNull();
    expect(seen).toEqual(['https://a.app.example', 'https://throws.example']);
    byFunction.close();
  });

  test('the option is checked when the responder is created', () => {
    const bad: unknown[] = [
      { origins: ['*'], credentials: true },
      { origins: ['https://app.example/'] },
      { origins: ['https://app.example/path'] },
      { origins: ['app.example'] },
      { origins: [42] },
      { origins: 'https://app.example' },
      { origins: [APP], allowHeaders: ['bad header'] },
      { origins: [APP], credentials: 'yes' },
      null,
    ];
    for (const cors of bad)
      expect(() => responderWith({ cors: cors as ResponderOptions['cors'] & object })).toThrow(
        TypeError,
      );
    expect(() => responderWith({ cors: { origins: [APP], maxAgeSeconds: -1 } })).toThrow(
      RangeError,
    );
  });
});

describe('over a real server', () => {
  test('a preflight then a handshake and a record from another origin, as a browser sends them', async () => {
    const responder = responderWith({ cors: { origins: [APP] } });
    const server = await serve(responder.fetch, { port: 0 });
    try {
      const preflightAnswer = await fetch(`${server.url}${ROUTES[1][0]}`, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
      expect(preflightAnswer.status).toBe(204);
      expect(preflightAnswer.headers.get('access-control-allow-origin')).toBe(APP);
      // The client as a page on APP would use it: every response must name APP.
      const seen: (string | null)[] = [];
      const client = createClient({
        origin: server.url,
        insecureUnpinned: true,
        retry: 0,
        headers: { origin: APP },
        hooks: {
          afterResponse: (_request, response) =>
            void seen.push(response.headers.get('access-control-allow-origin')),
        },
      });
      const session = await client.handshake('edge-01');
      const reply = await sessionRecords(session).request(new TextEncoder().encode('hello'));
      expect(new TextDecoder().decode(reply)).toBe('hello');
      expect(seen).toEqual([APP, APP, APP]);
      session.wipe();
    } finally {
      await server.close();
      responder.close();
    }
  });
});

describe('serve --cors-origin', () => {
  function io(lines: string[], stop: Promise<string>, onStdout: (line: string) => void): CliIo {
    return {
      stdout: (line) => {
        lines.push(line);
        onStdout(line);
      },
      stderr: (line) => lines.push(line),
      env: { ZEQ_FIELD_KEY: FIELD_KEY },
      stopSignal: () => stop,
    };
  }

  test('is repeatable and opens the named origins only', async () => {
    let stop: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    let listening: (line: string) => void = () => undefined;
    const ready = new Promise<string>((resolve) => (listening = resolve));
    const lines: string[] = [];
    const args = [
      'serve',
      '--port',
      '0',
      '--machine',
      'edge-01=m-1',
      '--cors-origin',
      APP,
      '--cors-origin',
      'http://localhost:5173',
    ];
    const running = runCli(args, io(lines, stopped, listening));
    const url = (await ready).replace('listening on ', '');
    try {
      for (const origin of [APP, 'http://localhost:5173']) {
        const answer = await fetch(`${url}${ROUTES[0][0]}`, { headers: { origin } });
        expect(answer.headers.get('access-control-allow-origin')).toBe(origin);
        await answer.body?.cancel();
      }
      const other = await fetch(`${url}${ROUTES[0][0]}`, {
        headers: { origin: 'https://evil.example' },
      });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      await other.body?.cancel();
    } finally {
      stop('SIGTERM');
    }
    expect(await running).toBe(0);
  });

  test('a malformed origin is a usage error (exit 2)', async () => {
    const lines: string[] = [];
    const code = await runCli(
      ['serve', '--port', '0', '--machine', 'edge-01=m-1', '--cors-origin', 'https://app.example/'],
      io(lines, Promise.resolve('SIGTERM'), () => undefined),
    );
    expect(code).toBe(2);
  });
});
