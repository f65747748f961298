/**
 * Records (spec §3) in the page, between the real client session and the real responder: the
 * records endpoint of §3.1 through fetch injection (`session.request`), raw `seal`/`open` against
 * the responder's own session object, the epoch ratchet on a shared clock, the refusals a
 * tampered or replayed record gets on the wire, and the asynchronous calls through the page's
 * WebCrypto AES-GCM.
 */
import { describe, expect, test } from 'vitest';
import { isZeqKeyExError } from '../../src/core/errors.js';
import { utf8 } from '../../src/core/encoding.js';
import { aeadBackendAsync } from '../../src/core/primitives.js';
import { parseRecordHeader } from '../../src/core/record-format.js';
import type { RecordContext } from '../../src/responder/records-route.js';
import type { ClientSession } from '../../src/initiator/session.js';
import { expectCode } from '../helpers/errors.js';
import { type FetchLike, makeClient, makeResponder } from './fixtures.js';
import { sessionRecords } from '../../src/initiator/records.js';

const text = (bytes: Uint8Array): string => new TextDecoder('utf-8', { fatal: true }).decode(bytes);
const AAD = utf8('zeq-keyex browser suite');

/** A responder whose record callback answers `echo:<plaintext>` and remembers what it saw. */
function echoResponder(options: { rekeyIntervalMs?: number; now?: () => number } = {}): {
  responder: ReturnType<typeof makeResponder>;
  seen: { plaintext: string; context: RecordContext }[];
} {
  const seen: { plaintext: string; context: RecordContext }[] = [];
  const responder = makeResponder({
    recordAad: AAD,
    onRecord: (plaintext, context) => {
      seen.push({ plaintext: text(plaintext), context });
      return utf8(`echo:${text(plaintext)}`);
    },
    ...options,
  });
  return { responder, seen };
}

async function pinnedSession(
  handler: FetchLike,
  responder: ReturnType<typeof makeResponder>,
  options: { rekeyIntervalMs?: number; now?: () => number } = {},
): Promise<ClientSession> {
  const fingerprint = (await responder.keyDocument('edge-01')).fingerprint;
  return makeClient(handler, { pins: { 'edge-01': fingerprint }, ...options }).handshake('edge-01');
}

describe('session.request over the records endpoint (§3.1)', () => {
  test('requests and replies cross in order, then concurrently, each opened by the other side', async () => {
    const { responder, seen } = echoResponder();
    const session = await pinnedSession(responder.fetch, responder);
    for (const message of ['one', 'two', 'three']) {
      expect(text(await sessionRecords(session).request(utf8(message), { aad: AAD }))).toBe(
        `echo:${message}`,
      );
    }
    const many = Array.from({ length: 12 }, (_, i) => `concurrent-${i}`);
    const replies = await Promise.all(
      many.map((m) => sessionRecords(session).request(utf8(m), { aad: AAD })),
    );
    expect(replies.map(text)).toEqual(many.map((m) => `echo:${m}`));
    expect(seen).toHaveLength(15);
    for (const { context } of seen) {
      expect(context).toMatchObject({
        slug: 'edge-01',
        machineId: 'machine:edge-01',
        sessionId: session.sessionId,
      });
      expect(Array.from(context.aad)).toEqual(Array.from(AAD));
    }
    session.wipe();
  });

  test('a record with one bit flipped on the way is refused: 400 invalid_record, the callback never runs', async () => {
    const { responder, seen } = echoResponder();
    const flipping: FetchLike = async (request) => {
      if (!new URL(request.url).pathname.endsWith('/records')) return responder.fetch(request);
      const body = new Uint8Array(await request.arrayBuffer());
      body[body.length - 3] = (body[body.length - 3] as number) ^ 0x10;
      return responder.fetch(
        new Request(request.url, { method: 'POST', headers: request.headers, body }),
      );
    };
    const session = await pinnedSession(flipping, responder);
    let thrown: unknown;
    try {
      await sessionRecords(session).request(utf8('tampered'), { aad: AAD });
    } catch (error) {
      thrown = error;
    }
    expect(isZeqKeyExError(thrown, 'http_error')).toBe(true);
    expect(thrown).toMatchObject({ status: 400, responseCode: 'invalid_record' });
    expect(seen).toEqual([]);
  });

  test('a record sent twice is answered once: the copy is 409 replayed_record', async () => {
    const { responder, seen } = echoResponder();
    const posted: { url: string; body: Uint8Array<ArrayBuffer> }[] = [];
    const recording: FetchLike = async (request) => {
      if (new URL(request.url).pathname.endsWith('/records'))
        posted.push({
          url: request.url,
          body: new Uint8Array(await request.clone().arrayBuffer()),
        });
      return responder.fetch(request);
    };
    const session = await pinnedSession(recording, responder);
    expect(text(await sessionRecords(session).request(utf8('once'), { aad: AAD }))).toBe(
      'echo:once',
    );
    const first = posted[0];
    expect(first).toBeDefined();
    if (first === undefined) return;
    const again = await responder.fetch(
      new Request(first.url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: first.body,
      }),
    );
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toBe('replayed_record');
    expect(seen).toHaveLength(1);
  });

  test('the wrong application AAD does not open', async () => {
    const { responder, seen } = echoResponder();
    const session = await pinnedSession(responder.fetch, responder);
    let thrown: unknown;
    try {
      await sessionRecords(session).request(utf8('other aad'), { aad: utf8('another app') });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      code: 'http_error',
      status: 400,
      responseCode: 'invalid_record',
    });
    expect(seen).toEqual([]);
  });
});

