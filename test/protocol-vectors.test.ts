/**
 * Every case of the protocol vectors (`test/vectors/protocol/keyex-v1.json`), computed by an
 * independent implementation of the spec: keyex, records, mode_b, sealing, xwing (keyex, mode_b)
 * and every `invalid` case.
 * Runs in Node (`vitest run`) and in Chromium (`npm run test:browser`): it reaches nothing but the
 * protocol core and the browser-safe vector data.
 */
import { describe, expect, test } from 'vitest';
import { ALG, ALG_SIZES, ALG_XWING, type Alg } from '../src/core/constants.js';
import type { ErrorCode } from '../src/core/errors.js';
import { base64Decode, base64Encode } from '../src/core/encoding.js';
import { openKeyConfirmation, sealKeyConfirmationWithNonce } from '../src/core/confirmation.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import { kemDecapsulateSeed, kemKeygen } from '../src/core/kem.js';
import {
  kemEncapsulateDerandomized,
  xwingEncapsulateDerandomized,
} from '../src/internal/testing.js';
import { xwingDecapsulate, xwingPublicKey } from '../src/core/xwing.js';
import { deriveModeBSeed, modeBTranscript } from '../src/core/modeb.js';
import { deriveTrafficKey, openRecord, rekey, sealRecord } from '../src/core/record-format.js';
import {
  deriveSealKey,
  parseFieldKey,
  sealWithNonce,
  secretKeyAad,
  seedAad,
  unsealSecretKey,
  unsealSeed,
} from '../src/core/sealing.js';
import {
  deriveRecordKey,
  firstContactTranscript,
  firstContactTranscriptOf,
} from '../src/core/transcript.js';
import { expectCode } from './helpers/errors.js';
import {
  BAD_RECORD_CODES,
  type KeyexCase,
  hex,
  protocolCases,
  toHex,
} from './helpers/vector-data.js';

const {
  keyex,
  recordSuite,
  records: recordCases,
  modeB,
  xwingKeyex,
  xwingModeB,
  sealing,
  badConfirmations,
  badRecords,
  base64: base64Cases,
} = protocolCases;

/**
 * A case's §2.2 transcript, checked by both forms: the one-shot, and the responder's with its
 * per-key prefix hashed once (the same bytes, call after call).
 */
function checkedTranscript(
  alg: Alg,
  c: { readonly slug: string; readonly machine_id: string; readonly transcript: string },
  publicKey: Uint8Array,
  cipherText: Uint8Array,
): Uint8Array {
  const input = { alg, slug: c.slug, machineId: c.machine_id, publicKey };
  const transcript = firstContactTranscript({ ...input, cipherText });
  expect(toHex(transcript)).toBe(c.transcript);
  const transcriptOf = firstContactTranscriptOf(input);
  expect(toHex(transcriptOf(cipherText))).toBe(c.transcript);
  expect(toHex(transcriptOf(cipherText))).toBe(c.transcript);
  return transcript;
}

describe('keyex (spec §2)', () => {
  test.each(keyex.map((c, i) => [i, c] as const))(
    'case %i: keygen, encaps, schedule, confirmation',
    (_, c) => {
      expect(c.alg).toBe(ALG);
      const seed = hex(c.keygen_seed);
      const { publicKey } = kemKeygen(seed);
      expect(base64Encode(publicKey)).toBe(c.public_key_b64);
      expect(computeFingerprint(publicKey)).toBe(c.fingerprint);

      const { cipherText, sharedSecret } = kemEncapsulateDerandomized(publicKey, hex(c.encaps_m));
      expect(base64Encode(cipherText)).toBe(c.cipher_text_b64);
      expect(toHex(sharedSecret)).toBe(c.shared_secret);
      expect(toHex(kemDecapsulateSeed(seed, cipherText))).toBe(c.shared_secret);

      const transcript = checkedTranscript(ALG, c, publicKey, cipherText);
      const recordKey = deriveRecordKey(sharedSecret, transcript);
      expect(toHex(recordKey)).toBe(c.record_key);

      expect(
        sealKeyConfirmationWithNonce(recordKey, transcript, c.session_id, hex(c.confirm_nonce)),
      ).toBe(c.key_confirmation_b64);
      expect(() =>
        openKeyConfirmation(recordKey, transcript, c.session_id, c.key_confirmation_b64),
      ).not.toThrow();
    },
  );
});

describe('invalid key confirmations are rejected with confirmation_failed', () => {
  test.each(badConfirmations.map((c, i) => [i, c.why, c] as const))(
    'invalid %i: %s',
    (_, _why, c) => {
      const k = keyex[c.case] as KeyexCase;
      const sessionId = c.session_id ?? k.session_id;
      expectCode(
        () =>
          openKeyConfirmation(
            hex(k.record_key),
            hex(k.transcript),
            sessionId,
            c.key_confirmation_b64,
          ),
        'confirmation_failed',
      );
    },
  );
});

