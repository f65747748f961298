/**
 * Round trips of key confirmation (§2.3), records (§3) and sealed secrets (§5), and the matching
 * tamper properties: any single flipped bit is rejected with the right code and never yields a value.
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import {
  ALG,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  CONFIRM_LABEL,
  RECORD_HEADER_BYTES,
} from '../src/core/constants.js';
import type { ErrorCode } from '../src/core/errors.js';
import { base64Decode, base64Encode, utf8 } from '../src/core/encoding.js';
import { openKeyConfirmation, sealKeyConfirmation } from '../src/core/confirmation.js';
import { kemDecapsulate, kemEncapsulate, kemKeygen } from '../src/core/kem.js';
import {
  deriveTrafficKey,
  encodeRecordHeader,
  openRecord,
  parseRecordHeader,
  rekey,
  sealRecord,
} from '../src/core/record-format.js';
import {
  deriveSealKey,
  parseFieldKey,
  sealSecretKey,
  sealSeed,
  unsealSecretKey,
  unsealSeed,
  type SecretKeyContext,
  type SeedContext,
} from '../src/core/sealing.js';
import { deriveRecordKey, firstContactTranscript } from '../src/core/transcript.js';
import { bytesOf, expectRejected, flipBit, sessionId } from './helpers/properties.js';
import { toHex } from './helpers/vectors.js';

const RUNS = { numRuns: 200 };
const KEM_RUNS = { numRuns: 20 };

// One real first contact, made once: KEM operations are too slow to repeat hundreds of times.
const responder = kemKeygen(new Uint8Array(64).fill(7));
const encapsulation = kemEncapsulate(responder.publicKey);
const transcriptInput = {
  alg: ALG,
  slug: 'edge-01',
  machineId: 'machine:edge-01',
  publicKey: responder.publicKey,
  cipherText: encapsulation.cipherText,
};
const transcript = firstContactTranscript(transcriptInput);
const recordKey = deriveRecordKey(encapsulation.sharedSecret, transcript);

const epoch = fc.integer({ min: 0, max: 0xffff_ffff });
const seq = fc.integer({ min: 0, max: 0xffff_ffff });
const message = fc.uint8Array({ maxLength: 200 });
const key32 = bytesOf(32);
const machineId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$/);
const slug = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/);

/** The code a record with bit `bit` flipped must be rejected with (header layout of §3). */
function recordFlipCode(bit: number): ErrorCode {
  const at = bit >> 3;
  if (at === 0) return 'record_unsupported_version'; // 0x01 becomes another version byte
  if (at >= 5 && at <= 8) return 'record_malformed'; // the high half of seq, always zero
  return 'record_auth_failed'; // epoch, low seq (both nonce and AAD), ciphertext or tag
}

