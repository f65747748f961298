/**
 * The library client (`createClient`) against a real `zeq-keyex serve` process on loopback (the
 * built executable, test/helpers/cli-process.ts): everything a real responder can give it. A pinned
 * session and a pin set; `fingerprint_mismatch`; trust on first use, then `tofu_key_changed` once
 * serve restarts at the same origin without `--store` (a new key); an unauthenticated session;
 * `http_error` 404 `unknown_machine`; `network_error` once serve has stopped; `aborted`; and
 * `session.request()` records through `serve --echo` (and the 404 of a serve without it).
 *
 * Every client has `retry: 0` and a time limit, and every process wait is bounded.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { type Client, type ClientOptions, createClient } from '../src/initiator/client.js';
import { tofuKey } from '../src/initiator/trust.js';
import { ALG } from '../src/core/constants.js';
import { utf8 } from '../src/core/encoding.js';
import { isSessionId } from '../src/core/identifiers.js';
import { createFileTrustStore } from '../src/node/file-trust-store.js';
import { randomBytes } from '../src/core/primitives.js';
import { useCliProcesses } from './helpers/cli-process.js';
import { STRANGER_FP, rejection } from './helpers/client-kit.js';
import { FIELD_KEY } from './helpers/responder.js';
import { toHex } from './helpers/vectors.js';
import { sessionRecords } from '../src/initiator/records.js';

const SLUG = 'edge-01';
const MACHINE_ID = 'machine:edge-01';
const MACHINE = ['--machine', `${SLUG}=${MACHINE_ID}`];
/** Per request: far above what a loopback handshake takes, far below the test timeout. */
const TIMEOUT_MS = 5_000;

const { startServe, stop, fingerprintOf, scratch } = useCliProcesses('client-serve');

function clientFor(origin: string, options: Omit<ClientOptions, 'origin'> = {}): Client {
  return createClient({ origin, retry: 0, timeoutMs: TIMEOUT_MS, ...options });
}

