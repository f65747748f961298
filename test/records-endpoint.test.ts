/**
 * The records endpoint (spec §3.1) end to end, client ↔ responder through fetch injection (the
 * responder's handler passed as the client's `fetch`): `session.request`, 200 records in a row
 * across many epochs, concurrent requests on one session, the endpoint's error codes and checks,
 * the responder-side session API, and the refusal of sessions this responder instance did not make.
 */
import { describe, expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { MAX_RECORD_REQUEST_BYTES, ROUTES } from '../src/core/constants.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { createResponder } from '../src/responder/responder.js';
import type { ResponderOptions } from '../src/responder/options.js';
import type { RecordContext } from '../src/responder/records-route.js';
import { createMemoryKeyStore, createMemorySessionStore } from '../src/responder/stores.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';
import { fakeClock, headerOf, text, utf8 } from './helpers/records.js';
import { FIELD_KEY, ORIGIN, expectError, recordingLogger } from './helpers/responder.js';
import { toHex } from './helpers/vectors.js';
import { sessionRecords } from '../src/initiator/records.js';

const MACHINES = { 'edge-01': 'machine:edge-01', 'edge-02': 'machine:edge-02' };
const echo = (plaintext: Uint8Array): Uint8Array => plaintext;

type Handler = (request: Request) => Promise<Response>;

/** Responder options over the defaults below; `onRecord: undefined` turns the endpoint off. */
type Overrides = { [K in keyof ResponderOptions]?: ResponderOptions[K] | undefined };

function setup(
  options: Overrides = {},
  clientOptions: {
    rekeyIntervalMs?: number;
    maxRecordBytes?: number;
    fetch?: (h: Handler) => Handler;
  } = {},
) {
  const clock = fakeClock(Date.UTC(2030, 0, 1));
  const logger = recordingLogger();
  const merged = {
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    now: clock.now,
    onRecord: echo,
    logger,
    ...options,
  };
  if (merged.onRecord === undefined) delete (merged as Overrides).onRecord;
  const responder = createResponder(merged as ResponderOptions);
  const handler: Handler = (request) => responder.fetch(request);
  const { fetch: wrap, ...rest } = clientOptions;
  const client = createClient({
    origin: ORIGIN,
    fetch: wrap === undefined ? handler : wrap(handler),
    insecureUnpinned: true,
    retry: 0,
    now: clock.now,
    ...rest,
  });
  return { clock, logger, responder, client };
}

function postRecord(
  responder: { fetch: Handler },
  slug: string,
  sessionId: string,
  body: Uint8Array | null,
  headers: Record<string, string> = { 'content-type': 'application/octet-stream' },
  method = 'POST',
): Promise<Response> {
  return responder.fetch(
    new Request(ORIGIN + ROUTES.records(slug, sessionId), {
      method,
      headers,
      ...(body === null ? {} : { body: body as BodyInit }),
    }),
  );
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

describe('session.request over the records endpoint', () => {
  test('a record goes out, the callback sees its plaintext and context, the reply comes back opened', async () => {
    const seen: { plaintext: string; context: RecordContext }[] = [];
    const { client } = setup({
      onRecord: (plaintext, context) => {
        seen.push({ plaintext: text(plaintext), context });
        return utf8(`reply to ${text(plaintext)}`);
      },
    });
    const session = await client.handshake('edge-01');
    expect(text(await sessionRecords(session).request(utf8('hello, responder')))).toBe(
      'reply to hello, responder',
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]?.plaintext).toBe('hello, responder');
    expect(seen[0]?.context).toMatchObject({
      slug: 'edge-01',
      machineId: 'machine:edge-01',
      sessionId: session.sessionId,
    });
    expect(seen[0]?.context.aad).toEqual(new Uint8Array(0));
  });

  test('the wire carries a §3 record: octet-stream both ways, headers at epoch 0 from seq 0', async () => {
    const wire: {
      request: Uint8Array;
      requestType: string | null;
      response: Uint8Array;
      responseType: string | null;
      status: number;
    }[] = [];
    const { client } = setup(
      {},
      {
        fetch: (handler) => async (request) => {
          const isRecord = new URL(request.url).pathname.endsWith('/records');
          const body = isRecord ? new Uint8Array(await request.clone().arrayBuffer()) : undefined;
          const response = await handler(request);
          if (body !== undefined) {
            wire.push({
              request: body,
              requestType: request.headers.get('content-type'),
              response: new Uint8Array(await response.clone().arrayBuffer()),
              responseType: response.headers.get('content-type'),
              status: response.status,
            });
          }
          return response;
        },
      },
    );
    const session = await client.handshake('edge-01');
    await sessionRecords(session).request(utf8('one'));
    await sessionRecords(session).request(utf8('two'));
    expect(wire.map((w) => [w.status, w.requestType, w.responseType])).toEqual([
      [200, 'application/octet-stream', 'application/octet-stream'],
      [200, 'application/octet-stream', 'application/octet-stream'],
    ]);
    expect(wire.map((w) => headerOf(w.request))).toEqual([
      { epoch: 0, seq: 0 },
      { epoch: 0, seq: 1 },
    ]);
    expect(wire.map((w) => headerOf(w.response))).toEqual([
      { epoch: 0, seq: 0 },
      { epoch: 0, seq: 1 },
    ]);
    // The plaintext is nowhere on the wire.
    expect(toHex(wire[0]?.request ?? new Uint8Array())).not.toContain(toHex(utf8('one')));
  });

  test('200 records in a row across many epochs, in both directions', async () => {
    const epochs = { i2r: new Set<number>(), r2i: new Set<number>() };
    const { client, clock } = setup(
      { rekeyIntervalMs: 100 },
      {
        rekeyIntervalMs: 100,
        fetch: (handler) => async (request) => {
          const isRecord = new URL(request.url).pathname.endsWith('/records');
          if (isRecord)
            epochs.i2r.add(headerOf(new Uint8Array(await request.clone().arrayBuffer())).epoch);
          const response = await handler(request);
          if (isRecord && response.ok)
            epochs.r2i.add(headerOf(new Uint8Array(await response.clone().arrayBuffer())).epoch);
          return response;
        },
      },
    );
    const session = await client.handshake('edge-01');
    for (let i = 0; i < 200; i++) {
      const message = `record ${i} ${'x'.repeat(i)}`;
      expect(text(await sessionRecords(session).request(utf8(message)))).toBe(message);
      clock.advance(23);
    }
    // 200 × 23 ms = 4.6 s with 100 ms epochs: dozens of epochs on each side.
    expect(epochs.i2r.size).toBeGreaterThanOrEqual(30);
    expect(epochs.r2i.size).toBeGreaterThanOrEqual(30);
  });

  test('concurrent requests on one session: replies sealed out of order, across an epoch switch', async () => {
    let pending = 0;
    const { client, clock } = setup({
      onRecord: async (plaintext) => {
        pending++;
        // Finish in an order unrelated to arrival, so replies are sealed out of order.
        await new Promise((resolve) => setTimeout(resolve, (plaintext[0] as number) % 7));
        pending--;
        return Uint8Array.from(plaintext).reverse();
      },
    });
    const session = await client.handshake('edge-01');
    const first = Array.from({ length: 25 }, (_, i) =>
      sessionRecords(session).request(new Uint8Array([i, 1, 2, 3])),
    );
    clock.advance(800); // the next requests are sealed in epoch 1
    const second = Array.from({ length: 25 }, (_, i) =>
      sessionRecords(session).request(new Uint8Array([i + 100, 4, 5])),
    );
    const replies = await Promise.all([...first, ...second]);
    expect(pending).toBe(0);
    replies.slice(0, 25).forEach((reply, i) => expect(Array.from(reply)).toEqual([3, 2, 1, i]));
    replies.slice(25).forEach((reply, i) => expect(Array.from(reply)).toEqual([5, 4, i + 100]));
    // The session goes on normally afterwards.
    expect(Array.from(await sessionRecords(session).request(new Uint8Array([9, 8])))).toEqual([
      8, 9,
    ]);
  });

  test('application aad: configured on the responder, given to request(), bound to request and reply', async () => {
    const aad = utf8('my-app/v1 api');
    const contexts: RecordContext[] = [];
    const { client } = setup({
      recordAad: aad,
      onRecord: (plaintext, context) => {
        contexts.push(context);
        return plaintext;
      },
    });
    const session = await client.handshake('edge-01');
    expect(text(await sessionRecords(session).request(utf8('bound'), { aad }))).toBe('bound');
    expect(contexts[0]?.aad).toEqual(aad);
    const error = await sessionRecords(session)
      .request(utf8('unbound'))
      .catch((e: unknown) => e);
    expect(isZeqKeyExError(error, 'http_error')).toBe(true);
    expect(error).toMatchObject({ status: 400, responseCode: 'invalid_record' });
    expect(text(await sessionRecords(session).request(utf8('bound again'), { aad }))).toBe(
      'bound again',
    );
  });

  test('a wiped session refuses to send; an expired one is refused by the responder with 410', async () => {
    const { client, clock } = setup({ sessionTtlMs: 60_000 });
    const session = await client.handshake('edge-01');
    await sessionRecords(session).request(utf8('x'));
    const other = await client.handshake('edge-01');
    session.wipe();
    await expectCodeAsync(sessionRecords(session).request(utf8('y')), 'session_closed');
    clock.advance(60_000);
    const error = await sessionRecords(other)
      .request(utf8('late'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'http_error',
      status: 410,
      responseCode: 'session_expired',
    });
  });

  test('the reply size is bounded on the client (maxRecordBytes)', async () => {
    const { client } = setup({ onRecord: () => new Uint8Array(5000) }, { maxRecordBytes: 4096 });
    const session = await client.handshake('edge-01');
    await expectCodeAsync(
      sessionRecords(session).request(utf8('big please')),
      'response_too_large',
    );
    expect(() => createClient({ origin: ORIGIN, maxRecordBytes: 0 })).toThrow(RangeError);
    expect(() => createClient({ origin: ORIGIN, rekeyIntervalMs: -1 })).toThrow(RangeError);
  });

  test('an aborted request rejects with aborted', async () => {
    // Like a real fetch, the injected one gives up when the request's signal aborts.
    const abortable =
      (handler: Handler): Handler =>
      (request) =>
        Promise.race([
          handler(request),
          new Promise<Response>((_, reject) => {
            if (request.signal.aborted) reject(request.signal.reason);
            request.signal.addEventListener('abort', () => reject(request.signal.reason), {
              once: true,
            });
          }),
        ]);
    const { client } = setup(
      { onRecord: () => new Promise<Uint8Array>(() => undefined) },
      { fetch: abortable },
    );
    const session = await client.handshake('edge-01');
    const controller = new AbortController();
    const pending = sessionRecords(session).request(utf8('never answered'), {
      signal: controller.signal,
    });
    controller.abort();
    await expectCodeAsync(pending, 'aborted');
  });
});

describe('the endpoint refuses, with the §3.1 and §7 codes, and changes nothing', () => {
  test('unknown, malformed or other-machine session ids: 404 unknown_session', async () => {
    const { client, responder } = setup();
    const session = await client.handshake('edge-01');
    const record = sessionRecords(session).seal(utf8('x'));
    await expectError(
      await postRecord(responder, 'edge-01', 'AAAAAAAAAAAAAAAAAAAAAA', record),
      404,
      'unknown_session',
    );
    await expectError(
      await postRecord(responder, 'edge-01', 'short', record),
      404,
      'unknown_session',
    );
    await expectError(
      await postRecord(responder, 'edge-01', 'has%20space-aaaaaaaaaa', record),
      404,
      'unknown_session',
    );
    await expectError(
      await postRecord(responder, 'edge-02', session.sessionId, record),
      404,
      'unknown_session',
    );
    // None of that touched the session: the record still opens.
    const ok = await postRecord(responder, 'edge-01', session.sessionId, record);
    expect(ok.status).toBe(200);
    expect(text(sessionRecords(session).open(await bytesOf(ok)))).toBe('x');
  });

  test('slug checks come first: 400 invalid_slug, 404 unknown_machine', async () => {
    const { client, responder } = setup();
    const session = await client.handshake('edge-01');
    await expectError(
      await postRecord(responder, '-bad', session.sessionId, new Uint8Array(40)),
      400,
      'invalid_slug',
    );
    await expectError(
      await postRecord(responder, 'edge-99', session.sessionId, new Uint8Array(40)),
      404,
      'unknown_machine',
    );
  });

  test('415 for any content-type but application/octet-stream', async () => {
    const { client, responder } = setup();
    const session = await client.handshake('edge-01');
    const record = sessionRecords(session).seal(utf8('x'));
    for (const headers of [
      {},
      { 'content-type': 'application/json' },
      { 'content-type': 'text/plain' },
    ] as Record<string, string>[]) {
      await expectError(
        await postRecord(responder, 'edge-01', session.sessionId, record, headers),
        415,
        'unsupported_media_type',
      );
    }
    expect(
      (
        await postRecord(responder, 'edge-01', session.sessionId, record, {
          'content-type': 'Application/Octet-Stream',
        })
      ).status,
    ).toBe(200);
  });

  test('413 above 1 MiB, declared or streamed; exactly 1 MiB is read', async () => {
    const { client, responder } = setup();
    const session = await client.handshake('edge-01');
    const big = new Uint8Array(MAX_RECORD_REQUEST_BYTES + 1);
    await expectError(
      await postRecord(responder, 'edge-01', session.sessionId, big),
      413,
      'payload_too_large',
    );
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 17; i++) controller.enqueue(new Uint8Array(64 * 1024));
        controller.close();
      },
    });
    const streamed = await responder.fetch(
      new Request(ORIGIN + ROUTES.records('edge-01', session.sessionId), {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    );
    await expectError(streamed, 413, 'payload_too_large');
    // A record of exactly the limit is a record: it is read and opened.
    const exact = sessionRecords(session).seal(new Uint8Array(MAX_RECORD_REQUEST_BYTES - 13 - 16));
    expect(exact.length).toBe(MAX_RECORD_REQUEST_BYTES);
    const response = await postRecord(responder, 'edge-01', session.sessionId, exact);
    expect(response.status).toBe(200);
    expect(sessionRecords(session).open(await bytesOf(response)).length).toBe(
      MAX_RECORD_REQUEST_BYTES - 29,
    );
  });

  test('400 invalid_record for records that do not open; 409 replayed_record for a replay; state unchanged', async () => {
    const { client, responder, logger } = setup();
    const session = await client.handshake('edge-01');
    const first = sessionRecords(session).seal(utf8('first'));
    const tampered = Uint8Array.from(first);
    tampered[20] = (tampered[20] as number) ^ 1;
    const bad: Uint8Array[] = [
      tampered,
      first.subarray(0, 20),
      new Uint8Array(0),
      Uint8Array.from([2, ...first.subarray(1)]),
    ];
    const farAhead = Uint8Array.from(first);
    new DataView(farAhead.buffer).setUint32(1, 5000);
    bad.push(farAhead);
    for (const body of bad)
      await expectError(
        await postRecord(responder, 'edge-01', session.sessionId, body),
        400,
        'invalid_record',
      );
    const ok = await postRecord(responder, 'edge-01', session.sessionId, first);
    expect(ok.status).toBe(200);
    expect(text(sessionRecords(session).open(await bytesOf(ok)))).toBe('first');
    await expectError(
      await postRecord(responder, 'edge-01', session.sessionId, first),
      409,
      'replayed_record',
    );
    // The refusals were logged with their codes only.
    const codes = logger.lines.map((l) => l.fields?.['code']);
    expect(codes).toContain('record_auth_failed');
    expect(codes).toContain('record_malformed');
    expect(codes).toContain('record_unsupported_version');
    expect(codes).toContain('record_too_far_ahead');
    expect(codes).toContain('replayed_record');
    expect(logger.text()).not.toContain(session.sessionId);
    // The session goes on.
    expect(text(await sessionRecords(session).request(utf8('after')))).toBe('after');
  });

  test('a responder → initiator record reflected back to the responder does not open', async () => {
    const { client, responder } = setup();
    const session = await client.handshake('edge-01');
    const reply = await bytesOf(
      await postRecord(
        responder,
        'edge-01',
        session.sessionId,
        sessionRecords(session).seal(utf8('ping')),
      ),
    );
    // Its seq 0 was already accepted from the initiator, but it does not open under the i2r key,
    // and the replay window is consulted only for a record that opened (spec §3, revision 2).
    await expectError(
      await postRecord(responder, 'edge-01', session.sessionId, reply),
      400,
      'invalid_record',
    );
    // An r2i record at a seq not yet seen fails authentication: directions have their own keys.
    const next =
      (await responder.recordSession(session.sessionId))?.seal(utf8('pong')) ?? new Uint8Array();
    expect(headerOf(next)).toEqual({ epoch: 0, seq: 1 });
    await expectError(
      await postRecord(responder, 'edge-01', session.sessionId, next),
      400,
      'invalid_record',
    );
    expect(text(sessionRecords(session).open(next))).toBe('pong');
  });

  test('405 method_not_allowed with Allow: POST, OPTIONS', async () => {
    const { client, responder } = setup();
    const session = await client.handshake('edge-01');
    const response = await postRecord(responder, 'edge-01', session.sessionId, null, {}, 'GET');
    expect(response.headers.get('allow')).toBe('POST, OPTIONS');
    await expectError(response, 405, 'method_not_allowed');
  });

  test('without onRecord the route is not offered: 404 not_found, like any unserved path', async () => {
    const { client, responder } = setup({ onRecord: undefined });
    const session = await client.handshake('edge-01');
    await expectError(
      await postRecord(
        responder,
        'edge-01',
        session.sessionId,
        sessionRecords(session).seal(utf8('x')),
      ),
      404,
      'not_found',
    );
    const error = await sessionRecords(session)
      .request(utf8('x'))
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'http_error',
      status: 404,
      responseCode: 'not_found',
    });
    expect(() =>
      createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, onRecord: 'echo' as never }),
    ).toThrow(TypeError);
    expect(() =>
      createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, recordAad: 'x' as never }),
    ).toThrow(TypeError);
    expect(() =>
      createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, rekeyIntervalMs: 0 }),
    ).toThrow(RangeError);
  });

  test('a failing callback answers 500 internal without detail; the record was consumed', async () => {
    const { client, responder, logger } = setup({
      onRecord: (plaintext) => {
        if (text(plaintext) === 'bad type') return 'not bytes' as unknown as Uint8Array;
        throw new Error('secret detail from the app');
      },
    });
    const session = await client.handshake('edge-01');
    const record = sessionRecords(session).seal(utf8('boom'));
    const response = await postRecord(responder, 'edge-01', session.sessionId, record);
    const body = await expectError(response, 500, 'internal');
    expect(JSON.stringify(body)).not.toContain('secret detail');
    expect(logger.text()).not.toContain('secret detail');
    await expectError(
      await postRecord(responder, 'edge-01', session.sessionId, record),
      409,
      'replayed_record',
    );
    await expectError(
      await postRecord(
        responder,
        'edge-01',
        session.sessionId,
        sessionRecords(session).seal(utf8('bad type')),
      ),
      500,
      'internal',
    );
  });

  test('410 session_expired once the session is past its expiry', async () => {
    const { client, responder, clock } = setup({ sessionTtlMs: 1000 });
    const session = await client.handshake('edge-01');
    const record = sessionRecords(session).seal(utf8('x'));
    clock.advance(1000);
    await expectError(
      await postRecord(responder, 'edge-01', session.sessionId, record),
      410,
      'session_expired',
    );
  });
});