describe('records (spec §3)', () => {
  const r = recordSuite;
  const recordKey = hex(r.record_key);

  test('traffic keys (bound to the session id) and rekey chain', () => {
    const k0 = deriveTrafficKey(recordKey, r.session_id, 'i2r');
    expect(toHex(k0)).toBe(r.k_i2r[0]);
    const k1 = rekey(k0);
    expect(toHex(k1)).toBe(r.k_i2r[1]);
    expect(toHex(rekey(k1))).toBe(r.k_i2r[2]);
    expect(toHex(deriveTrafficKey(recordKey, r.session_id, 'r2i'))).toBe(r.k_r2i_0);
  });

  const keyFor = (direction: 'i2r' | 'r2i', epoch: number): Uint8Array => {
    let k = deriveTrafficKey(recordKey, r.session_id, direction);
    for (let e = 0; e < epoch; e++) k = rekey(k);
    return k;
  };

  test.each(recordCases.map((x, i) => [i, x] as const))('record %i seals and opens', (_, x) => {
    const key = keyFor(x.direction, x.epoch);
    const sealed = sealRecord(key, r.session_id, x.epoch, x.seq, hex(x.plaintext), hex(x.app_aad));
    expect(toHex(sealed)).toBe(x.record);
    expect(toHex(openRecord(key, r.session_id, hex(x.record), hex(x.app_aad)))).toBe(x.plaintext);
  });

  test.each(badRecords.map((x, i) => [i, x.why, x] as const))(
    'invalid record %i: %s',
    (_, why, x) => {
      const bytes = hex(x.record);
      // Open with the key of the epoch the header claims, as a receiver would.
      const epoch = bytes.length >= 5 ? new DataView(bytes.buffer).getUint32(1) : 0;
      const code = BAD_RECORD_CODES[why];
      expect(code, `a code is expected for "${why}"`).toBeDefined();
      expectCode(
        () => openRecord(keyFor(x.direction, Math.min(epoch, 2)), r.session_id, bytes),
        code as ErrorCode,
      );
    },
  );
});

describe('mode_b (spec §4)', () => {
  test.each(modeB.map((c, i) => [i, c] as const))(
    'case %i: both sides derive seed and commitment',
    (_, c) => {
      const seed = hex(c.responder_keygen_seed);
      const { publicKey } = kemKeygen(seed);
      expect(base64Encode(publicKey)).toBe(c.responder_public_key_b64);
      expect(computeFingerprint(publicKey)).toBe(c.responder_fingerprint);
      const enc = kemEncapsulateDerandomized(publicKey, hex(c.encaps_m));
      expect(base64Encode(enc.cipherText)).toBe(c.cipher_text_b64);
      expect(toHex(enc.sharedSecret)).toBe(c.shared_secret);
      const transcript = modeBTranscript({
        alg: ALG,
        initiatorMachineId: c.initiator_machine_id,
        responderMachineId: c.responder_machine_id,
        responderPublicKey: publicKey,
        cipherText: enc.cipherText,
      });
      expect(toHex(transcript)).toBe(c.transcript);
      const initiator = deriveModeBSeed(enc.sharedSecret, transcript);
      const responder = deriveModeBSeed(kemDecapsulateSeed(seed, enc.cipherText), transcript);
      expect(toHex(initiator.seed)).toBe(c.seed);
      expect(initiator.seedCommitment).toBe(c.seed_commitment);
      expect(toHex(responder.seed)).toBe(c.seed);
      expect(responder.seedCommitment).toBe(c.seed_commitment);
    },
  );
});

describe('sealing (spec §5)', () => {
  const otherKey = deriveSealKey(parseFieldKey('00'.repeat(32)));

  test.each(sealing.map((c, i) => [i, c.what, c] as const))('case %i: %s', (_, what, c) => {
    const sealKey = deriveSealKey(parseFieldKey(c.field_key));
    if (c.seal_key !== undefined) expect(toHex(sealKey)).toBe(c.seal_key);
    if (what === 'secret key' || what === 'secret key (X-Wing)') {
      const alg: Alg = what === 'secret key' ? ALG : ALG_XWING;
      expect(c.alg).toBe(alg);
      const context = {
        alg,
        slug: c.slug as string,
        machineId: c.machine_id as string,
        publicKey: base64Decode(c.public_key_b64, ALG_SIZES[alg].publicKey),
      };
      expect(toHex(secretKeyAad(context))).toBe(c.aad);
      expect(sealWithNonce(sealKey, hex(c.plaintext), secretKeyAad(context), hex(c.nonce))).toBe(
        c.sealed_b64,
      );
      expect(toHex(unsealSecretKey(sealKey, context, c.sealed_b64))).toBe(c.plaintext);
      expectCode(
        () => unsealSecretKey(sealKey, { ...context, slug: 'other' }, c.sealed_b64),
        'unseal_failed',
      );
      // The AAD binds the alg: a key sealed for one alg never opens as the other's.
      expectCode(
        () =>
          unsealSecretKey(
            sealKey,
            { ...context, alg: alg === ALG ? ALG_XWING : ALG },
            c.sealed_b64,
          ),
        'unseal_failed',
      );
      expectCode(() => unsealSecretKey(otherKey, context, c.sealed_b64), 'unseal_failed');
    } else {
      const context = {
        localMachineId: c.local_machine_id as string,
        peerMachineId: c.peer_machine_id as string,
        seedCommitment: c.seed_commitment as string,
      };
      expect(toHex(seedAad(context))).toBe(c.aad);
      expect(sealWithNonce(sealKey, hex(c.plaintext), seedAad(context), hex(c.nonce))).toBe(
        c.sealed_b64,
      );
      expect(toHex(unsealSeed(sealKey, context, c.sealed_b64))).toBe(c.plaintext);
      expectCode(
        () => unsealSeed(sealKey, { ...context, peerMachineId: 'm-peer-03' }, c.sealed_b64),
        'unseal_failed',
      );
      expectCode(() => unsealSeed(otherKey, context, c.sealed_b64), 'unseal_failed');
    }
  });
});

