/**
 * Client ↔ responder in the page: the real initiator client (ky transport) runs first contact
 * against the real responder through fetch injection, in Chromium (checked first: the browser
 * suite must really run in the browser, not in Node). Covers a pinned handshake and the record
 * layer on its key, the client's refusals (`pin_required`, `fingerprint_mismatch`,
 * `confirmation_failed`, `response_mismatch`, `http_error`), and TOFU kept in the page's real
 * `localStorage`.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { isZeqKeyExError } from '../../src/core/errors.js';
import { deriveTrafficKey, openRecord, sealRecord } from '../../src/core/record-format.js';
import { createMemorySessionStore } from '../../src/responder.js';
import { tofuKey } from '../../src/initiator/trust.js';
import { createLocalStorageTrustStore } from '../../src/initiator/trust.js';
import { utf8 } from '../../src/core/encoding.js';
import { expectCode, expectCodeAsync } from '../helpers/errors.js';
import { toHex } from '../helpers/vector-data.js';
import {
  FIELD_KEY,
  ORIGIN,
  OTHER_FIELD_KEY,
  flipBit,
  hostile,
  logged,
  makeClient,
  makeResponder,
} from './fixtures.js';

test('runs in Chromium, not in Node', () => {
  expect(navigator.userAgent).toMatch(/Chrome\/\d+/);
  expect(document.createElement('div')).toBeInstanceOf(HTMLDivElement);
  expect('Buffer' in globalThis).toBe(false);
  expect(globalThis.crypto.subtle).toBeDefined();
});

describe('pinned first contact through fetch injection', () => {
  test('succeeds; both sides hold the same record key; records cross both ways', async () => {
    const sessionStore = createMemorySessionStore();
    const responder = makeResponder({ sessionStore });
    const doc = await responder.keyDocument('edge-01');
    const { fetch, log } = logged(responder.fetch);
    const client = makeClient(fetch, { pins: { 'edge-01': doc.fingerprint } });

    const session = await client.handshake('edge-01');
    expect(session).toMatchObject({
      slug: 'edge-01',
      machineId: 'machine:edge-01',
      fingerprint: doc.fingerprint,
      trust: 'pinned',
      authenticated: true,
    });
    expect(session.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(session.expiresAt.getTime()).toBeGreaterThan(Date.now());
    expect(log.entries).toEqual([
      { method: 'GET', path: '/api/keyex/edge-01/pubkey' },
      { method: 'POST', path: '/api/keyex/edge-01/handshake' },
    ]);

    const stored = await sessionStore.get(session.sessionId);
    expect(stored).toBeDefined();
    if (stored === undefined) return;
    const recordKey = session.recordKey;
    expect(recordKey).toHaveLength(32);
    expect(toHex(stored.recordKey)).toBe(toHex(recordKey));

    // §3 records on the agreed key: initiator → responder, then back.
    const aad = utf8('GET /status');
    const request = sealRecord(
      deriveTrafficKey(recordKey, session.sessionId, 'i2r'),
      session.sessionId,
      0,
      0,
      utf8('ping from the page'),
      aad,
    );
    expect(
      new TextDecoder().decode(
        openRecord(
          deriveTrafficKey(stored.recordKey, session.sessionId, 'i2r'),
          session.sessionId,
          request,
          aad,
        ),
      ),
    ).toBe('ping from the page');
    const reply = sealRecord(
      deriveTrafficKey(stored.recordKey, session.sessionId, 'r2i'),
      session.sessionId,
      0,
      0,
      utf8('pong'),
    );
    expect(
      new TextDecoder().decode(
        openRecord(deriveTrafficKey(recordKey, session.sessionId, 'r2i'), session.sessionId, reply),
      ),
    ).toBe('pong');
    // Direction, session and bytes are all bound.
    expectCode(
      () =>
        openRecord(
          deriveTrafficKey(recordKey, session.sessionId, 'r2i'),
          session.sessionId,
          request,
          aad,
        ),
      'record_auth_failed',
    );
    expectCode(
      () =>
        openRecord(
          deriveTrafficKey(recordKey, session.sessionId, 'i2r'),
          'A'.repeat(22),
          request,
          aad,
        ),
      'record_auth_failed',
    );
    const tampered = request.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    expectCode(
      () =>
        openRecord(
          deriveTrafficKey(recordKey, session.sessionId, 'i2r'),
          session.sessionId,
          tampered,
          aad,
        ),
      'record_auth_failed',
    );

    session.wipe();
    expectCode(() => session.recordKey, 'session_closed');
  });

  test('concurrent handshakes from one page get distinct sessions and keys', async () => {
    const responder = makeResponder();
    const doc = await responder.keyDocument('edge-02');
    const client = makeClient(responder.fetch, {
      pins: { 'edge-02': [doc.fingerprint, 'ab'.repeat(32)] },
    });
    const sessions = await Promise.all(
      Array.from({ length: 8 }, () => client.handshake('edge-02')),
    );
    expect(new Set(sessions.map((s) => s.sessionId)).size).toBe(8);
    expect(new Set(sessions.map((s) => toHex(s.recordKey))).size).toBe(8);
    for (const s of sessions) s.wipe();
  });
});

describe('the client refuses', () => {
  test('pin_required: no trust configured, nothing is sent', async () => {
    const { fetch, log } = logged(makeResponder().fetch);
    await expectCodeAsync(makeClient(fetch).handshake('edge-01'), 'pin_required');
    expect(log.entries).toEqual([]);
  });

  test('fingerprint_mismatch: the key matches no pin, nothing is posted', async () => {
    const responder = makeResponder();
    const actual = (await responder.keyDocument('edge-01')).fingerprint;
    const wrong = 'ab'.repeat(32);
    const { fetch, log } = logged(responder.fetch);
    let thrown: unknown;
    try {
      await makeClient(fetch, { pins: { 'edge-01': wrong } }).handshake('edge-01');
    } catch (error) {
      thrown = error;
    }
    expect(isZeqKeyExError(thrown, 'fingerprint_mismatch')).toBe(true);
    expect(thrown).toMatchObject({ expectedFingerprint: wrong, actualFingerprint: actual });
    expect(log.count('POST')).toBe(0);
  });

  test('confirmation_failed: a hostile handler flips one bit of the key confirmation', async () => {
    const responder = makeResponder();
    const fingerprint = (await responder.keyDocument('edge-01')).fingerprint;
    for (const [byte, bit] of [
      [0, 0],
      [20, 3],
      [56, 7],
    ] as const) {
      const evil = hostile(responder.fetch, (body) => {
        body['key_confirmation'] = flipBit(body['key_confirmation'], byte, bit);
      });
      await expectCodeAsync(
        makeClient(evil, { pins: { 'edge-01': fingerprint } }).handshake('edge-01'),
        'confirmation_failed',
      );
    }
  });

  test('confirmation_failed: a confirmation made by another responder for another session', async () => {
    const responder = makeResponder();
    const fingerprint = (await responder.keyDocument('edge-01')).fingerprint;
    const other = makeResponder();
    const stolen = await makeClient(other.fetch, { insecureUnpinned: true }).handshake('edge-01');
    const evil = hostile(responder.fetch, (body) => {
      body['session_id'] = stolen.sessionId;
    });
    await expectCodeAsync(
      makeClient(evil, { pins: { 'edge-01': fingerprint } }).handshake('edge-01'),
      'confirmation_failed',
    );
  });

  test('response_mismatch: the response names another machine', async () => {
    const responder = makeResponder();
    const fingerprint = (await responder.keyDocument('edge-01')).fingerprint;
    const evil = hostile(responder.fetch, (body) => {
      body['machine_id'] = 'machine:edge-02';
    });
    await expectCodeAsync(
      makeClient(evil, { pins: { 'edge-01': fingerprint } }).handshake('edge-01'),
      'response_mismatch',
    );
  });

  test('http_error carries the responder wire code: unknown machine', async () => {
    let thrown: unknown;
    try {
      await makeClient(makeResponder().fetch, { insecureUnpinned: true }).handshake('edge-99');
    } catch (error) {
      thrown = error;
    }
    expect(isZeqKeyExError(thrown, 'http_error')).toBe(true);
    expect(thrown).toMatchObject({ status: 404, responseCode: 'unknown_machine' });
  });
});

describe('trust on first use in the real localStorage', () => {
  const prefix = 'zeq-keyex-browser-test:';
  const clear = (): void => {
    for (const key of Object.keys(localStorage))
      if (key.startsWith(prefix)) localStorage.removeItem(key);
  };
  beforeEach(clear);
  afterEach(clear);

  test('first use remembers, a later page load matches, a changed key is refused', async () => {
    expect(globalThis.localStorage).toBeInstanceOf(Storage);
    const responder = makeResponder();
    const fingerprint = (await responder.keyDocument('edge-01')).fingerprint;
    const storageKey = prefix + tofuKey(ORIGIN, 'edge-01');

    const first = await makeClient(responder.fetch, {
      tofu: createLocalStorageTrustStore({ prefix }),
    }).handshake('edge-01');
    expect(first).toMatchObject({ trust: 'tofu-first-use', authenticated: false, fingerprint });
    expect(localStorage.getItem(storageKey)).toBe(fingerprint);

    // A fresh store and client over the same storage, as after a reload.
    const again = await makeClient(responder.fetch, {
      tofu: createLocalStorageTrustStore({ prefix }),
    }).handshake('edge-01');
    expect(again).toMatchObject({ trust: 'tofu-match', authenticated: true, fingerprint });

    // Same origin and slug, another key (another deployment's field key).
    const impostor = makeResponder({ fieldKey: OTHER_FIELD_KEY });
    const impostorFingerprint = (await impostor.keyDocument('edge-01')).fingerprint;
    expect(impostorFingerprint).not.toBe(fingerprint);
    const { fetch, log } = logged(impostor.fetch);
    let thrown: unknown;
    try {
      await makeClient(fetch, { tofu: createLocalStorageTrustStore({ prefix }) }).handshake(
        'edge-01',
      );
    } catch (error) {
      thrown = error;
    }
    expect(isZeqKeyExError(thrown, 'tofu_key_changed')).toBe(true);
    expect(thrown).toMatchObject({
      expectedFingerprint: fingerprint,
      actualFingerprint: impostorFingerprint,
    });
    expect(log.count('POST')).toBe(0);
    expect(localStorage.getItem(storageKey)).toBe(fingerprint);
  });

  test('a first contact whose confirmation fails remembers nothing', async () => {
    const responder = makeResponder({ fieldKey: FIELD_KEY });
    const evil = hostile(responder.fetch, (body) => {
      body['key_confirmation'] = flipBit(body['key_confirmation'], 10, 1);
    });
    await expectCodeAsync(
      makeClient(evil, { tofu: createLocalStorageTrustStore({ prefix }) }).handshake('edge-01'),
      'confirmation_failed',
    );
    expect(Object.keys(localStorage).filter((key) => key.startsWith(prefix))).toEqual([]);
  });

  test('a hand-edited entry is a store_error, not a silent re-trust', async () => {
    localStorage.setItem(prefix + tofuKey(ORIGIN, 'edge-01'), 'not a fingerprint');
    await expectCodeAsync(
      makeClient(makeResponder().fetch, {
        tofu: createLocalStorageTrustStore({ prefix }),
      }).handshake('edge-01'),
      'store_error',
    );
  });
});