const text = (bytes: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(bytes);

describe('createClient against zeq-keyex serve', () => {
  test('pinned: a confirmed, authenticated session with the fields serve answered with', async () => {
    const server = await startServe(MACHINE, FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    const client = clientFor(server.origin, { pins: { [SLUG]: fingerprint } });
    expect(client.origin).toBe(server.origin);

    const doc = await client.fetchKeyDocument(SLUG);
    expect(doc).toMatchObject({ alg: ALG, fingerprint, machineId: MACHINE_ID });

    const before = Date.now();
    const session = await client.handshake(SLUG);
    expect(session).toMatchObject({
      slug: SLUG,
      machineId: MACHINE_ID,
      fingerprint,
      alg: ALG,
      trust: 'pinned',
      authenticated: true,
    });
    expect(isSessionId(session.sessionId)).toBe(true);
    expect(session.expiresAt.getTime()).toBeGreaterThan(before);
    const recordKey = session.recordKey;
    expect(recordKey).toHaveLength(32);
    expect(recordKey.some((b) => b !== 0)).toBe(true);

    // A second handshake is a new session with another record key.
    const again = await client.handshake(SLUG);
    expect(again.sessionId).not.toBe(session.sessionId);
    expect(toHex(again.recordKey)).not.toBe(toHex(recordKey));
    session.wipe();
    again.wipe();
    await stop(server);
  });

  test('a pin set (old and new key, in either order): pinned and authenticated', async () => {
    const server = await startServe(MACHINE, FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    for (const pins of [
      [STRANGER_FP, fingerprint],
      [fingerprint, STRANGER_FP],
    ]) {
      const session = await clientFor(server.origin, { pins: { [SLUG]: pins } }).handshake(SLUG);
      expect(session).toMatchObject({ fingerprint, trust: 'pinned', authenticated: true });
      session.wipe();
    }
    await stop(server);
  });

  test('a pin that is not the served key: fingerprint_mismatch with both fingerprints', async () => {
    const server = await startServe(MACHINE, FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    const error = await rejection(
      clientFor(server.origin, { pins: { [SLUG]: STRANGER_FP } }).handshake(SLUG),
      'fingerprint_mismatch',
    );
    expect({ expected: error.expectedFingerprint, actual: error.actualFingerprint }).toEqual({
      expected: STRANGER_FP,
      actual: fingerprint,
    });
    await stop(server);
  });

  test('TOFU: first use, then a match; serve restarted at the same origin without --store has a new key: tofu_key_changed', async () => {
    const path = join(scratch(), 'tofu', 'known.json');
    const first = await startServe(MACHINE, FIELD_KEY);
    const firstFingerprint = await fingerprintOf(first.origin, SLUG);
    const client = clientFor(first.origin, { tofu: createFileTrustStore(path) });
    const key = tofuKey(client.origin, SLUG);

    const firstUse = await client.handshake(SLUG);
    expect(firstUse).toMatchObject({
      fingerprint: firstFingerprint,
      trust: 'tofu-first-use',
      authenticated: false,
    });
    expect(await createFileTrustStore(path).get(key)).toBe(firstFingerprint);
    const match = await client.handshake(SLUG);
    expect(match).toMatchObject({
      fingerprint: firstFingerprint,
      trust: 'tofu-match',
      authenticated: true,
    });
    firstUse.wipe();
    match.wipe();
    await stop(first);

    // Keys in memory only: the same machine comes back with a new key pair, at the same origin.
    const second = await startServe(MACHINE, FIELD_KEY, { port: first.port });
    expect(second.origin).toBe(first.origin);
    const secondFingerprint = await fingerprintOf(second.origin, SLUG);
    expect(secondFingerprint).not.toBe(firstFingerprint);
    const error = await rejection(client.handshake(SLUG), 'tofu_key_changed');
    expect({ expected: error.expectedFingerprint, actual: error.actualFingerprint }).toEqual({
      expected: firstFingerprint,
      actual: secondFingerprint,
    });
    // A fresh client on the same store (a restarted app) refuses it too; the store is unchanged.
    await rejection(
      clientFor(second.origin, { tofu: createFileTrustStore(path) }).handshake(SLUG),
      'tofu_key_changed',
    );
    expect(await createFileTrustStore(path).get(key)).toBe(firstFingerprint);
    await stop(second);
  });

  test('insecureUnpinned: a session that says it is not authenticated', async () => {
    const server = await startServe(MACHINE, FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    const session = await clientFor(server.origin, { insecureUnpinned: true }).handshake(SLUG);
    expect(session).toMatchObject({
      slug: SLUG,
      machineId: MACHINE_ID,
      fingerprint,
      trust: 'unauthenticated',
      authenticated: false,
    });
    session.wipe();
    await stop(server);
  });

  test('a slug serve does not serve (with --machine): http_error 404 unknown_machine', async () => {
    const server = await startServe(MACHINE, FIELD_KEY);
    const client = clientFor(server.origin, { insecureUnpinned: true });
    for (const call of [client.fetchKeyDocument('edge-99'), client.handshake('edge-99')]) {
      const error = await rejection(call, 'http_error');
      expect({ status: error.status, responseCode: error.responseCode }).toEqual({
        status: 404,
        responseCode: 'unknown_machine',
      });
    }
    await stop(server);
  });

  test('serve has stopped: network_error', async () => {
    const server = await startServe(MACHINE, FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    const client = clientFor(server.origin, { pins: { [SLUG]: fingerprint } });
    (await client.handshake(SLUG)).wipe();
    await stop(server);
    await rejection(client.handshake(SLUG), 'network_error');
    await rejection(client.fetchKeyDocument(SLUG), 'network_error');
  });

  test('an already-aborted signal: aborted, for the document and the handshake', async () => {
    const server = await startServe(MACHINE, FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    const client = clientFor(server.origin, { pins: { [SLUG]: fingerprint } });
    await rejection(client.fetchKeyDocument(SLUG, { signal: AbortSignal.abort() }), 'aborted');
    await rejection(client.handshake(SLUG, { signal: AbortSignal.abort() }), 'aborted');
    // The client is not spoiled by it.
    const session = await client.handshake(SLUG);
    expect(session.authenticated).toBe(true);
    session.wipe();
    await stop(server);
  });
});

describe('session.request() against zeq-keyex serve', () => {
  test('serve --echo: records round-trip, in sequence and concurrently; a wiped session is session_closed', async () => {
    const server = await startServe([...MACHINE, '--echo'], FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    const session = await clientFor(server.origin, { pins: { [SLUG]: fingerprint } }).handshake(
      SLUG,
    );

    expect(text(await sessionRecords(session).request(utf8('hello from the library client')))).toBe(
      'hello from the library client',
    );
    const binary = randomBytes(4096);
    expect(toHex(await sessionRecords(session).request(binary))).toBe(toHex(binary));
    expect(await sessionRecords(session).request(new Uint8Array(0))).toHaveLength(0);
    const messages = Array.from({ length: 8 }, (_, i) => `concurrent ${i}`);
    const replies = await Promise.all(
      messages.map((m) => sessionRecords(session).request(utf8(m))),
    );
    expect(replies.map(text)).toEqual(messages);

    session.wipe();
    await rejection(sessionRecords(session).request(utf8('after wipe')), 'session_closed');
    await stop(server);
  });

  test('serve without --echo has no records endpoint: http_error 404 not_found', async () => {
    const server = await startServe(MACHINE, FIELD_KEY);
    const fingerprint = await fingerprintOf(server.origin, SLUG);
    const session = await clientFor(server.origin, { pins: { [SLUG]: fingerprint } }).handshake(
      SLUG,
    );
    const error = await rejection(
      sessionRecords(session).request(utf8('anyone there?')),
      'http_error',
    );
    expect({ status: error.status, responseCode: error.responseCode }).toEqual({
      status: 404,
      responseCode: 'not_found',
    });
    session.wipe();
    await stop(server);
  });
});