describe('key confirmation', () => {
  test.prop([key32, bytesOf(32), sessionId], RUNS)('opens what was sealed', (key, hash, sid) => {
    const confirmation = sealKeyConfirmation(key, hash, sid);
    expect(base64Decode(confirmation).length).toBe(
      AEAD_NONCE_BYTES + utf8(CONFIRM_LABEL).length + AEAD_TAG_BYTES,
    );
    expect(() => openKeyConfirmation(key, hash, sid, confirmation)).not.toThrow();
  });

  test.prop([sessionId, fc.nat()], RUNS)('rejects any single flipped bit', (sid, bitSeed) => {
    const confirmation = sealKeyConfirmation(recordKey, transcript, sid);
    const bytes = base64Decode(confirmation);
    const bad = base64Encode(flipBit(bytes, bitSeed % (bytes.length * 8)));
    expectRejected(
      () => openKeyConfirmation(recordKey, transcript, sid, bad),
      'confirmation_failed',
    );
  });

  test.prop([sessionId, fc.nat(), fc.nat(255)], RUNS)(
    'rejects another record key, transcript or session id',
    (sid, which, bit) => {
      const confirmation = sealKeyConfirmation(recordKey, transcript, sid);
      const key = which % 3 === 0 ? flipBit(recordKey, bit) : recordKey;
      const hash = which % 3 === 1 ? flipBit(transcript, bit) : transcript;
      const otherSid = which % 3 === 2 ? `${sid}x` : sid;
      expectRejected(
        () => openKeyConfirmation(key, hash, otherSid, confirmation),
        'confirmation_failed',
      );
    },
  );

  test.prop([fc.nat(1088 * 8 - 1), sessionId], KEM_RUNS)(
    'fails for a responder that decapsulated a ciphertext with one flipped bit',
    (bit, sid) => {
      // ML-KEM's implicit rejection gives the responder some other secret; only confirmation notices.
      const cipherText = flipBit(encapsulation.cipherText, bit);
      const sharedSecret = kemDecapsulate(responder.secretKey, cipherText);
      expect(toHex(sharedSecret)).not.toBe(toHex(encapsulation.sharedSecret));
      const responderTranscript = firstContactTranscript({ ...transcriptInput, cipherText });
      const confirmation = sealKeyConfirmation(
        deriveRecordKey(sharedSecret, responderTranscript),
        responderTranscript,
        sid,
      );
      expectRejected(
        () => openKeyConfirmation(recordKey, transcript, sid, confirmation),
        'confirmation_failed',
      );
    },
  );

  test('the real first contact confirms', () => {
    const sharedSecret = kemDecapsulate(responder.secretKey, encapsulation.cipherText);
    const confirmation = sealKeyConfirmation(
      deriveRecordKey(sharedSecret, transcript),
      transcript,
      'session-0123456789abcdef',
    );
    expect(() =>
      openKeyConfirmation(recordKey, transcript, 'session-0123456789abcdef', confirmation),
    ).not.toThrow();
  });
});

