/**
 * A responder stub for identity pins (spec §8) until responders sign their own documents: it passes
 * requests to a real responder and signs every key document it serves with `signAttestation`, over
 * the slug of the request URL (as a responder holding the identity key does).
 */
import {
  type IdentityKeyPair,
  identityKeygen,
  identityOf,
  signAttestation,
} from '../../src/core/attestation.js';
import { base64Decode } from '../../src/core/encoding.js';
import { type FetchHandler, NOW, SLUG, editDocument } from './client-kit.js';

/** The identity of these tests, from a fixed seed. */
export const TEST_IDENTITY: IdentityKeyPair = identityKeygen(new Uint8Array(32).fill(1));
/** Its pin. */
export const TEST_IDENTITY_PIN: string = identityOf(TEST_IDENTITY.publicKey);
/** The fixtures' clock ({@link NOW}), in Unix seconds. */
export const NOW_S: number = Math.floor(NOW / 1000);
export const WEEK_S: number = 7 * 24 * 3600;

/** How the stub signs; by default by {@link TEST_IDENTITY}, valid from an hour ago for a week. */
export interface Signing {
  key?: IdentityKeyPair;
  serial?: number;
  notBefore?: number;
  notAfter?: number;
  /** The slug signed for, when not the one asked for (a document replayed for another machine). */
  slug?: string;
}

/**
 * Signs every key document `inner` serves.
 * @param inner - the responder's handler.
 * @param sign - how to sign (or a function read at each request).
 * @param nowSeconds - the clock the default validity is based on.
 */
export function signing(
  inner: FetchHandler,
  sign: Signing | (() => Signing) = {},
  nowSeconds: number = NOW_S,
): FetchHandler {
  return async (request) => {
    const slug = /\/api\/keyex\/([^/]+)\/pubkey$/.exec(new URL(request.url).pathname)?.[1] ?? SLUG;
    return editDocument(inner, (doc) => {
      const s = typeof sign === 'function' ? sign() : sign;
      const key = s.key ?? TEST_IDENTITY;
      const notBefore = s.notBefore ?? nowSeconds - 3600;
      return {
        ...doc,
        attestation: signAttestation(key.secretKey, key.publicKey, {
          alg: 'ML-KEM-768',
          slug: s.slug ?? slug,
          machineId: doc['machine_id'] as string,
          publicKey: base64Decode(doc['public_key']),
          serial: s.serial ?? notBefore,
          notBefore,
          notAfter: s.notAfter ?? notBefore + WEEK_S,
        }),
      };
    })(request);
  };
}
