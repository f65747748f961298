/**
 * The runtime smoke program: what `npm run test:runtimes` checks inside every runtime (Node, Deno,
 * Bun, workerd), through the public exports of the packed package only.
 *
 * The entries (`entry-import.mjs`, `entry-require.cjs`, `worker.mjs`) load `zeq-keyex`,
 * `zeq-keyex/protocol` and `zeq-keyex/responder` in their own way and hand the three module
 * namespaces to {@link runSmoke}, so the same checks run whatever the loader. Nothing here imports a runtime-specific module: the
 * file runs unchanged in a browser-like worker.
 *
 * Checks:
 * - a pinned handshake, client ↔ responder through fetch injection, and the session's fields;
 * - a wrong pin refused with `fingerprint_mismatch`, a wiped session refusing with `session_closed`;
 * - record round trips over the session (`session.request`, the responder's `onRecord`);
 * - a fresh ML-KEM-768 round trip through `loadKem()`;
 * - protocol vectors (keyex case 0, records case 0) through the exported key schedule;
 * - the backends: which KEM (`loadKem`) and AES-GCM (`aeadBackend`) the runtime gets, checked
 *   against what it is known to offer ({@link expectedBackends}), the session and responder on
 *   them, the Wycheproof/ACVP ML-KEM-768 subset and protocol vectors through every KEM backend
 *   available (noble, and the native one), and the AES-GCM backend against noble's on records of
 *   many sizes.
 */
import { gcm } from '@noble/ciphers/aes.js';

/** The line prefix an entry prints its JSON result after; the runner looks for it. */
export const RESULT_PREFIX = 'ZEQ_SMOKE_RESULT ';

const SLUG = 'edge-01';
const MACHINE_ID = 'm-runtime-smoke';
/** The slug and machine id the smoke responders serve. */
export const SMOKE_MACHINE = Object.freeze({ slug: SLUG, machineId: MACHINE_ID });
const ORIGIN = 'https://responder.invalid';
/** A session id as spec §2.2 allows it, checked here independently of the SDK. */
const SESSION_ID = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * A fresh random field key for a smoke responder.
 * @returns 64 lowercase hex characters.
 */
export function randomFieldKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}

/**
 * Names the runtime this code runs in, as the runtime itself reports it.
 * @returns e.g. `node 22.23.3`, `deno 2.9.6`, `bun 1.4.5`, `workerd (Cloudflare-Workers)`.
 */
export function describeRuntime() {
  const g = /** @type {Record<string, any>} */ (globalThis);
  if (g.Deno?.version?.deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun?.version) return `bun ${g.Bun.version}`;
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return 'workerd (Cloudflare-Workers)';
  if (g.process?.versions?.node) return `node ${g.process.versions.node}`;
  return `unknown (${String(g.navigator?.userAgent)})`;
}

/**
 * The backends this runtime must get: native ML-KEM in `node:crypto` from Node 24.7 on, WebCrypto
 * ML-KEM in Deno and Bun, noble elsewhere; `node:crypto` AES-GCM wherever the Node build loads
 * (Node, Deno and Bun take the `node` export condition), noble's elsewhere.
 * @returns `{ kem, aead }`.
 */
export function expectedBackends() {
  const g = /** @type {Record<string, any>} */ (globalThis);
  if (g.Deno?.version?.deno || g.Bun?.version)
    return { kem: 'webcrypto', aead: 'node', aeadAsync: 'node' };
  const node =
    g.navigator?.userAgent === 'Cloudflare-Workers' ? undefined : g.process?.versions?.node;
  // The portable build (workerd): noble for synchronous AES-GCM, WebCrypto's for the asynchronous calls.
  if (typeof node !== 'string') return { kem: 'noble', aead: 'noble', aeadAsync: 'webcrypto' };
  const [major, minor] = node.split('.').map(Number);
  return {
    kem: major > 24 || (major === 24 && minor >= 7) ? 'node' : 'noble',
    aead: 'node',
    aeadAsync: 'node',
  };
}

function bytesEqual(a, b) {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length)
    return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Runs `fn`, which must throw the SDK's error with `code`. */