describe('record state lives in the responder instance that made the session', () => {
  test('a session made by another instance sharing the stores is refused (no second r2i sender)', async () => {
    const clock = fakeClock();
    const keyStore = createMemoryKeyStore();
    const sessionStore = createMemorySessionStore({ now: clock.now });
    const a = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      sessionStore,
      now: clock.now,
      onRecord: echo,
    });
    const b = createResponder({
      fieldKey: FIELD_KEY,
      machines: MACHINES,
      keyStore,
      sessionStore,
      now: clock.now,
      onRecord: echo,
    });
    const client = createClient({
      origin: ORIGIN,
      fetch: (r) => a.fetch(r),
      insecureUnpinned: true,
      retry: 0,
      now: clock.now,
    });
    const session = await client.handshake('edge-01');
    expect(text(await sessionRecords(session).request(utf8('via a')))).toBe('via a');
    await expectError(
      await postRecord(
        b,
        'edge-01',
        session.sessionId,
        sessionRecords(session).seal(utf8('via b')),
      ),
      404,
      'unknown_session',
    );
    expect(await b.recordSession(session.sessionId)).toBeUndefined();
  });

  test('beyond maxSessions the oldest session is dropped, and stays refused', async () => {
    const { client, responder } = setup({ maxSessions: 2 });
    const s1 = await client.handshake('edge-01');
    await sessionRecords(s1).request(utf8('x'));
    await client.handshake('edge-01');
    await client.handshake('edge-01');
    await expectError(
      await postRecord(responder, 'edge-01', s1.sessionId, sessionRecords(s1).seal(utf8('y'))),
      404,
      'unknown_session',
    );
  });

  test('close() wipes the record state: later records are refused', async () => {
    const { client, responder } = setup();
    const session = await client.handshake('edge-01');
    await sessionRecords(session).request(utf8('x'));
    responder.close();
    await expectError(
      await postRecord(
        responder,
        'edge-01',
        session.sessionId,
        sessionRecords(session).seal(utf8('y')),
      ),
      404,
      'unknown_session',
    );
    expect(await responder.recordSession(session.sessionId)).toBeUndefined();
  });
});

