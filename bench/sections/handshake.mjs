/**
 * Sections 1 and 2: the handshake in process, against the raw KEM of the same backend.
 *
 * 1. A pinned `client.handshake()` against a responder through fetch injection (no sockets): both
 *    sides, both requests (key document and handshake), key confirmation checked — versus the raw
 *    bound `encapsulate + decapsulate` of the same backend.
 * 2. The responder alone: `POST …/handshake` requests through `responder.fetch` (request built,
 *    body read, as a server adapter does) — versus raw `decapsulate`. Every request carries a
 *    fresh ciphertext made beforehand (a replayed one is refused by design); the warm-up uses
 *    random 1088-byte ciphertexts, which cost a decapsulation the same (ML-KEM decapsulation never
 *    fails; it answers a random one with an unrelated secret).
 */
import { randomBytes } from 'node:crypto';
import { BenchFailure, check, loopFor, measureRates, pairedRatio } from '../lib.mjs';
import { rawKems, selfTest } from '../kem-raw.mjs';
import { MACHINE_ID, ORIGIN, RAW_OF, SLUG, inProcessPair, sdkBackends } from '../sdk.mjs';

const CIPHER_TEXT_BYTES = 1088;

/** The raw backend an SDK backend is measured against: the one it resolved to. */
function rawFor(backend, raws) {
  return raws.find((r) => r.id === RAW_OF[backend.backend]) ?? raws[0];
}

/** A responder-only load: handshake request bodies for fresh ciphertexts, and a verifier. */
function handshakeRequests(sdk, pair, encapsulator) {
  const publicKey = sdk.base64Decode(pair.doc.public_key);
  const url = `${ORIGIN}/api/keyex/${SLUG}/handshake`;
  let queue = [];
  let probe;
  const body = (cipherText) =>
    JSON.stringify({
      cipher_text: sdk.base64Encode(cipherText),
      fingerprint: pair.doc.fingerprint,
    });
  return {
    /** Fresh ciphertexts for the next `n` requests (outside the timed part). */
    async prepare(n) {
      queue = [];
      for (let i = 0; i < n; i++) {
        const { cipherText, sharedSecret } = await encapsulator.encapsulate(publicKey);
        queue.push(body(cipherText));
        if (i === 0) probe = { cipherText, sharedSecret, body: queue[0] };
      }
      queue.reverse();
    },
    async send() {
      const text = queue.length > 0 ? queue.pop() : body(randomBytes(CIPHER_TEXT_BYTES));
      const response = await pair.responder.fetch(
        new Request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: text,
        }),
      );
      const bytes = await response.arrayBuffer();
      if (response.status !== 200)
        throw new BenchFailure(
          `responder answered ${response.status}: ${Buffer.from(bytes).toString('utf8').slice(0, 200)}`,
        );
      return bytes;
    },
    /** Sends one more real handshake and checks its key confirmation opens under the initiator's key. */
    async verify() {
      await this.prepare(1);
      const { cipherText, sharedSecret } = probe;
      const answer = JSON.parse(Buffer.from(await this.send()).toString('utf8'));
      const transcript = sdk.firstContactTranscript({
        alg: pair.doc.alg,
        slug: SLUG,
        machineId: MACHINE_ID,
        publicKey,
        cipherText,
      });
      const recordKey = sdk.deriveRecordKey(sharedSecret, transcript);
      sdk.openKeyConfirmation(recordKey, transcript, answer.session_id, answer.key_confirmation);
    },
  };
}

/** A raw row no SDK backend is compared with: why it is printed. */
function unusedNote(raw) {
  return raw.reference
    ? 'reference: noble with each public key expanded once, as the SDK’s noble backend keeps them; the noble rows show their ratio to it too'
    : 'no SDK backend uses it here';
}

/** For an SDK row on noble: its rate against noble with keys expanded once (the stricter bound). */
function referenceOf(p, sdkRate, rates) {
  const reference = p.raw.id === 'noble' ? rates['raw:noble-prepared'] : undefined;
  if (reference === undefined) return {};
  return {
    referenceRaw: 'noble-prepared',
    referencePerSec: reference.opsPerSec,
    referenceRatio: pairedRatio(sdkRate.samples, reference.samples),
  };
}