describe('base64 (spec §1)', () => {
  test.each(base64Cases.map((c, i) => [i, c.why ?? 'valid', c] as const))(
    'case %i: %s',
    (_, _why, c) => {
      if (c.valid) {
        expect(base64Encode(base64Decode(c.input, c.length))).toBe(c.input);
      } else {
        expectCode(() => base64Decode(c.input, c.length), 'invalid_encoding');
      }
    },
  );
});

describe('xwing.keyex (spec §9)', () => {
  test.each(xwingKeyex.map((c, i) => [i, c] as const))(
    'case %i: keygen, encaps, schedule, confirmation, traffic keys',
    (_, c) => {
      expect(c.alg).toBe(ALG_XWING);
      const seed = hex(c.keygen_seed);
      const publicKey = xwingPublicKey(seed);
      expect(base64Encode(publicKey)).toBe(c.public_key_b64);
      expect(computeFingerprint(publicKey)).toBe(c.fingerprint);

      const { cipherText, sharedSecret } = xwingEncapsulateDerandomized(publicKey, hex(c.eseed));
      expect(base64Encode(cipherText)).toBe(c.cipher_text_b64);
      expect(toHex(sharedSecret)).toBe(c.shared_secret);
      expect(toHex(xwingDecapsulate(seed, cipherText))).toBe(c.shared_secret);

      const transcript = checkedTranscript(ALG_XWING, c, publicKey, cipherText);
      const recordKey = deriveRecordKey(sharedSecret, transcript);
      expect(toHex(recordKey)).toBe(c.record_key);
      expect(
        sealKeyConfirmationWithNonce(recordKey, transcript, c.session_id, hex(c.confirm_nonce)),
      ).toBe(c.key_confirmation_b64);
      expect(() =>
        openKeyConfirmation(recordKey, transcript, c.session_id, c.key_confirmation_b64),
      ).not.toThrow();
      expect(toHex(deriveTrafficKey(recordKey, c.session_id, 'i2r'))).toBe(c.k_i2r_0);
      expect(toHex(deriveTrafficKey(recordKey, c.session_id, 'r2i'))).toBe(c.k_r2i_0);
    },
  );
});

describe('xwing.mode_b (spec §9, §4)', () => {
  test.each(xwingModeB.map((c, i) => [i, c] as const))(
    'case %i: both sides derive seed and commitment',
    (_, c) => {
      expect(c.alg).toBe(ALG_XWING);
      const seed = hex(c.responder_keygen_seed);
      const publicKey = xwingPublicKey(seed);
      expect(base64Encode(publicKey)).toBe(c.responder_public_key_b64);
      const enc = xwingEncapsulateDerandomized(publicKey, hex(c.eseed));
      expect(base64Encode(enc.cipherText)).toBe(c.cipher_text_b64);
      expect(toHex(enc.sharedSecret)).toBe(c.shared_secret);
      const transcript = modeBTranscript({
        alg: ALG_XWING,
        initiatorMachineId: c.initiator_machine_id,
        responderMachineId: c.responder_machine_id,
        responderPublicKey: publicKey,
        cipherText: enc.cipherText,
      });
      expect(toHex(transcript)).toBe(c.transcript);
      const initiator = deriveModeBSeed(enc.sharedSecret, transcript);
      const responder = deriveModeBSeed(xwingDecapsulate(seed, enc.cipherText), transcript);
      expect(toHex(initiator.seed)).toBe(c.seed);
      expect(initiator.seedCommitment).toBe(c.seed_commitment);
      expect(toHex(responder.seed)).toBe(c.seed);
      expect(responder.seedCommitment).toBe(c.seed_commitment);
    },
  );
});