async function expectCode(lib, code, fn) {
  try {
    await fn();
  } catch (error) {
    if (lib.isZeqKeyExError(error, code)) return;
    throw new Error(`expected ${code}, got ${describeError(error)}`, { cause: error });
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

function describeError(error) {
  if (error === null || typeof error !== 'object') return String(error);
  const code = typeof error.code === 'string' ? ` [${error.code}]` : '';
  return `${error.name ?? 'Error'}${code}: ${error.message ?? ''}`;
}

/**
 * Creates a responder and a client pinned to its key, wired by fetch injection.
 * @returns the responder, the client, the pin and what the responder's `onRecord` saw.
 */
export async function createPair(lib, responderLib) {
  const seen = [];
  const responder = responderLib.createResponder({
    fieldKey: randomFieldKey(),
    machines: { [SLUG]: MACHINE_ID },
    // The records endpoint (spec §3.1).
    onRecord: (plaintext, context) => {
      seen.push({ plaintext: plaintext.slice(), context });
      return replyTo(plaintext);
    },
  });
  const pin = (await responder.keyDocument(SLUG)).fingerprint;
  const client = lib.createClient({
    origin: ORIGIN,
    pins: { [SLUG]: pin },
    fetch: (request) => responder.fetch(request),
    retry: 0,
  });
  return { responder, client, pin, seen };
}

/** The reply the smoke responder gives to a record: the plaintext, reversed, after `echo:`. */
export function replyTo(plaintext) {
  const prefix = new TextEncoder().encode('echo:');
  const reply = new Uint8Array(prefix.length + plaintext.length);
  reply.set(prefix);
  reply.set(plaintext.slice().reverse(), prefix.length);
  return reply;
}

/**
 * Checks a confirmed session's fields.
 * @throws {Error} naming the first field that is wrong.
 */
export function checkSession(lib, session, pin, now = Date.now()) {
  assert(session.authenticated === true, `authenticated is ${String(session.authenticated)}`);
  assert(session.trust === 'pinned', `trust is ${String(session.trust)}`);
  assert(session.slug === SLUG, `slug is ${String(session.slug)}`);
  assert(session.machineId === MACHINE_ID, `machineId is ${String(session.machineId)}`);
  assert(session.fingerprint === pin, 'fingerprint is not the pinned one');
  assert(session.alg === lib.ALG && session.alg === 'ML-KEM-768', `alg is ${String(session.alg)}`);
  assert(
    typeof session.sessionId === 'string' && SESSION_ID.test(session.sessionId),
    'sessionId is malformed',
  );
  assert(
    session.expiresAt instanceof Date && session.expiresAt.getTime() > now,
    'expiresAt is not a future Date',
  );
  const key = session.recordKey;
  assert(
    key instanceof Uint8Array && key.length === 32 && key.some((b) => b !== 0),
    'recordKey is not 32 non-zero bytes',
  );
}

/**
 * Record round trips over a session (spec §3): `sessionRecords(session).request(bytes)` seals,
 * posts to the records endpoint and opens the reply. Two in sequence, then two at once.
 * @param lib - the imported `zeq-keyex`.
 * @param session - a session from `client.handshake()`.
 * @param seen - what the responder's `onRecord` saw, when it runs in this realm (else undefined).
 * @returns a short summary.
 */
export async function recordRoundTrips(lib, session, seen) {
  assert(typeof lib.sessionRecords === 'function', 'the package exports no sessionRecords()');
  const records = lib.sessionRecords(session);
  const encoder = new TextEncoder();
  const messages = ['first', 'second', 'concurrent a', 'concurrent b'].map((m) =>
    encoder.encode(`${m} from ${describeRuntime()}`),
  );
  const replies = [await records.request(messages[0]), await records.request(messages[1])];
  replies.push(
    ...(await Promise.all([records.request(messages[2]), records.request(messages[3])])),
  );
  messages.forEach((m, i) =>
    assert(bytesEqual(replies[i], replyTo(m)), `reply ${i} is not the one the responder sent`),
  );
  if (seen !== undefined) {
    assert(
      seen.length === messages.length,
      `the responder saw ${seen.length} records, not ${messages.length}`,
    );
    for (const m of messages)
      assert(
        seen.some((s) => bytesEqual(s.plaintext, m)),
        'the responder did not see a plaintext sent',
      );
    for (const { context } of seen) {
      assert(
        context.sessionId === session.sessionId &&
          context.slug === SLUG &&
          context.machineId === MACHINE_ID,
        'onRecord got another context',
      );
    }
  }
  return `${messages.length} records`;
}

/**
 * Runs every check. Long on purpose: it is the list of checks, in the order the report shows
 * them, each a named step; the work of each is in the functions below.
 * @param input.lib - the `zeq-keyex` namespace.
 * @param input.protocolLib - the `zeq-keyex/protocol` namespace.
 * @param input.responderLib - the `zeq-keyex/responder` namespace.
 * @param input.vectors - `{ keyex, records, invalidConfirmations }` from the protocol vectors.
 * @param input.extra - more named checks for this entry (e.g. module identity under require()).
 * @returns `{ runtime, checks: [{ name, ok, detail? }] }`.
 */
export async function runSmoke({ lib, protocolLib, responderLib, vectors, extra = {} }) {
  const checks = [];
  async function check(name, fn) {
    try {
      const detail = await fn();
      checks.push(
        detail === undefined ? { name, ok: true } : { name, ok: true, detail: String(detail) },
      );
    } catch (error) {
      checks.push({ name, ok: false, detail: describeError(error) });
    }
  }

  await check('exports', () => {
    for (const name of ['createClient', 'sessionRecords', 'isZeqKeyExError']) {
      assert(typeof lib[name] === 'function', `zeq-keyex has no ${name}`);
    }
    for (const name of [
      'computeFingerprint',
      'loadKem',
      'firstContactTranscript',
      'deriveRecordKey',
      'openKeyConfirmation',
      'createRecordChannel',
    ]) {
      assert(typeof protocolLib[name] === 'function', `zeq-keyex/protocol has no ${name}`);
    }
    for (const name of ['createResponder', 'createMemoryKeyStore', 'createMemorySessionStore']) {
      assert(typeof responderLib[name] === 'function', `zeq-keyex/responder has no ${name}`);
    }
    assert(
      lib.ZeqKeyExError === protocolLib.ZeqKeyExError &&
        lib.ZeqKeyExError === responderLib.ZeqKeyExError,
      'the entries carry different ZeqKeyExError classes',
    );
  });

  for (const [name, fn] of Object.entries(extra)) await check(name, fn);

  const expected = expectedBackends();
  const backends = { kem: 'unknown', aead: 'unknown', aeadAsync: 'unknown', native: 'unknown' };
  const kems = [];
  await check('backends (loadKem, aeadBackend, aeadBackendAsync)', async () => {
    const kem = await protocolLib.loadKem();
    backends.kem = kem.backend;
    backends.aead = protocolLib.aeadBackend();
    backends.aeadAsync = await protocolLib.aeadBackendAsync();
    kems.push(await protocolLib.loadKem('noble'));
    try {
      const native = await protocolLib.loadKem('native');
      backends.native = native.backend;
      kems.push(native);
    } catch (error) {
      if (!lib.isZeqKeyExError(error, 'kem_unavailable')) throw error;
      backends.native = 'none (kem_unavailable)';
    }
    assert(
      backends.kem === expected.kem,
      `'auto' gave the ${backends.kem} KEM backend, expected ${expected.kem}`,
    );
    assert(
      backends.aead === expected.aead,
      `AES-GCM is ${backends.aead}, expected ${expected.aead}`,
    );
    assert(
      backends.aeadAsync === expected.aeadAsync,
      `asynchronous AES-GCM is ${backends.aeadAsync}, expected ${expected.aeadAsync}`,
    );
    assert(
      expected.kem === 'noble' ? kems.length === 1 : backends.native === expected.kem,
      `'native' gave ${backends.native}`,
    );
    return `KEM ${backends.kem}, AES-GCM ${backends.aead} (asynchronous: ${backends.aeadAsync}), native KEM ${backends.native}`;
  });

  let session;
  let seen = [];
  await check('handshake (pinned, fetch injection)', async () => {
    const pair = await createPair(lib, responderLib);
    seen = pair.seen;
    session = await pair.client.handshake(SLUG);
    checkSession(lib, session, pair.pin);
    assert(session.kemBackend === expected.kem, `session.kemBackend is ${session.kemBackend}`);
    const responderKem = await pair.responder.kemBackend();
    assert(responderKem === expected.kem, `responder.kemBackend() is ${responderKem}`);
    return `client and responder on ${session.kemBackend}`;
  });

  await check('wrong pin refused (fingerprint_mismatch)', async () => {
    const { responder } = await createPair(lib, responderLib);
    const real = (await responder.keyDocument(SLUG)).fingerprint;
    const wrong = (real[0] === '0' ? '1' : '0') + real.slice(1);
    const client = lib.createClient({
      origin: ORIGIN,
      pins: { [SLUG]: wrong },
      fetch: (r) => responder.fetch(r),
      retry: 0,
    });
    await expectCode(lib, 'fingerprint_mismatch', () => client.handshake(SLUG));
  });

  if (session !== undefined) {
    await check('record round trips (sessionRecords(session).request)', () =>
      recordRoundTrips(lib, session, seen),
    );
    await check('session wipe (session_closed)', async () => {
      session.wipe();
      await expectCode(lib, 'session_closed', () => session.recordKey);
    });
  }

  await check('ML-KEM-768 round trip (fresh key, loadKem())', async () => {
    const kem = await protocolLib.loadKem();
    const seed = crypto.getRandomValues(new Uint8Array(64));
    const publicKey = await kem.publicKey(seed);
    const { cipherText, sharedSecret } = await kem.encapsulate(publicKey);
    assert(
      bytesEqual(await kem.decapsulate(seed, cipherText), sharedSecret),
      'decapsulation from the seed gave another secret',
    );
    const secretKey = await kem.importSecretKey(seed);
    try {
      assert(bytesEqual(secretKey.publicKey, publicKey), 'the imported key has another public key');
      assert(
        bytesEqual(await secretKey.decapsulate(cipherText), sharedSecret),
        'decapsulation with the imported key gave another secret',
      );
    } finally {
      secretKey.dispose();
    }
  });

  // noble is the reference the native backends are checked against: the first of `kems`.
  const [noble] = kems;
  await check('vector keyex[0]', () =>
    keyexVector(protocolLib, noble, vectors.keyex, vectors.invalidConfirmations),
  );
  await check('vector records[0]', () => recordsVector(protocolLib, vectors.records));

  for (const kem of kems) {
    await check(`ML-KEM-768 vectors through the ${kem.backend} backend`, () =>
      kemVectors(protocolLib, kem, noble, vectors.kem, vectors.keyex),
    );
  }
  for (const kem of kems) {
    await check(
      `${kem.backend}: encapsulation to many keys, again and again, and an invalid key refused every time`,
      () => repeatedEncapsulation(protocolLib, kem, noble),
    );
  }
  await check(
    'X-Wing: vector xwing.keyex[0] through each backend, and a pinned X-Wing handshake',
    () => xwingChecks(lib, protocolLib, responderLib, vectors.xwing),
  );
  await check(`AES-GCM (${backends.aead}) agrees with noble on records`, () =>
    aeadAgrees(protocolLib),
  );
  await check(`asynchronous records (${backends.aeadAsync}) give the synchronous ones' bytes`, () =>
    asyncRecordsAgree(protocolLib),
  );

  return { runtime: describeRuntime(), backends, checks };
}

/**
 * Encapsulation to more keys than a backend keeps imported (node:crypto keeps the last 16), three
 * rounds, each decapsulated by the SDK's noble backend; then a key failing the FIPS 203 §7.2
 * modulus check, refused on every attempt (a refused key must never be kept).
 */
async function repeatedEncapsulation(lib, kem, noble) {
  const seeds = Array.from({ length: 20 }, () => crypto.getRandomValues(new Uint8Array(64)));
  const keys = await Promise.all(
    seeds.map(async (seed) => ({ seed, publicKey: await noble.publicKey(seed) })),
  );
  for (let round = 0; round < 3; round++) {
    for (const [i, { seed, publicKey }] of keys.entries()) {
      const { cipherText, sharedSecret } = await kem.encapsulate(Uint8Array.from(publicKey));
      assert(
        bytesEqual(await noble.decapsulate(seed, cipherText), sharedSecret),
        `round ${round}, key ${i}: decapsulation gave another secret`,
      );
    }
  }
  const invalid = Uint8Array.from(keys[0].publicKey);
  invalid[0] = 0xff;
  invalid[1] |= 0x0f;
  for (let attempt = 0; attempt < 3; attempt++)
    await expectCodeOf(lib, 'invalid_public_key', kem.encapsulate(invalid));
}

/** Awaits `promise`, which must reject with the SDK's error with `code` (made by the caller, so a synchronous throw escapes). */
function expectCodeOf(lib, code, promise) {
  return expectCode(lib, code, () => promise);
}

/**
 * The Wycheproof/ACVP ML-KEM-768 subset and the protocol keyex vectors through one backend: keygen
 * from the seed, decapsulation (implicit rejection included), refusal of invalid seeds,
 * ciphertexts and public keys. Fixed encapsulation randomness is noble's alone and not asked for.
 */
async function kemVectors(lib, kem, noble, v, keyex) {
  const hex = (text) => lib.hexDecode(text.toLowerCase());
  const same = (bytes, text, what) =>
    assert(lib.hexEncode(bytes) === text.toLowerCase(), `${what}: another value`);
  let count = 0;
  for (const t of v.mlkem) {
    const seed = hex(t.seed);
    if (t.result === 'valid') {
      same(await kem.publicKey(seed), t.ek, `mlkem_768_test tcId ${t.tcId} ek`);
      same(await kem.decapsulate(seed, hex(t.c)), t.K, `mlkem_768_test tcId ${t.tcId} K`);
    } else if (seed.length !== 64) {
      await expectCodeOf(lib, 'invalid_secret_key', kem.publicKey(seed));
    } else {
      await expectCodeOf(lib, 'invalid_cipher_text', kem.decapsulate(seed, hex(t.c)));
    }
    count++;
  }
  for (const t of v.keygen) {
    same(await kem.publicKey(hex(t.seed)), t.ek, `mlkem_768_keygen_seed_test tcId ${t.tcId}`);
    count++;
  }
  for (const t of v.acvpKeyGen) {
    same(await kem.publicKey(hex(t.d + t.z)), t.ek, `ACVP keyGen tcId ${t.tcId}`);
    count++;
  }
  for (const t of v.encaps) {
    if (t.valid)
      assert(
        (await kem.encapsulate(hex(t.ek))).cipherText.length === 1088,
        `mlkem_768_encaps_test tcId ${t.tcId}: no ciphertext`,
      );
    else await expectCodeOf(lib, 'invalid_public_key', kem.encapsulate(hex(t.ek)));
    count++;
  }
  for (const t of v.acvpEkCheck) {
    if (t.testPassed)
      assert(
        (await kem.encapsulate(hex(t.ek))).cipherText.length === 1088,
        `ACVP ek check tcId ${t.tcId}: refused`,
      );
    else await expectCodeOf(lib, 'invalid_public_key', kem.encapsulate(hex(t.ek)));
    count++;
  }
  const seed = hex(keyex.keygen_seed);
  assert(
    lib.base64Encode(await kem.publicKey(seed)) === keyex.public_key_b64,
    'keyex[0]: another public key',
  );
  same(
    await kem.decapsulate(seed, lib.base64Decode(keyex.cipher_text_b64)),
    keyex.shared_secret,
    'keyex[0] shared secret',
  );
  // Both directions against noble's backend.
  const fresh = crypto.getRandomValues(new Uint8Array(64));
  const publicKey = await noble.publicKey(fresh);
  const toIt = await kem.encapsulate(publicKey);
  assert(
    bytesEqual(await noble.decapsulate(fresh, toIt.cipherText), toIt.sharedSecret),
    'noble does not decapsulate its ciphertext',
  );
  const toNoble = await noble.encapsulate(publicKey);
  assert(
    bytesEqual(await kem.decapsulate(fresh, toNoble.cipherText), toNoble.sharedSecret),
    "it does not decapsulate noble's ciphertext",
  );
  return `${count + 1} vector cases, both directions with noble`;
}

/**
 * The records' asynchronous calls (`sealAsync`/`openAsync`: WebCrypto's AES-GCM in the portable
 * build) against the synchronous ones: two initiator channels on one record key give the same
 * records, sealed concurrently or not, and the responder's channel opens them either way.
 */
async function asyncRecordsAgree(lib) {
  const recordKey = crypto.getRandomValues(new Uint8Array(32));
  const sessionId = 'B'.repeat(22);
  const sync = lib.createRecordChannel(recordKey, sessionId, 'initiator');
  const async = lib.createRecordChannel(recordKey, sessionId, 'initiator');
  const responder = lib.createRecordChannel(recordKey, sessionId, 'responder');
  const sizes = [0, 1, 16, 1000, 65_536, 200_000];
  const plaintexts = sizes.map((size) =>
    Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff),
  );
  const sealed = await Promise.all(plaintexts.map((p) => async.sealAsync(p)));
  for (let i = 0; i < sizes.length; i++) {
    assert(
      bytesEqual(sealed[i], sync.seal(plaintexts[i])),
      `a ${sizes[i]}-byte record sealed asynchronously differs`,
    );
    const opened = i % 2 === 0 ? await responder.openAsync(sealed[i]) : responder.open(sealed[i]);
    assert(bytesEqual(opened, plaintexts[i]), `a ${sizes[i]}-byte record does not open`);
  }
  await expectCode(lib, 'record_replayed', () => responder.openAsync(sealed[0]));
  const reply = await responder.sealAsync(plaintexts[3]);
  assert(
    bytesEqual(await async.openAsync(reply), plaintexts[3]),
    'a reply sealed asynchronously does not open',
  );
  reply[reply.length - 1] ^= 1;
  await expectCode(lib, 'record_auth_failed', () => sync.openAsync(reply));
  return `${sizes.length} records each way`;
}

/**
 * The AES-GCM backend (through the exported record functions) against noble's AES-GCM computed
 * here from the record format of spec §3: the same record for plaintexts of 0 to 70 000 bytes and
 * several AADs, each opened back, and a flipped bit refused.
 */
function aeadAgrees(lib) {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const sessionId = 'A'.repeat(22);
  let count = 0;
  for (const size of [0, 1, 15, 16, 17, 31, 32, 33, 255, 1024, 4095, 65_536, 70_000]) {
    for (const aadSize of [0, 1, 17, 300]) {
      // getRandomValues stops at 64 KiB; the bytes only need to differ from record to record.
      const plaintext = Uint8Array.from(
        { length: size },
        (_, i) => (i * 131 + size + key[i % 32]) & 0xff,
      );
      const appAad = crypto.getRandomValues(new Uint8Array(aadSize));
      const [epoch, seq] = [size % 7, aadSize * 3];
      const record = lib.sealRecord(key, sessionId, epoch, seq, plaintext, appAad);
      const header = lib.encodeRecordHeader(epoch, seq);
      const aad = new Uint8Array([...header, ...lib.lp(sessionId, appAad)]);
      const expected = new Uint8Array([
        ...header,
        ...gcm(key, header.subarray(1), aad).encrypt(plaintext),
      ]);
      assert(bytesEqual(record, expected), `a ${size}-byte record differs from noble's`);
      assert(
        bytesEqual(lib.openRecord(key, sessionId, record, appAad), plaintext),
        `a ${size}-byte record does not open`,
      );
      const tampered = record.slice();
      tampered[tampered.length - 1 - (size % 16)] ^= 0x10;
      try {
        lib.openRecord(key, sessionId, tampered, appAad);
        throw new Error(`a tampered ${size}-byte record opened`);
      } catch (error) {
        if (!lib.isZeqKeyExError(error, 'record_auth_failed')) throw error;
      }
      count++;
    }
  }
  return `${count} records`;
}

/**
 * X-Wing (spec §9) on this runtime: the vector's key and shared secret through noble and through
 * `'auto'` (the native composition where the runtime has native ML-KEM and X25519), then a pinned
 * handshake with an X-Wing machine.
 * @returns which backends ran.
 */
async function xwingChecks(lib, protocolLib, responderLib, v) {
  const seed = protocolLib.hexDecode(v.keygen_seed);
  const cipherText = protocolLib.base64Decode(v.cipher_text_b64);
  const ran = [];
  for (const choice of ['noble', 'auto']) {
    const kem = await protocolLib.loadKemFor('X-Wing', choice);
    ran.push(kem.backend);
    const publicKey = await kem.publicKey(seed);
    assert(
      protocolLib.base64Encode(publicKey) === v.public_key_b64,
      `${kem.backend}: the X-Wing public key of the vector seed differs`,
    );
    assert(
      protocolLib.hexEncode(await kem.decapsulate(seed, cipherText)) === v.shared_secret,
      `${kem.backend}: the X-Wing shared secret of the vector differs`,
    );
  }
  const responder = responderLib.createResponder({
    fieldKey: randomFieldKey(),
    machines: { [SLUG]: MACHINE_ID },
    alg: 'X-Wing',
  });
  try {
    const document = await responder.keyDocument(SLUG);
    assert(document.alg === 'X-Wing', `the machine serves ${document.alg}`);
    const client = lib.createClient({
      origin: ORIGIN,
      pins: { [SLUG]: document.fingerprint },
      algs: ['X-Wing'],
      fetch: (request) => responder.fetch(request),
      retry: 0,
    });
    const session = await client.handshake(SLUG);
    assert(session.alg === 'X-Wing', `the session reports ${session.alg}`);
    session.wipe();
  } finally {
    responder.close();
  }
  return `backends ${ran.join(', ')}`;
}

async function keyexVector(lib, noble, v, invalidConfirmations) {
  const hex = (text) => lib.hexDecode(text);
  const seed = hex(v.keygen_seed);
  const publicKey = await noble.publicKey(seed);
  assert(
    lib.base64Encode(publicKey) === v.public_key_b64,
    'kem.publicKey(seed) gave another public key',
  );
  assert(
    lib.computeFingerprint(publicKey) === v.fingerprint,
    'computeFingerprint gave another fingerprint',
  );
  const cipherText = lib.base64Decode(v.cipher_text_b64);
  assert(
    lib.hexEncode(await noble.decapsulate(seed, cipherText)) === v.shared_secret,
    'kem.decapsulate(seed) gave another shared secret',
  );
  const transcript = lib.firstContactTranscript({
    alg: v.alg,
    slug: v.slug,
    machineId: v.machine_id,
    publicKey,
    cipherText,
  });
  assert(
    lib.hexEncode(transcript) === v.transcript,
    'firstContactTranscript gave another transcript',
  );
  const recordKey = lib.deriveRecordKey(hex(v.shared_secret), transcript);
  assert(lib.hexEncode(recordKey) === v.record_key, 'deriveRecordKey gave another record key');
  lib.openKeyConfirmation(recordKey, transcript, v.session_id, v.key_confirmation_b64);
  let refused = 0;
  for (const bad of invalidConfirmations) {
    try {
      lib.openKeyConfirmation(
        recordKey,
        transcript,
        bad.session_id ?? v.session_id,
        bad.key_confirmation_b64,
      );
    } catch (error) {
      if (!lib.isZeqKeyExError(error, 'confirmation_failed')) throw error;
      refused++;
      continue;
    }
    throw new Error(`a confirmation that must fail opened (${bad.why})`);
  }
  return `${refused} tampered confirmations refused`;
}

function recordsVector(lib, v) {
  const hex = (text) => lib.hexDecode(text);
  const recordKey = hex(v.record_key);
  const i2r = [lib.deriveTrafficKey(recordKey, v.session_id, 'i2r')];
  while (i2r.length < v.k_i2r.length) i2r.push(lib.rekey(i2r[i2r.length - 1]));
  assert(
    i2r.every((k, i) => lib.hexEncode(k) === v.k_i2r[i]),
    'deriveTrafficKey/rekey gave other i2r keys',
  );
  const r2i = [lib.deriveTrafficKey(recordKey, v.session_id, 'r2i')];
  assert(lib.hexEncode(r2i[0]) === v.k_r2i_0, 'deriveTrafficKey gave another r2i key');
  for (const r of v.records) {
    const keys = r.direction === 'i2r' ? i2r : r2i;
    while (keys.length <= r.epoch) keys.push(lib.rekey(keys[keys.length - 1]));
    const key = keys[r.epoch];
    const sealed = lib.sealRecord(
      key,
      v.session_id,
      r.epoch,
      r.seq,
      hex(r.plaintext),
      hex(r.app_aad),
    );
    assert(
      lib.hexEncode(sealed) === r.record,
      `sealRecord gave another record (${r.direction} ${r.epoch}/${r.seq})`,
    );
    const opened = lib.openRecord(key, v.session_id, hex(r.record), hex(r.app_aad));
    assert(
      lib.hexEncode(opened) === r.plaintext,
      `openRecord gave another plaintext (${r.direction} ${r.epoch}/${r.seq})`,
    );
  }
  return `${v.records.length} records`;
}

/** Prints a result line the runner parses. */
export function printResult(result) {
  console.log(RESULT_PREFIX + JSON.stringify(result));
}
