/**
 * ML-DSA-65 verification backends (spec §8.2 check 5): what this runtime picks (node:crypto where
 * it has ML-DSA, worked out here independently of the SDK; noble otherwise), the probe that keeps
 * a wrong native verifier out, and the vectors through the chosen verifier.
 */
import * as crypto from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { nobleVerify } from '../src/core/attestation.js';
import { base64Decode } from '../src/core/encoding.js';
import {
  type DsaVerifierDriver,
  dsaAgreesWithNoble,
  loadSignatureVerifier,
} from '../src/backends/dsa-backend.js';
import { dsaVerifiers } from '../src/backends/platform.node.js';
import { hex, protocolCases } from './helpers/vector-data.js';

/** Whether this Node's `node:crypto` has ML-DSA-65 (`getCurves`-like: the key type is listed). */
function nodeHasMlDsa(): boolean {
  try {
    crypto.generateKeyPairSync('ml-dsa-65' as never);
    return true;
  } catch {
    return false;
  }
}

describe('the verifier of this runtime', () => {
  test('is node:crypto where it has ML-DSA-65, else noble', async () => {
    const { backend } = await loadSignatureVerifier();
    expect(backend).toBe(nodeHasMlDsa() ? 'node' : 'noble');
    expect(await loadSignatureVerifier()).toBe(await loadSignatureVerifier());
  });

  test.each(protocolCases.signedDocuments.map((c) => [c.slug, c] as const))(
    'verifies the %s vector and refuses it with one bit flipped',
    async (_, c) => {
      const { verify } = await loadSignatureVerifier();
      const attestation = c.document.attestation as { signature: string };
      const signature = base64Decode(attestation.signature, 3309);
      const key = base64Decode(c.identity_key_b64, 1952);
      const message = hex(c.signed_message);
      expect(await verify(signature, message, key)).toBe(true);
      message.set([(message.at(-1) as number) ^ 1], message.length - 1);
      expect(await verify(signature, message, key)).toBe(false);
      expect(await verify(signature.subarray(1), message, key)).toBe(false);
    },
  );
});

describe('the probe against noble', () => {
  const noble: DsaVerifierDriver = {
    name: 'node',
    verify: async (signature, message, key) => nobleVerify(signature, message, key),
  };
  test('accepts a verifier that agrees with noble', async () => {
    expect(await dsaAgreesWithNoble(noble)).toBe(true);
  });
  const wrong: [string, DsaVerifierDriver['verify']][] = [
    ['accepts everything', async () => true],
    ['refuses everything', async () => false],
    ['throws', async () => Promise.reject(new Error('broken'))],
  ];
  test.each(wrong)('refuses a verifier that %s', async (_, verify) => {
    expect(await dsaAgreesWithNoble({ name: 'node', verify })).toBe(false);
  });
  test('the node:crypto driver exists exactly where Node has ML-DSA-65', async () => {
    const driver = await (dsaVerifiers[0] as () => Promise<DsaVerifierDriver | undefined>)();
    expect(driver !== undefined).toBe(nodeHasMlDsa());
    if (driver !== undefined) expect(await dsaAgreesWithNoble(driver)).toBe(true);
  });
});
