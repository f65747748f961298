/**
 * Every error code the responder produces (spec §7), with a table of malformed requests; after
 * each refused request neither the key store nor the session store has changed.
 */
import { beforeEach, describe, expect, test } from 'vitest';
import { WIRE_ERRORS } from '../src/core/constants.js';
import { base64Decode, base64Encode } from '../src/core/encoding.js';
import { kemEncapsulate } from '../src/core/kem.js';
import { type Responder, createResponder } from '../src/responder.js';
import type { KeyStore, SessionStore } from '../src/responder/stores.js';
import {
  FIELD_KEY,
  ORIGIN,
  type KeyDoc,
  type ObservedKeyStore,
  type ObservedSessionStore,
  type RecordingLogger,
  clientHandshake,
  expectError,
  fetchKeyDoc,
  getRequest,
  jsonRequest,
  observedKeyStore,
  observedSessionStore,
  recordingLogger,
} from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01', fresh: 'machine:fresh' };
const HANDSHAKE = '/api/keyex/edge-01/handshake';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

let keyStore: ObservedKeyStore;
let sessionStore: ObservedSessionStore;
let logger: RecordingLogger;
let responder: Responder;
let doc: KeyDoc;
let cipherText: string;

beforeEach(async () => {
  keyStore = observedKeyStore();
  sessionStore = observedSessionStore();
  logger = recordingLogger();
  responder = createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore,
    sessionStore,
    logger,
  });
  doc = await fetchKeyDoc(responder.fetch, 'edge-01');
  cipherText = base64Encode(kemEncapsulate(base64Decode(doc.public_key, 1184)).cipherText);
});

/** Canonical base64 with one pad bit set: decodes on lenient platforms, not canonical. */
function withPadBits(canonical: string): string {
  const at = canonical.indexOf('=') - 1;
  const index = B64.indexOf(canonical[at] as string);
  return canonical.slice(0, at) + (B64[index | 1] as string) + canonical.slice(at + 1);
}

function streamOf(totalBytes: number, chunkBytes = 1000): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= totalBytes) {
        controller.close();
        return;
      }
      const n = Math.min(chunkBytes, totalBytes - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n).fill(0x20));
    },
  });
}

