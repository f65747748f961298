/**
 * Finding 2 of the open-internet review, second half (spec §3, revision 2): a responder that lost
 * its replay memory (restarted with memory stores over the same key store) accepts a captured
 * `cipher_text` again, with the same record key. That replayed session must still share no
 * traffic key with the original one: the traffic keys are bound to the session id, so a record of
 * one session opens in neither direction of the other, and the first r2i records of the two
 * sessions differ (no AES-GCM nonce is used twice under one key).
 */
import { expect, test } from 'vitest';
import { createClient } from '../src/initiator/client.js';
import { sessionRecords } from '../src/initiator/records.js';
import { sessionState } from '../src/initiator/session.js';
import { createRecordChannel } from '../src/core/record-channel.js';
import { AEAD_TAG_BYTES, RECORD_HEADER_BYTES, ROUTES } from '../src/core/constants.js';
import { createResponder } from '../src/responder/responder.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';
import { expectCodeAsync } from './helpers/errors.js';
import { headerOf, utf8 } from './helpers/records.js';
import { FIELD_KEY, ORIGIN, expectError, jsonRequest } from './helpers/responder.js';

const MACHINES = { 'edge-01': 'machine:edge-01' };
const HANDSHAKE = '/api/keyex/edge-01/handshake';
const echo = (plaintext: Uint8Array): Uint8Array => plaintext;

type Handler = (request: Request) => Promise<Response>;

/**
 * A record's AES-GCM ciphertext without header and tag. Under one key and nonce (epoch and seq)
 * it is the same for the same plaintext whatever the AAD: equal bodies mean a shared traffic key.
 */
function body(record: Uint8Array): Uint8Array {
  return record.subarray(RECORD_HEADER_BYTES, record.length - AEAD_TAG_BYTES);
}

function postRecord(handler: Handler, sessionId: string, record: Uint8Array): Promise<Response> {
  return handler(
    new Request(ORIGIN + ROUTES.records('edge-01', sessionId), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: record as BodyInit,
    }),
  );
}

test('a session replayed through a responder that lost its replay memory has different traffic keys', async () => {
  const keyStore = createMemoryKeyStore();
  const first = createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore,
    onRecord: echo,
  });
  // What an eavesdropper sees: the handshake's cipher_text, the first record and its reply.
  const seen: { cipherText?: string; i2r?: Uint8Array; r2i?: Uint8Array } = {};
  const wiretap: Handler = async (request) => {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === HANDSHAKE) {
      const body = JSON.parse(await request.clone().text()) as { cipher_text: string };
      seen.cipherText = body.cipher_text;
    }
    const isRecord = url.pathname.endsWith('/records');
    if (isRecord) seen.i2r ??= new Uint8Array(await request.clone().arrayBuffer());
    const response = await first.fetch(request);
    if (isRecord && response.ok) seen.r2i ??= new Uint8Array(await response.clone().arrayBuffer());
    return response;
  };
  const client = createClient({ origin: ORIGIN, fetch: wiretap, insecureUnpinned: true, retry: 0 });
  const session = await client.handshake('edge-01');
  const records = sessionRecords(session);
  expect(await records.request(utf8('hello'))).toEqual(utf8('hello'));
  const { cipherText, i2r, r2i } = seen;
  if (cipherText === undefined || i2r === undefined || r2i === undefined)
    throw new Error('the wiretap saw no handshake or record');
  expect(headerOf(r2i)).toEqual({ epoch: 0, seq: 0 });

  // The same keys, but fresh session store and replay memory: the memory is lost.
  const second = createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore,
    onRecord: echo,
  });
  const replay = await second.fetch(
    jsonRequest(HANDSHAKE, { cipher_text: cipherText, fingerprint: session.fingerprint }),
  );
  expect(replay.status).toBe(200);
  const replayed = (await replay.json()) as { session_id: string };
  expect(replayed.session_id).not.toBe(session.sessionId);

  // The captured i2r record does not open in the replayed session.
  await expectError(
    await postRecord(second.fetch, replayed.session_id, i2r),
    400,
    'invalid_record',
  );

  // Even the holder of the record key (the same for both sessions) gets different traffic keys:
  // the same plaintext at epoch 0, seq 0 is sealed to different bytes in each direction.
  const recordKey = sessionState(session).key;
  const other = createRecordChannel(recordKey, replayed.session_id, 'initiator');
  const otherI2r = other.seal(utf8('hello'));
  expect(headerOf(otherI2r)).toEqual(headerOf(i2r));
  expect(body(otherI2r)).not.toEqual(body(i2r));
  const reply = await postRecord(second.fetch, replayed.session_id, otherI2r);
  expect(reply.status).toBe(200);
  const otherR2i = new Uint8Array(await reply.arrayBuffer());
  expect(headerOf(otherR2i)).toEqual({ epoch: 0, seq: 0 });
  expect(body(otherR2i)).not.toEqual(body(r2i));
  expect(other.open(otherR2i)).toEqual(utf8('hello'));
  // Neither session opens the other's reply.
  await expectCodeAsync(records.openAsync(otherR2i), 'record_auth_failed');
  await expectCodeAsync(other.openAsync(r2i), 'record_auth_failed');

  other.wipe();
  session.wipe();
  first.close();
  second.close();
});
