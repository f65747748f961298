/**
 * The floor of the bundle budget (`scripts/bundle-budget.mjs`): the pinned first contact of spec
 * §2 done directly with the SDK's dependencies, without the SDK.
 *
 * Each dependency is used the way the SDK uses it, so that a bundler keeps the same parts of it:
 * `ml_kem768` from `@noble/post-quantum` (the SDK also calls its `keygen`, `decapsulate` and
 * `prepare`, methods of the same object), `sha256`, HKDF `extract`/`expand` and the byte helpers
 * from `@noble/hashes`, `gcm` and `equalBytes` from `@noble/ciphers`, and ky through `ky.create`
 * with `isHTTPError`. What the budget measures is the SDK's own code on top of this.
 *
 * It is a real client, not a stand-in: `test/bundle-budget.test.ts` runs it against the SDK's
 * responder, so the floor cannot shrink by skipping part of the job.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { equalBytes } from '@noble/ciphers/utils.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import ky, { isHTTPError } from 'ky';

/** `LP(x) = uint32_be(len(x)) ‖ x` over each field (spec §1). */
function lp(/** @type {(Uint8Array | string)[]} */ ...fields) {
  return concatBytes(
    ...fields.flatMap((field) => {
      const bytes = typeof field === 'string' ? utf8ToBytes(field) : field;
      const length = new Uint8Array(4);
      new DataView(length.buffer).setUint32(0, bytes.length);
      return [length, bytes];
    }),
  );
}

const fromBase64 = (/** @type {string} */ text) =>
  Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const toBase64 = (/** @type {Uint8Array} */ bytes) => btoa(String.fromCharCode(...bytes));

/**
 * One pinned first contact (spec §2.1–§2.3).
 * @param {{ origin: string, slug: string, pin: string, fetch?: (request: Request) => Promise<Response> }} options
 * @returns {Promise<{ sessionId: string, recordKey: Uint8Array }>} the session id and record key.
 * @throws {Error} when the key does not match the pin, the responder answers with an error status,
 *   or the key confirmation does not open.
 */
export async function handshake({ origin, slug, pin, fetch }) {
  const http = ky.create({
    ...(fetch === undefined ? {} : { fetch }),
    retry: { limit: 2, methods: ['get'] },
  });
  try {
    /** @type {Record<string, string>} */
    const doc = await http.get(`${origin}/api/keyex/${slug}/pubkey`).json();
    const publicKey = fromBase64(doc['public_key'] ?? '');
    // §2.1 check 3: the pin, compared in constant time, before anything is sent.
    if (!equalBytes(sha256(publicKey), hexToBytes(pin)))
      throw new Error('the key does not match the pin');
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey);
    // §2.2
    const transcript = sha256(
      lp('zeq-keyex/v1', doc['alg'] ?? '', slug, doc['machine_id'] ?? '', publicKey, cipherText),
    );
    const prk = extract(sha256, sharedSecret, transcript);
    const recordKey = expand(sha256, prk, utf8ToBytes('zeq-keyex/v1 record key'), 32);
    prk.fill(0);
    sharedSecret.fill(0);
    /** @type {Record<string, string>} */
    const reply = await http
      .post(`${origin}/api/keyex/${slug}/handshake`, {
        json: { cipher_text: toBase64(cipherText), fingerprint: bytesToHex(sha256(publicKey)) },
      })
      .json();
    // §2.3: the confirmation seals the label under the record key.
    const sessionId = reply['session_id'] ?? '';
    const sealed = fromBase64(reply['key_confirmation'] ?? '');
    const label = utf8ToBytes('zeq-keyex/v1 key confirmation');
    let opened;
    try {
      opened = gcm(recordKey, sealed.subarray(0, 12), lp(label, transcript, sessionId)).decrypt(
        sealed.subarray(12),
      );
    } catch {
      opened = undefined;
    }
    if (opened === undefined || !equalBytes(opened, label)) {
      recordKey.fill(0);
      throw new Error('key confirmation failed');
    }
    return { sessionId, recordKey };
  } catch (error) {
    if (isHTTPError(error))
      throw new Error(`the responder answered HTTP ${error.response.status}`, { cause: error });
    throw error;
  }
}
