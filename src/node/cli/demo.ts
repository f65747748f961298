/**
 * `zeq-keyex demo`: a responder on loopback and a pinned first contact against it over real HTTP,
 * each step printed with its timing — discovery (spec §2.1), the pinned handshake with key
 * confirmation (spec §2.2–§2.4) and one encrypted record (spec §3).
 *
 * Caveat: the field key is thrown away and the keys live in memory; the pin is taken from the
 * discovery itself, which a real deployment must never do (there the operator confirms it out of
 * band). The record key is never printed.
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  AEAD_KEY_BYTES,
  AEAD_TAG_BYTES,
  ALG,
  ALG_SIZES,
  FIELD_KEY_BYTES,
  RECORD_HEADER_BYTES,
} from '../../core/constants.js';
import { createClient } from '../../initiator/client.js';
import { sessionRecords } from '../../initiator/records.js';
import { createResponder } from '../../responder/responder.js';
import { serve } from '../server.js';
import { type CliCommand, type CliIo, EXIT } from './args.js';

const DEMO_SLUG = 'edge-01';
const DEMO_MACHINE_ID = 'm-demo-edge-01';
const DEMO_MESSAGE = 'hello, responder';

/** `zeq-keyex demo`. */
export const demoCommand: CliCommand = {
  path: 'demo',
  help: `Usage: zeq-keyex demo

Starts a responder on 127.0.0.1 (random port, in-memory keys, a throwaway field key), fetches its
fingerprint, pins it, performs a handshake over real HTTP and prints each step.`,
  options: {},
  maxPositionals: 0,
  async run(_args, io) {
    io.stdout(`zeq-keyex demo — ${ALG} first contact over HTTP on loopback\n`);
    const started = performance.now();
    const responder = createResponder({
      fieldKey: randomBytes(FIELD_KEY_BYTES).toString('hex'),
      machines: { [DEMO_SLUG]: DEMO_MACHINE_ID },
      // The demo's application: answer every record with its text, upper-cased.
      onRecord: (plaintext) =>
        new TextEncoder().encode(new TextDecoder().decode(plaintext).toUpperCase()),
    });
    const server = await serve(responder.fetch, { host: '127.0.0.1', port: 0 });
    io.stdout(
      `1. responder listening on ${server.url} (throwaway field key, keys in memory)   ${since(started)}`,
    );
    try {
      await runInitiatorSteps(server.url, io);
      return EXIT.ok;
    } finally {
      await server.close();
      responder.close();
    }
  },
};

function since(t0: number): string {
  return `${(performance.now() - t0).toFixed(1)} ms`;
}

/** Steps 2–5: discovery, the pinned handshake, one record and the wipe, as an app would do them. */
async function runInitiatorSteps(origin: string, io: CliIo): Promise<void> {
  let t = performance.now();
  const discovery = await createClient({ origin, retry: 0 }).fetchKeyDocument(DEMO_SLUG);
  io.stdout(
    `2. GET /api/keyex/${DEMO_SLUG}/pubkey: ${discovery.alg} public key, ${discovery.publicKey.length} bytes, machine ${discovery.machineId}   ${since(t)}`,
  );
  io.stdout(`   fingerprint ${discovery.fingerprint}`);
  io.stdout(
    `   (an app pins this value in its code; here we take it as the operator's out-of-band answer)`,
  );
  t = performance.now();
  const session = await createClient({
    origin,
    pins: { [DEMO_SLUG]: discovery.fingerprint },
    retry: 0,
  }).handshake(DEMO_SLUG);
  try {
    io.stdout(
      `3. pinned handshake: key checked against the pin, encapsulated (${ALG_SIZES[ALG].cipherText}-byte ciphertext),`,
    );
    io.stdout(
      `   record key derived with HKDF-SHA256, POST /api/keyex/${DEMO_SLUG}/handshake, key confirmation verified   ${since(t)}`,
    );
    io.stdout(
      `   session ${session.sessionId}, authenticated: ${session.authenticated}, expires ${session.expiresAt.toISOString()}`,
    );
    io.stdout(
      `   ML-KEM backend: ${session.kemBackend}; record key: ${AEAD_KEY_BYTES} bytes (never printed)`,
    );
    t = performance.now();
    const message = new TextEncoder().encode(DEMO_MESSAGE);
    const reply = new TextDecoder().decode(await sessionRecords(session).request(message));
    io.stdout(
      `4. encrypted record: "${DEMO_MESSAGE}" sealed with AES-256-GCM (${RECORD_HEADER_BYTES + message.length + AEAD_TAG_BYTES} bytes on the wire),`,
    );
    io.stdout(
      `   POST /api/keyex/${DEMO_SLUG}/sessions/…/records, reply opened: "${reply}"   ${since(t)}`,
    );
  } finally {
    session.wipe();
  }
  io.stdout(
    `5. session keys wiped; a recorder of this traffic holds only a public key, a ML-KEM ciphertext and records\n\ndemo ok`,
  );
}