export async function run({ timing, profile }) {
  const raws = await rawKems();
  for (const raw of raws) if (raw.available) await selfTest(raw);
  const sdkInfo = await sdkBackends();
  const fastestEncapsulator = raws.find((r) => r.id === 'node:crypto' && r.available) ?? raws[0];

  const pairs = [];
  for (const backend of sdkInfo.backends.filter((b) => b.unavailable === undefined)) {
    const pair = await inProcessPair(backend.sdk, backend.option);
    // One handshake before timing: a failure here is a failure of the run, not a slow number.
    const session = await pair.client.handshake(SLUG);
    check(
      session.authenticated === true,
      `${backend.label}: the pinned handshake is not authenticated`,
    );
    check(
      session.kemBackend === undefined || session.kemBackend === backend.backend,
      `${backend.label}: the client used ${session.kemBackend}, the responder ${backend.backend}`,
    );
    session.wipe();
    pairs.push({
      backend,
      pair,
      raw: rawFor(backend, raws),
      requests: handshakeRequests(backend.sdk, pair, fastestEncapsulator),
    });
  }

  const rawKeys = new Map();
  for (const raw of raws.filter((r) => r.available)) {
    const keys = await raw.keygen();
    const { cipherText } = await raw.encapsulate(keys.publicKey);
    rawKeys.set(raw.id, { ...keys, cipherText });
  }

  const cases = {
    handshake: (p) => async () => {
      const session = await p.pair.client.handshake(SLUG);
      session.wipe();
    },
    responder: (p) => () => p.requests.send(),
    encdec: (raw) => {
      const k = rawKeys.get(raw.id);
      return raw.sync
        ? () => raw.decapsulate(k.privateKey, raw.encapsulate(k.publicKey).cipherText)
        : async () =>
            raw.decapsulate(k.privateKey, (await raw.encapsulate(k.publicKey)).cipherText);
    },
    decaps: (raw) => {
      const k = rawKeys.get(raw.id);
      return () => raw.decapsulate(k.privateKey, k.cipherText);
    },
    // For the breakdown: the key-document round trip alone, the modulus check a client runs once
    // per key (noble's `prepare()`, which the SDK's `assertPublicKey` runs and keeps for the last
    // few keys, so that timing the SDK's function would time the lookup), raw encapsulation alone.
    doc: (p) => () => p.pair.client.fetchKeyDocument(SLUG),
    check: (p) => {
      const publicKey = p.backend.sdk.base64Decode(p.pair.doc.public_key);
      const noble = raws.find((r) => r.id === 'noble');
      return () => noble.checkPublicKey(publicKey);
    },
    enc: (raw) => {
      const k = rawKeys.get(raw.id);
      return () => raw.encapsulate(k.publicKey);
    },
    // The computation keyex-v1 asks of both sides besides the KEM, through the SDK's own exported
    // functions and nothing else (no HTTP, JSON, session store or replay check): the client decodes
    // the key and checks its fingerprint, encodes the ciphertext, computes the transcript and
    // record key; the responder decodes the ciphertext, computes them too and seals the key
    // confirmation; the client opens it. A floor under any transport.
    protocol: (p) => {
      const { sdk } = p.backend;
      const { doc } = p.pair;
      const cipherText = new Uint8Array(randomBytes(CIPHER_TEXT_BYTES));
      const sharedSecret = new Uint8Array(randomBytes(32));
      const sessionId = 'AAAAAAAAAAAAAAAAAAAAAA';
      const transcriptOf = (publicKey, ct) =>
        sdk.firstContactTranscript({
          alg: doc.alg,
          slug: SLUG,
          machineId: MACHINE_ID,
          publicKey,
          cipherText: ct,
        });
      return () => {
        const publicKey = sdk.base64Decode(doc.public_key);
        if (sdk.computeFingerprint(publicKey) !== doc.fingerprint)
          throw new BenchFailure('fingerprint mismatch');
        const sent = sdk.base64Encode(cipherText);
        const clientTranscript = transcriptOf(publicKey, cipherText);
        const clientKey = sdk.deriveRecordKey(sharedSecret, clientTranscript);
        const received = sdk.base64Decode(sent);
        const transcript = transcriptOf(publicKey, received);
        const confirmation = sdk.sealKeyConfirmation(
          sdk.deriveRecordKey(sharedSecret, transcript),
          transcript,
          sessionId,
        );
        sdk.openKeyConfirmation(clientKey, clientTranscript, sessionId, confirmation);
      };
    },
  };

  if (profile !== undefined) {
    // `handshake:<backend>` or `responder:<backend>`: only that, in a loop, for the profiler.
    const [kind, id] = profile.case.split(':');
    const p = pairs.find((x) => x.backend.id === id);
    check(p !== undefined, `no SDK backend ${id} to profile`);
    await loopFor(cases[kind](p), profile.ms);
    return [];
  }

  const available = raws.filter((r) => r.available);
  const results = [];

  /** A section's rows from its rates: each SDK backend against its raw bound, the raw ones no SDK row uses, and what is not available. */
  function sectionRows(section, rates) {
    const rows = pairs.map((p) => {
      const sdkRate = rates[`sdk:${p.backend.id}`];
      const rawRate = rates[`raw:${p.raw.id}`];
      return {
        section,
        backend: p.backend.label,
        sdkBackend: p.backend.id,
        resolved: p.backend.backend,
        raw: p.raw.id,
        sdkPerSec: sdkRate.opsPerSec,
        rawPerSec: rawRate.opsPerSec,
        ratio: pairedRatio(sdkRate.samples, rawRate.samples),
        ...referenceOf(p, sdkRate, rates),
        samples: { sdk: sdkRate.samples, raw: rawRate.samples },
      };
    });
    for (const raw of available) {
      if (pairs.some((p) => p.raw.id === raw.id)) continue;
      rows.push({
        section,
        backend: raw.id,
        raw: raw.id,
        sdkPerSec: Number.NaN,
        rawPerSec: rates[`raw:${raw.id}`].opsPerSec,
        ratio: Number.NaN,
        note: unusedNote(raw),
      });
    }
    for (const b of sdkInfo.backends.filter((x) => x.unavailable !== undefined))
      rows.push({ section, backend: b.label, sdkBackend: b.id, unavailable: b.unavailable });
    for (const raw of raws.filter((r) => !r.available))
      rows.push({ section, backend: raw.id, raw: raw.id, unavailable: raw.reason });
    return rows;
  }

  // 1. In process: every SDK backend and every raw encapsulate+decapsulate, interleaved.
  const inProcess = await measureRates(
    [
      ...pairs.map((p) => ({ name: `sdk:${p.backend.id}`, fn: cases.handshake(p) })),
      ...available.map((raw) => ({ name: `raw:${raw.id}`, fn: cases.encdec(raw) })),
    ],
    timing,
  );
  results.push(...sectionRows('inprocess', inProcess));

  // 2. The responder alone, against raw decapsulation.
  const responderRates = await measureRates(
    [
      ...pairs.map((p) => ({
        name: `sdk:${p.backend.id}`,
        fn: cases.responder(p),
        beforeSample: (n) => p.requests.prepare(n),
      })),
      ...available.map((raw) => ({ name: `raw:${raw.id}`, fn: cases.decaps(raw) })),
    ],
    // The same code ran warm in section 1: a shorter warm-up.
    { ...timing, warmupMs: Math.min(timing.warmupMs, 400) },
  );
  for (const p of pairs) await p.requests.verify();
  results.push(...sectionRows('responder', responderRates));

  // Where a handshake's time goes, in milliseconds per handshake: the parts measured alone (the
  // code is warm by now, so shorter), with the rates above.
  const parts = await measureRates(
    [
      ...pairs.map((p) => ({ name: `doc:${p.backend.id}`, fn: cases.doc(p) })),
      ...pairs.map((p) => ({ name: `check:${p.backend.id}`, fn: cases.check(p) })),
      ...pairs.map((p) => ({ name: `protocol:${p.backend.id}`, fn: cases.protocol(p) })),
      ...available.map((raw) => ({ name: `enc:${raw.id}`, fn: cases.enc(raw) })),
    ],
    timing.samples > 2 ? { warmupMs: 300, sampleMs: 200, samples: 3 } : timing,
  );
  const ms = (rate) => (rate === undefined ? Number.NaN : 1000 / rate.opsPerSec);
  for (const p of pairs) {
    const handshakeMs = ms(inProcess[`sdk:${p.backend.id}`]);
    const keyDocumentMs = ms(parts[`doc:${p.backend.id}`]);
    const encapsulateMs = ms(parts[`enc:${p.raw.id}`]);
    const responderMs = ms(responderRates[`sdk:${p.backend.id}`]);
    const decapsulateMs = ms(responderRates[`raw:${p.raw.id}`]);
    const protocolMs = ms(parts[`protocol:${p.backend.id}`]);
    // The KEM as the SDK runs it: noble with its keys expanded, the others as their raw bound.
    const kemMs = ms(inProcess[`raw:${p.raw.id === 'noble' ? 'noble-prepared' : p.raw.id}`]);
    results.push({
      section: 'breakdown',
      backend: p.backend.label,
      sdkBackend: p.backend.id,
      raw: p.raw.id,
      handshakeMs,
      keyDocumentMs,
      modulusCheckMs: ms(parts[`check:${p.backend.id}`]),
      encapsulateMs,
      responderMs,
      decapsulateMs,
      clientPostMs: handshakeMs - keyDocumentMs - encapsulateMs - responderMs,
      overheadMs: handshakeMs - encapsulateMs - decapsulateMs,
      protocolMs,
      kemMs,
      // The ratio to the raw bound if the transport (HTTP exchanges, JSON, the session store) cost
      // nothing: the raw bound over the KEM as the SDK runs it plus the protocol's own computation.
      freeTransportRatio: ms(inProcess[`raw:${p.raw.id}`]) / (kemMs + protocolMs),
    });
  }
  for (const p of pairs) p.pair.close();
  return results.map((r) => ({
    ...r,
    sdkNote: sdkInfo.note,
    defaultBackend: sdkInfo.defaultBackend,
  }));
}