describe('responder.recordSession: records on the app’s own transport', () => {
  test('seal and open in both directions, sharing the ratchet with the endpoint', async () => {
    const { client, responder } = setup();
    const session = await client.handshake('edge-01');
    const rs = await responder.recordSession(session.sessionId);
    expect(rs).toBeDefined();
    if (rs === undefined) return;
    expect(rs).toMatchObject({
      sessionId: session.sessionId,
      slug: 'edge-01',
      machineId: 'machine:edge-01',
    });
    expect(rs.expiresAt.getTime()).toBe(session.expiresAt.getTime());
    expect(text(rs.open(sessionRecords(session).seal(utf8('over a socket'))))).toBe(
      'over a socket',
    );
    expect(text(sessionRecords(session).open(rs.seal(utf8('and back'))))).toBe('and back');
    // The endpoint continues the same ratchet: its replies carry the next r2i seq.
    expect(text(await sessionRecords(session).request(utf8('over http')))).toBe('over http');
    const again = await responder.recordSession(session.sessionId);
    expect(
      text(sessionRecords(session).open(again?.seal(utf8('same state')) ?? new Uint8Array())),
    ).toBe('same state');
    expectCode(
      () => rs.open(sessionRecords(session).seal(utf8('z')).subarray(0, 10)),
      'record_malformed',
    );
  });

  test('unknown, malformed and expired sessions give undefined; a held session closes on expiry', async () => {
    const { client, responder, clock } = setup({ sessionTtlMs: 5000 });
    const session = await client.handshake('edge-01');
    expect(await responder.recordSession('AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(await responder.recordSession('no')).toBeUndefined();
    const rs = await responder.recordSession(session.sessionId);
    expect(rs).toBeDefined();
    clock.advance(5000);
    expect(await responder.recordSession(session.sessionId)).toBeUndefined();
    expectCode(() => rs?.seal(utf8('late')), 'session_closed');
    expectCode(() => rs?.open(sessionRecords(session).seal(utf8('late'))), 'session_closed');
  });

  test('works without onRecord (no endpoint) too', async () => {
    const { client, responder } = setup({ onRecord: undefined });
    const session = await client.handshake('edge-01');
    const rs = await responder.recordSession(session.sessionId);
    expect(text(rs?.open(sessionRecords(session).seal(utf8('direct'))) ?? new Uint8Array())).toBe(
      'direct',
    );
  });
});

describe('a refused session costs no body: the session is found before a byte is read', () => {
  /** A body that never ends: 64 KiB per pull, for ever. Counts pulls and sees a cancel. */
  function endlessBody(): {
    readonly body: ReadableStream<Uint8Array>;
    readonly seen: { pulls: number; cancelled: boolean };
  } {
    const seen = { pulls: 0, cancelled: false };
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          seen.pulls += 1;
          controller.enqueue(new Uint8Array(64 * 1024));
        },
        cancel() {
          seen.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    return { body, seen };
  }

  function postStream(
    responder: { fetch: Handler },
    slug: string,
    sessionId: string,
    body: ReadableStream<Uint8Array>,
  ): Promise<Response> {
    return responder.fetch(
      new Request(ORIGIN + ROUTES.records(slug, sessionId), {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body,
        duplex: 'half',
      } as RequestInit),
    );
  }

  /** Lets a cancel that the responder started settle. */
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

  test('an unknown session id with an endless body: 404 unknown_session, the body never read', async () => {
    const { responder } = setup();
    const { body, seen } = endlessBody();
    await expectError(
      await postStream(responder, 'edge-01', 'AAAAAAAAAAAAAAAAAAAAAA', body),
      404,
      'unknown_session',
    );
    await settle();
    expect(seen.pulls).toBeLessThanOrEqual(1);
    expect(seen.cancelled).toBe(true);
  });

  test('a session of another machine, or expired: refused without reading the body', async () => {
    const { client, responder, clock } = setup({ sessionTtlMs: 1000 });
    const session = await client.handshake('edge-01');
    const other = endlessBody();
    await expectError(
      await postStream(responder, 'edge-02', session.sessionId, other.body),
      404,
      'unknown_session',
    );
    clock.advance(1000);
    const late = endlessBody();
    await expectError(
      await postStream(responder, 'edge-01', session.sessionId, late.body),
      410,
      'session_expired',
    );
    await settle();
    for (const { seen } of [other, late]) {
      expect(seen.pulls).toBeLessThanOrEqual(1);
      expect(seen.cancelled).toBe(true);
    }
  });

  test('a declared length above 1 MiB is refused before the session store is asked', async () => {
    const sessionStore = createMemorySessionStore();
    const asked: string[] = [];
    const { responder } = setup({
      sessionStore: {
        create: (session, replay) => sessionStore.create(session, replay),
        get: (sessionId) => {
          asked.push(sessionId);
          return sessionStore.get(sessionId);
        },
        delete: (sessionId) => sessionStore.delete(sessionId),
      },
    });
    const { body, seen } = endlessBody();
    const response = await responder.fetch(
      new Request(ORIGIN + ROUTES.records('edge-01', 'AAAAAAAAAAAAAAAAAAAAAA'), {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(MAX_RECORD_REQUEST_BYTES + 1),
        },
        body,
        duplex: 'half',
      } as RequestInit),
    );
    await expectError(response, 413, 'payload_too_large');
    await settle();
    expect(asked).toEqual([]);
    expect(seen.pulls).toBeLessThanOrEqual(1);
  });

  test('a session that expires while its body is still arriving is refused: 410 session_expired', async () => {
    const { client, responder, clock } = setup({ sessionTtlMs: 1000 });
    const session = await client.handshake('edge-01');
    const record = sessionRecords(session).seal(utf8('slow'));
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await held;
        controller.enqueue(record);
        controller.close();
      },
    });
    const pending = postStream(responder, 'edge-01', session.sessionId, body);
    await settle();
    clock.advance(1000);
    release();
    await expectError(await pending, 410, 'session_expired');
  });
});
