/**
 * Chromium's native ML-KEM-768 (WebCrypto `encapsulateBits` / `decapsulateBits`, keys imported as
 * the 64-byte `raw-seed`) against the SDK's noble layer: the probe does a real round trip, and
 * then both must agree byte for byte — the same public key from a seed, and the same shared secret
 * whichever side encapsulates and whichever decapsulates. The protocol vectors' ciphertexts open
 * natively, and a full first contact works with the native KEM as the initiator's.
 *
 * The native path is what a WebCrypto backend would use; this suite establishes that it is
 * present and interchangeable in the browser the CI runs.
 */
import { ml_kem768 as native } from '@noble/post-quantum/webcrypto.js';
import { beforeAll, describe, expect, test } from 'vitest';
import { ALG } from '../../src/core/constants.js';
import { base64Decode, base64Encode } from '../../src/core/encoding.js';
import { openKeyConfirmation } from '../../src/core/confirmation.js';
import { computeFingerprint } from '../../src/core/fingerprint.js';
import {
  kemDecapsulate,
  kemDecapsulateSeed,
  kemEncapsulate,
  kemKeygen,
} from '../../src/core/kem.js';
import { randomBytes } from '../../src/core/primitives.js';
import { deriveRecordKey, firstContactTranscript } from '../../src/core/transcript.js';
import { expectCount, hex, protocolVectors, toHex } from '../helpers/vector-data.js';
import { makeResponder } from './fixtures.js';

const keyex = expectCount('keyex', protocolVectors.keyex, 3);
const seeds = [
  ...keyex.map((c) => hex(c.keygen_seed)),
  new Uint8Array(64),
  new Uint8Array(64).fill(0xff),
  ...Array.from({ length: 5 }, () => randomBytes(64)),
];

beforeAll(async () => {
  // A hard requirement: Chromium ships ML-KEM in WebCrypto, and this run must show it works here.
  expect(await native.isSupported()).toBe(true);
});

test('the probe ran against the browser WebCrypto, with ML-KEM-768 sizes', () => {
  expect(native.webCryptoName).toBe('ML-KEM-768');
  expect(native.lengths).toEqual({ seed: 64, secretKey: 64, publicKey: 1184, cipherText: 1088 });
  const subtle = crypto.subtle as unknown as Record<string, unknown>;
  expect(typeof subtle['encapsulateBits']).toBe('function');
  expect(typeof subtle['decapsulateBits']).toBe('function');
});

describe('WebCrypto and noble agree', () => {
  test.each(seeds.map((seed, i) => [i, seed] as const))(
    'seed %i: same public key from the 64-byte seed',
    async (_, seed) => {
      const fromNative = await native.keygen(seed);
      expect(toHex(fromNative.secretKey)).toBe(toHex(seed));
      expect(toHex(fromNative.publicKey)).toBe(toHex(kemKeygen(seed).publicKey));
      expect(toHex(await native.getPublicKey(seed))).toBe(toHex(fromNative.publicKey));
    },
  );

  test.each(seeds.map((seed, i) => [i, seed] as const))(
    'seed %i: noble encapsulates, WebCrypto decapsulates',
    async (_, seed) => {
      const { publicKey } = kemKeygen(seed);
      const { cipherText, sharedSecret } = kemEncapsulate(publicKey);
      expect(toHex(await native.decapsulate(cipherText, seed))).toBe(toHex(sharedSecret));
    },
  );

  test.each(seeds.map((seed, i) => [i, seed] as const))(
    'seed %i: WebCrypto encapsulates, noble decapsulates',
    async (_, seed) => {
      const keys = kemKeygen(seed);
      const { cipherText, sharedSecret } = await native.encapsulate(keys.publicKey);
      expect(cipherText).toHaveLength(1088);
      expect(sharedSecret).toHaveLength(32);
      expect(toHex(kemDecapsulateSeed(seed, cipherText))).toBe(toHex(sharedSecret));
      expect(toHex(kemDecapsulate(keys.secretKey, cipherText))).toBe(toHex(sharedSecret));
    },
  );

  test.each(keyex.map((c, i) => [i, c] as const))(
    'protocol vector keyex %i: the ciphertext opens natively to its shared secret',
    async (_, c) => {
      const cipherText = base64Decode(c.cipher_text_b64, 1088);
      expect(toHex(await native.decapsulate(cipherText, hex(c.keygen_seed)))).toBe(c.shared_secret);
    },
  );

  test('a ciphertext for another key decapsulates (implicit rejection) to the same secret on both', async () => {
    const [a, b] = [randomBytes(64), randomBytes(64)];
    const { cipherText } = kemEncapsulate(kemKeygen(a).publicKey);
    const viaNoble = kemDecapsulateSeed(b, cipherText);
    expect(toHex(await native.decapsulate(cipherText, b))).toBe(toHex(viaNoble));
    expect(toHex(viaNoble)).not.toBe(toHex(kemDecapsulateSeed(a, cipherText)));
  });
});

test('first contact with the native KEM as the initiator, against the SDK responder', async () => {
  const responder = makeResponder();
  const slug = 'edge-01';
  const doc = (await (
    await responder.fetch(new Request(`https://responder.test/api/keyex/${slug}/pubkey`))
  ).json()) as Record<string, string>;
  const publicKey = base64Decode(doc['public_key'], 1184);
  expect(computeFingerprint(publicKey)).toBe(doc['fingerprint']);

  const { cipherText, sharedSecret } = await native.encapsulate(publicKey);
  const transcript = firstContactTranscript({
    alg: ALG,
    slug,
    machineId: doc['machine_id'] as string,
    publicKey,
    cipherText,
  });
  const recordKey = deriveRecordKey(sharedSecret, transcript);
  const response = await responder.fetch(
    new Request(`https://responder.test/api/keyex/${slug}/handshake`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        cipher_text: base64Encode(cipherText),
        fingerprint: doc['fingerprint'],
      }),
    }),
  );
  expect(response.status).toBe(200);
  const body = (await response.json()) as Record<string, string>;
  expect(() =>
    openKeyConfirmation(
      recordKey,
      transcript,
      body['session_id'] as string,
      body['key_confirmation'] as string,
    ),
  ).not.toThrow();
});