function post(
  path: string,
  body: BodyInit,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Request {
  return new Request(ORIGIN + path, {
    method: 'POST',
    headers,
    body,
    duplex: 'half',
  } as RequestInit);
}

interface Case {
  name: string;
  request: () => Request;
  status: number;
  code: string;
  allow?: string;
}

const cases: Case[] = [
  // Routing
  {
    name: 'unknown path',
    request: () => getRequest('/nothing'),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'route prefix only',
    request: () => getRequest('/api/keyex/edge-01'),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'trailing slash',
    request: () => getRequest('/api/keyex/edge-01/pubkey/'),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'unknown verb segment',
    request: () => getRequest('/api/keyex/edge-01/privkey'),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'POST on pubkey',
    request: () => jsonRequest('/api/keyex/edge-01/pubkey', {}),
    status: 405,
    code: 'method_not_allowed',
    allow: 'GET, OPTIONS',
  },
  {
    name: 'DELETE on pubkey',
    request: () => getRequest('/api/keyex/edge-01/pubkey', { method: 'DELETE' }),
    status: 405,
    code: 'method_not_allowed',
    allow: 'GET, OPTIONS',
  },
  {
    name: 'HEAD on pubkey',
    request: () => getRequest('/api/keyex/edge-01/pubkey', { method: 'HEAD' }),
    status: 405,
    code: 'method_not_allowed',
    allow: 'GET, OPTIONS',
  },
  {
    name: 'GET on handshake',
    request: () => getRequest(HANDSHAKE),
    status: 405,
    code: 'method_not_allowed',
    allow: 'POST, OPTIONS',
  },
  {
    name: 'PUT on handshake',
    request: () => jsonRequest(HANDSHAKE, {}, { method: 'PUT' }),
    status: 405,
    code: 'method_not_allowed',
    allow: 'POST, OPTIONS',
  },
  // Slugs and machines
  {
    name: 'slug starting with a dash',
    request: () => getRequest('/api/keyex/-edge/pubkey'),
    status: 400,
    code: 'invalid_slug',
  },
  {
    name: 'slug with an encoded space',
    request: () => getRequest('/api/keyex/edge%2001/pubkey'),
    status: 400,
    code: 'invalid_slug',
  },
  {
    name: 'slug with an encoded slash',
    request: () => getRequest('/api/keyex/edge%2F01/pubkey'),
    status: 400,
    code: 'invalid_slug',
  },
  {
    name: 'slug of 65 characters',
    request: () => getRequest(`/api/keyex/${'a'.repeat(65)}/pubkey`),
    status: 400,
    code: 'invalid_slug',
  },
  {
    name: 'empty slug',
    request: () => getRequest('/api/keyex//pubkey'),
    status: 400,
    code: 'invalid_slug',
  },
  {
    name: 'bad slug on handshake',
    request: () => jsonRequest('/api/keyex/ed~ge/handshake', {}),
    status: 400,
    code: 'invalid_slug',
  },
  {
    name: 'unknown machine (pubkey)',
    request: () => getRequest('/api/keyex/nobody/pubkey'),
    status: 404,
    code: 'unknown_machine',
  },
  {
    name: 'unknown machine (handshake)',
    request: () => jsonRequest('/api/keyex/nobody/handshake', { cipher_text: cipherText }),
    status: 404,
    code: 'unknown_machine',
  },
  // Content type
  {
    name: 'no content-type',
    request: () => post(HANDSHAKE, JSON.stringify({ cipher_text: cipherText }), {}),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'text/plain',
    request: () =>
      post(HANDSHAKE, JSON.stringify({ cipher_text: cipherText }), {
        'content-type': 'text/plain',
      }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'application/jsonx',
    request: () => post(HANDSHAKE, '{}', { 'content-type': 'application/jsonx' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'form encoding',
    request: () =>
      post(HANDSHAKE, 'cipher_text=x', { 'content-type': 'application/x-www-form-urlencoded' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'json in latin1',
    request: () =>
      post(HANDSHAKE, '{}', { 'content-type': 'application/json; charset=iso-8859-1' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  // Size
  {
    name: 'oversized body with content-length',
    request: () =>
      post(HANDSHAKE, JSON.stringify({ cipher_text: cipherText, pad: 'x'.repeat(9000) }), {
        'content-type': 'application/json',
        'content-length': '9030',
      }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'declared content-length above the limit, small body',
    request: () =>
      post(HANDSHAKE, '{}', { 'content-type': 'application/json', 'content-length': '8193' }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'oversized body without content-length',
    request: () =>
      post(HANDSHAKE, JSON.stringify({ cipher_text: cipherText, pad: 'x'.repeat(9000) })),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'oversized stream, one byte over',
    request: () => post(HANDSHAKE, streamOf(8193)),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'endless stream',
    request: () => post(HANDSHAKE, streamOf(Number.MAX_SAFE_INTEGER, 4096)),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'malformed content-length',
    request: () =>
      post(HANDSHAKE, '{}', { 'content-type': 'application/json', 'content-length': '12abc' }),
    status: 400,
    code: 'invalid_request',
  },
  // JSON shape
  { name: 'empty body', request: () => post(HANDSHAKE, ''), status: 400, code: 'invalid_request' },
  {
    name: 'not JSON',
    request: () => jsonRequest(HANDSHAKE, '{"cipher_text":'),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'invalid UTF-8',
    request: () => post(HANDSHAKE, new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'JSON array',
    request: () => jsonRequest(HANDSHAKE, [cipherText]),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'JSON null',
    request: () => jsonRequest(HANDSHAKE, 'null'),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'JSON string',
    request: () => jsonRequest(HANDSHAKE, '"x"'),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'JSON number',
    request: () => jsonRequest(HANDSHAKE, '42'),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'missing cipher_text',
    request: () => jsonRequest(HANDSHAKE, { fingerprint: doc.fingerprint }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'cipher_text a number',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: 1088 }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'cipher_text null',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: null }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'cipher_text an array',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: [cipherText] }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'cipher_text only inherited',
    request: () => jsonRequest(HANDSHAKE, `{"__proto__":{"cipher_text":"${cipherText}"}}`),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'fingerprint a number',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint: 1 }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'fingerprint null',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint: null }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'fingerprint upper case',
    request: () =>
      jsonRequest(HANDSHAKE, {
        cipher_text: cipherText,
        fingerprint: doc.fingerprint.toUpperCase(),
      }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'fingerprint too short',
    request: () =>
      jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint: doc.fingerprint.slice(2) }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'fingerprint with colons',
    request: () =>
      jsonRequest(HANDSHAKE, {
        cipher_text: cipherText,
        fingerprint: doc.fingerprint.match(/../g)?.join(':'),
      }),
    status: 400,
    code: 'invalid_request',
  },
  // cipher_text encoding and length
  {
    name: 'cipher_text empty',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: '' }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text of 1087 bytes',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: base64Encode(new Uint8Array(1087)) }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text of 1089 bytes',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: base64Encode(new Uint8Array(1089)) }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text of 32 bytes',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: base64Encode(new Uint8Array(32)) }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text missing padding',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: cipherText.replace(/=+$/, '') }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text extra padding',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: `${cipherText}=` }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text non-zero pad bits',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: withPadBits(cipherText) }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text with a newline',
    request: () =>
      jsonRequest(HANDSHAKE, {
        cipher_text: `${cipherText.slice(0, 76)}\n${cipherText.slice(76)}`,
      }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text with spaces',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: ` ${cipherText}` }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text in base64url',
    request: () =>
      jsonRequest(HANDSHAKE, { cipher_text: cipherText.replace(/\+/g, '-').replace(/\//g, '_') }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  {
    name: 'cipher_text as hex',
    request: () => jsonRequest(HANDSHAKE, { cipher_text: 'ab'.repeat(1088) }),
    status: 400,
    code: 'invalid_cipher_text',
  },
  // Keys
  {
    name: 'fingerprint of another key',
    request: () =>
      jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint: 'ab'.repeat(32) }),
    status: 409,
    code: 'key_mismatch',
  },
  {
    name: 'machine without a key yet',
    request: () => jsonRequest('/api/keyex/fresh/handshake', { cipher_text: cipherText }),
    status: 409,
    code: 'key_mismatch',
  },
  {
    name: 'machine without a key yet, with a fingerprint',
    request: () =>
      jsonRequest('/api/keyex/fresh/handshake', {
        cipher_text: cipherText,
        fingerprint: doc.fingerprint,
      }),
    status: 409,
    code: 'key_mismatch',
  },
];

describe('malformed and refused requests', () => {
  test('the table covers every code the first-contact routes produce', () => {
    const codes = new Set(cases.map((c) => c.code));
    for (const code of [
      'invalid_request',
      'invalid_slug',
      'invalid_cipher_text',
      'unknown_machine',
      'method_not_allowed',
      'key_mismatch',
      'payload_too_large',
      'unsupported_media_type',
    ]) {
      expect(codes.has(code), code).toBe(true);
    }
  });

  test.each(cases)(
    '$name → $status $code, nothing stored',
    async ({ request, status, code, allow }) => {
      const keysBefore = keyStore.snapshot();
      const sessionsBefore = await sessionStore.snapshot();
      const putsBefore = keyStore.calls.putIfAbsent;
      const response = await responder.fetch(request());
      const body = await expectError(response, status, code);
      expect(Object.keys(body).sort()).toEqual(['error', 'message']);
      if (allow !== undefined) expect(response.headers.get('allow')).toBe(allow);
      expect(keyStore.snapshot()).toBe(keysBefore);
      expect(keyStore.calls.putIfAbsent).toBe(putsBefore);
      expect(await sessionStore.snapshot()).toBe(sessionsBefore);
      expect(sessionStore.created).toHaveLength(0);
    },
  );

  test('a path the responder does not serve: 404 not_found (spec revision 2)', async () => {
    for (const path of ['/nothing', '/api/keyex/edge-01/pubkey/', '/']) {
      const response = await responder.fetch(getRequest(path));
      expect(response.status).toBe(404);
      expect(await response.text()).toBe('{"error":"not_found","message":"no such route"}');
      expect(Object.fromEntries(response.headers)).toEqual({
        'cache-control': 'no-store',
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
      });
    }
  });

  test('an oversized stream is not read past the limit', async () => {
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1024;
        controller.enqueue(new Uint8Array(1024).fill(0x20));
      },
    });
    const response = await responder.fetch(post(HANDSHAKE, stream));
    await expectError(response, 413, 'payload_too_large');
    // The limit is 8 KiB; a stream source may be asked for a chunk or two ahead of the reader.
    expect(pulled).toBeLessThanOrEqual(8192 + 3 * 1024);
  });

  test('a replayed cipher_text → 409 replayed_handshake, nothing stored', async () => {
    const first = await clientHandshake(responder.fetch, 'edge-01');
    const before = await sessionStore.snapshot();
    const replay = await responder.fetch(
      jsonRequest(HANDSHAKE, {
        cipher_text: first.cipherTextB64,
        fingerprint: first.doc.fingerprint,
      }),
    );
    await expectError(replay, 409, 'replayed_handshake');
    // Without the fingerprint too (it is the same key pair).
    const bare = await responder.fetch(
      jsonRequest(HANDSHAKE, { cipher_text: first.cipherTextB64 }),
    );
    await expectError(bare, 409, 'replayed_handshake');
    expect(await sessionStore.snapshot()).toBe(before);
    expect(sessionStore.created).toEqual([first.response.session_id]);
    // Refused by the replay memory, before decapsulation and before the session store.
    expect(sessionStore.replayed).toBe(0);
    expect(logger.lines.filter((l) => l.fields?.['code'] === 'replayed_handshake')).toHaveLength(2);
  });

  test('a replay is refused after the session was deleted, until its expiry', async () => {
    let now = Date.UTC(2030, 0, 1);
    const store = observedSessionStore({ now: () => now });
    const r = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      sessionStore: store,
      sessionTtlMs: 60_000,
      now: () => now,
    });
    const first = await clientHandshake(r.fetch, 'edge-01');
    await store.delete(first.response.session_id);
    now += 59_999;
    await expectError(
      await r.fetch(jsonRequest(HANDSHAKE, { cipher_text: first.cipherTextB64 })),
      409,
      'replayed_handshake',
    );
    now += 1;
    // Past the session lifetime the replay can only open a session nobody can use (§2.3).
    expect(
      (await r.fetch(jsonRequest(HANDSHAKE, { cipher_text: first.cipherTextB64 }))).status,
    ).toBe(200);
  });
});

describe('500 internal and 503 unavailable, without detail', () => {
  async function expectInternal(response: Response): Promise<void> {
    const text = await response.text();
    expect(response.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ error: 'internal', message: 'internal error' });
    expect(response.headers.get('cache-control')).toBe('no-store');
  }

  /** A store that fails is `503 unavailable` with `Retry-After` (spec §7, revision 2). */
  async function expectUnavailable(response: Response): Promise<void> {
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(JSON.parse(text)).toEqual({
      error: 'unavailable',
      message: WIRE_ERRORS.unavailable.message,
    });
    expect(response.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
    expect(response.headers.get('cache-control')).toBe('no-store');
  }

  test('a key store that fails → 503; the log has the code, not the exception text', async () => {
    const log = recordingLogger();
    const failing: KeyStore = {
      get: () => Promise.reject(new Error('disk on fire: secret=deadbeef')),
      putIfAbsent: () => Promise.reject(new Error('unreachable')),
    };
    const r = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: failing,
      logger: log,
    });
    await expectUnavailable(await r.fetch(getRequest('/api/keyex/edge-01/pubkey')));
    await expectUnavailable(await r.fetch(jsonRequest(HANDSHAKE, { cipher_text: cipherText })));
    expect(log.lines.map((l) => l.fields?.['code'])).toEqual(['store_error', 'store_error']);
    expect(log.text().includes('disk on fire')).toBe(false);
    expect(log.text().includes('deadbeef')).toBe(false);
  });

  test('a session store that fails → 503', async () => {
    const log = recordingLogger();
    const failing: SessionStore = {
      create: () => Promise.reject(new Error('boom')),
      get: () => Promise.resolve(undefined),
      delete: () => Promise.resolve(),
    };
    const r = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      sessionStore: failing,
      logger: log,
    });
    await expectUnavailable(
      await r.fetch(
        jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint: doc.fingerprint }),
      ),
    );
    expect(log.lines.map((l) => l.fields?.['code'])).toEqual(['store_error']);
  });

  test('a resolver that throws or returns a malformed machine_id → 500', async () => {
    const log = recordingLogger();
    const throwing = createResponder({
      fieldKey: FIELD_KEY,
      machines: () => {
        throw new Error('db password is hunter2');
      },
      logger: log,
    });
    await expectInternal(await throwing.fetch(getRequest('/api/keyex/edge-01/pubkey')));
    const malformed = createResponder({
      fieldKey: FIELD_KEY,
      machines: () => 'not a machine id',
      logger: log,
    });
    await expectInternal(await malformed.fetch(getRequest('/api/keyex/edge-01/pubkey')));
    expect(log.lines.map((l) => l.fields?.['code'])).toEqual(['unexpected', 'invalid_identifier']);
    expect(log.text().includes('hunter2')).toBe(false);
  });

  test('a logger that throws does not change the response', async () => {
    const r = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore: {
        get: () => Promise.reject(new Error('x')),
        putIfAbsent: () => Promise.reject(new Error('x')),
      },
      logger: {
        warn() {
          throw new Error('log down');
        },
        error() {
          throw new Error('log down');
        },
      },
    });
    await expectUnavailable(await r.fetch(getRequest('/api/keyex/edge-01/pubkey')));
  });
});