describe('records', () => {
  const trafficKey = deriveTrafficKey(recordKey, 'session-0123456789abcdef', 'i2r');

  test.prop([key32, sessionId, epoch, seq, message, fc.option(message, { nil: undefined })], RUNS)(
    'opens what was sealed, for any plaintext, app_aad, epoch and seq',
    (key, sid, e, s, plaintext, appAad) => {
      const record = sealRecord(key, sid, e, s, plaintext, appAad);
      expect(record.length).toBe(RECORD_HEADER_BYTES + plaintext.length + AEAD_TAG_BYTES);
      expect(record.subarray(0, RECORD_HEADER_BYTES)).toEqual(encodeRecordHeader(e, s));
      expect(parseRecordHeader(record)).toEqual({ version: 1, epoch: e, seq: s });
      expect(openRecord(key, sid, record, appAad)).toEqual(plaintext);
    },
  );

  test.prop([sessionId, epoch, seq, message, bytesOf(8), fc.nat(64)], RUNS)(
    'opens a record that sits at an offset inside a larger buffer',
    (sid, e, s, plaintext, appAad, offset) => {
      const record = sealRecord(trafficKey, sid, e, s, plaintext, appAad);
      const buffer = new Uint8Array(offset + record.length + 7).fill(0xa5);
      buffer.set(record, offset);
      const view = buffer.subarray(offset, offset + record.length);
      expect(parseRecordHeader(view)).toEqual({ version: 1, epoch: e, seq: s });
      expect(openRecord(trafficKey, sid, view, appAad)).toEqual(plaintext);
    },
  );

  test.prop([sessionId, epoch, seq, message, message, fc.nat()], RUNS)(
    'rejects any single flipped bit with the code its position implies',
    (sid, e, s, plaintext, appAad, bitSeed) => {
      const record = sealRecord(trafficKey, sid, e, s, plaintext, appAad);
      const bit = bitSeed % (record.length * 8);
      expectRejected(
        () => openRecord(trafficKey, sid, flipBit(record, bit), appAad),
        recordFlipCode(bit),
      );
    },
  );

  test.prop([sessionId, fc.integer({ min: 0, max: 40 }), seq, message, message, fc.nat()], RUNS)(
    "rejects a bit flipped in the session id, app_aad, key or direction, and another session's key",
    (sid, e, s, plaintext, appAad, which) => {
      const otherSid = `${sid.slice(0, -1)}${sid.endsWith('A') ? 'B' : 'A'}`;
      const keyOf = (direction: 'i2r' | 'r2i', session: string): Uint8Array => {
        let k = deriveTrafficKey(recordKey, session, direction);
        for (let i = 0; i < e; i++) k = rekey(k);
        return k;
      };
      const key = keyOf('i2r', sid);
      const record = sealRecord(key, sid, e, s, plaintext, appAad);
      switch (which % 6) {
        case 0:
          expectRejected(() => openRecord(key, otherSid, record, appAad), 'record_auth_failed');
          break;
        case 1:
          expectRejected(
            () =>
              openRecord(
                key,
                sid,
                record,
                appAad.length === 0
                  ? new Uint8Array(1)
                  : flipBit(appAad, which % (appAad.length * 8)),
              ),
            'record_auth_failed',
          );
          break;
        case 2:
          expectRejected(
            () => openRecord(flipBit(key, which % 256), sid, record, appAad),
            'record_auth_failed',
          );
          break;
        case 3:
          expectRejected(() => openRecord(rekey(key), sid, record, appAad), 'record_auth_failed');
          break;
        case 4:
          expectRejected(
            () => openRecord(keyOf('r2i', sid), sid, record, appAad),
            'record_auth_failed',
          );
          break;
        default:
          // Spec §3 revision 2: the traffic keys of another session on the same record key.
          expectRejected(
            () => openRecord(keyOf('i2r', otherSid), sid, record, appAad),
            'record_auth_failed',
          );
      }
    },
  );

  test.prop([sessionId, epoch, seq, message, fc.nat()], RUNS)(
    'rejects a record cut short or extended',
    (sid, e, s, plaintext, cut) => {
      const record = sealRecord(trafficKey, sid, e, s, plaintext);
      const shorter = record.subarray(0, cut % record.length);
      expectRejected(
        () => openRecord(trafficKey, sid, shorter),
        shorter.length < RECORD_HEADER_BYTES + AEAD_TAG_BYTES
          ? 'record_malformed'
          : 'record_auth_failed',
      );
      const longer = new Uint8Array(record.length + 1 + (cut % 16));
      longer.set(record);
      expectRejected(() => openRecord(trafficKey, sid, longer), 'record_auth_failed');
    },
  );
});