describe('raw seal/open against the responder session', () => {
  test('both directions, replay and tamper refused, nothing after wipe', async () => {
    const { responder } = echoResponder();
    const session = await pinnedSession(responder.fetch, responder);
    const peer = await responder.recordSession(session.sessionId);
    expect(peer).toBeDefined();
    if (peer === undefined) return;
    expect(peer).toMatchObject({
      sessionId: session.sessionId,
      slug: 'edge-01',
      machineId: 'machine:edge-01',
    });

    const i2r = sessionRecords(session).seal(utf8('from the page'), AAD);
    expect(text(peer.open(i2r, AAD))).toBe('from the page');
    expectCode(() => peer.open(i2r, AAD), 'record_replayed');
    const r2i = peer.seal(utf8('from the responder'));
    const tampered = r2i.slice();
    tampered[20] = (tampered[20] as number) ^ 1;
    expectCode(() => sessionRecords(session).open(tampered), 'record_auth_failed');
    expect(text(sessionRecords(session).open(r2i))).toBe('from the responder');
    // A record is bound to its direction: the initiator's own record does not open as a reply.
    expectCode(
      () => sessionRecords(session).open(sessionRecords(session).seal(utf8('mine'))),
      'record_auth_failed',
    );

    session.wipe();
    expectCode(() => sessionRecords(session).seal(utf8('late')), 'session_closed');
    expectCode(() => sessionRecords(session).open(peer.seal(utf8('late'))), 'session_closed');
  });

  test('epochs ratchet on the clock and both sides follow', async () => {
    let clock = Date.UTC(2030, 0, 1);
    const now = (): number => clock;
    const { responder } = echoResponder({ rekeyIntervalMs: 1000, now });
    const session = await pinnedSession(responder.fetch, responder, { rekeyIntervalMs: 1000, now });
    const peer = await responder.recordSession(session.sessionId);
    if (peer === undefined) throw new Error('no responder session');
    const epochs: number[] = [];
    for (let step = 0; step < 4; step++) {
      const record = sessionRecords(session).seal(utf8(`step ${step}`));
      epochs.push(parseRecordHeader(record).epoch);
      expect(text(peer.open(record))).toBe(`step ${step}`);
      expect(text(await sessionRecords(session).request(utf8(`req ${step}`), { aad: AAD }))).toBe(
        `echo:req ${step}`,
      );
      clock += 1001;
    }
    // One interval passes between steps, so each step seals in the next epoch.
    expect(epochs).toEqual([0, 1, 2, 3]);
    session.wipe();
  });
});

describe("sealAsync/openAsync through the page's WebCrypto AES-GCM", () => {
  test('WebCrypto passes its probe; records cross both ways, sync and async mixed, replay and tamper refused', async () => {
    expect(await aeadBackendAsync()).toBe('webcrypto');
    const { responder } = echoResponder();
    const session = await pinnedSession(responder.fetch, responder);
    const peer = await responder.recordSession(session.sessionId);
    if (peer === undefined) throw new Error('no responder session');
    const records = sessionRecords(session);
    const big = new Uint8Array(256 * 1024).map((_, i) => i % 251);
    const sealed = await records.sealAsync(big, AAD);
    expect(Array.from(await peer.openAsync(sealed, AAD)).every((b, i) => b === i % 251)).toBe(true);
    let replayed: unknown;
    await peer.openAsync(sealed, AAD).catch((error: unknown) => (replayed = error));
    expect(isZeqKeyExError(replayed, 'record_replayed')).toBe(true);
    expect(text(peer.open(await records.sealAsync(utf8('async then sync'))))).toBe(
      'async then sync',
    );
    expect(text(await records.openAsync(peer.seal(utf8('sync then async'))))).toBe(
      'sync then async',
    );
    const reply = await peer.sealAsync(utf8('reply'));
    reply[reply.length - 1] = (reply[reply.length - 1] as number) ^ 1;
    let refused: unknown;
    await records.openAsync(reply).catch((error: unknown) => (refused = error));
    expect(isZeqKeyExError(refused, 'record_auth_failed')).toBe(true);
    session.wipe();
  });
});