describe('sealed secrets', () => {
  const fieldKeyHex = 'a1'.repeat(32);
  const sealKey = deriveSealKey(parseFieldKey(fieldKeyHex));
  const keyContext: SecretKeyContext = {
    alg: ALG,
    slug: 'edge-01',
    machineId: 'machine:edge-01',
    publicKey: responder.publicKey,
  };
  const seedContext: SeedContext = {
    localMachineId: 'machine:edge-01',
    peerMachineId: 'machine:peer-02',
    seedCommitment: 'c0'.repeat(32),
  };

  test.prop([bytesOf(32), fc.boolean()], RUNS)(
    'parses the field key in either case',
    (bytes, upper) => {
      const text = toHex(bytes);
      expect(parseFieldKey(upper ? text.toUpperCase() : text)).toEqual(bytes);
    },
  );

  test.prop(
    [key32, bytesOf(64), slug, machineId, fc.uint8Array({ minLength: 1, maxLength: 64 })],
    RUNS,
  )('a secret key opens to the seed it sealed', (fieldKey, seed, s, m, publicKey) => {
    const key = deriveSealKey(fieldKey);
    const context: SecretKeyContext = { alg: ALG, slug: s, machineId: m, publicKey };
    expect(unsealSecretKey(key, context, sealSecretKey(key, context, seed))).toEqual(seed);
  });

  test.prop([bytesOf(64)], KEM_RUNS)(
    'a sealed key pair seed re-derives the same key pair',
    (seed) => {
      const { publicKey } = kemKeygen(seed);
      const context: SecretKeyContext = { ...keyContext, publicKey };
      const opened = unsealSecretKey(sealKey, context, sealSecretKey(sealKey, context, seed));
      expect(toHex(kemKeygen(opened).publicKey)).toBe(toHex(publicKey));
    },
  );

  test.prop([key32, bytesOf(32), machineId, machineId, bytesOf(32).map(toHex)], RUNS)(
    'a Mode-B seed opens to the seed it sealed',
    (fieldKey, seed, local, peer, commitment) => {
      const key = deriveSealKey(fieldKey);
      const context: SeedContext = {
        localMachineId: local,
        peerMachineId: peer,
        seedCommitment: commitment,
      };
      expect(unsealSeed(key, context, sealSeed(key, context, seed))).toEqual(seed);
    },
  );

  test.prop([bytesOf(64), fc.nat()], RUNS)(
    'a sealed secret key with any single flipped bit is rejected',
    (seed, bitSeed) => {
      const bytes = base64Decode(sealSecretKey(sealKey, keyContext, seed));
      const bad = base64Encode(flipBit(bytes, bitSeed % (bytes.length * 8)));
      expectRejected(() => unsealSecretKey(sealKey, keyContext, bad), 'unseal_failed');
    },
  );

  test.prop([bytesOf(32), fc.nat()], RUNS)(
    'a sealed seed with any single flipped bit is rejected',
    (seed, bitSeed) => {
      const bytes = base64Decode(sealSeed(sealKey, seedContext, seed));
      const bad = base64Encode(flipBit(bytes, bitSeed % (bytes.length * 8)));
      expectRejected(() => unsealSeed(sealKey, seedContext, bad), 'unseal_failed');
    },
  );

  test.prop([bytesOf(64), fc.nat(), fc.nat(63)], RUNS)(
    'a sealed secret key with any changed character is rejected',
    (seed, where, shift) => {
      const text = sealSecretKey(sealKey, keyContext, seed);
      const at = where % text.length;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';
      const replacement = alphabet.charAt(
        (alphabet.indexOf(text.charAt(at)) + 1 + shift) % alphabet.length,
      );
      const bad = text.slice(0, at) + replacement + text.slice(at + 1);
      expectRejected(() => unsealSecretKey(sealKey, keyContext, bad), 'unseal_failed');
    },
  );

  test.prop([bytesOf(64), fc.nat(), fc.nat(255)], RUNS)(
    'a sealed secret key is bound to its field key and context',
    (seed, which, bit) => {
      const sealed = sealSecretKey(sealKey, keyContext, seed);
      const contexts: [Uint8Array, SecretKeyContext][] = [
        [deriveSealKey(flipBit(parseFieldKey(fieldKeyHex), bit)), keyContext],
        [sealKey, { ...keyContext, slug: 'edge-02' }],
        [sealKey, { ...keyContext, machineId: 'machine:edge-02' }],
        [sealKey, { ...keyContext, publicKey: flipBit(responder.publicKey, bit) }],
      ];
      const [key, context] = contexts[which % contexts.length] as [Uint8Array, SecretKeyContext];
      expectRejected(() => unsealSecretKey(key, context, sealed), 'unseal_failed');
    },
  );

  test.prop([bytesOf(32), fc.nat(), fc.nat(255)], RUNS)(
    'a sealed seed is bound to its field key and context',
    (seed, which, bit) => {
      const sealed = sealSeed(sealKey, seedContext, seed);
      const contexts: [Uint8Array, SeedContext][] = [
        [deriveSealKey(flipBit(parseFieldKey(fieldKeyHex), bit)), seedContext],
        [
          sealKey,
          {
            ...seedContext,
            localMachineId: seedContext.peerMachineId,
            peerMachineId: seedContext.localMachineId,
          },
        ],
        [
          sealKey,
          { ...seedContext, seedCommitment: toHex(flipBit(new Uint8Array(32).fill(0xc0), bit)) },
        ],
      ];
      const [key, context] = contexts[which % contexts.length] as [Uint8Array, SeedContext];
      expectRejected(() => unsealSeed(key, context, sealed), 'unseal_failed');
    },
  );
});
