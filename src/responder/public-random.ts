/**
 * Random bytes the responder sends in the clear (spec §2.3): session ids and key-confirmation
 * nonces, cut from pooled CSPRNG draws, and the base64url form of a session id (spec §1).
 *
 * Security caveats: these bytes are public once used, so holding the next few in memory costs
 * nothing — a session id authorises nothing without its record key, and a confirmation nonce is
 * sent beside the ciphertext, under a record key used for that one confirmation. Each byte is used
 * once. Never draw secrets (keys, seeds) from this pool: those come from `randomBytes` directly.
 * @module
 */
import { randomBytes } from '../core/primitives.js';

/** The length of a session id before encoding (spec §1: 16 random bytes). */
export const SESSION_ID_BYTES = 16;
/** Public random bytes are cut from draws of this many: one CSPRNG call per 64 session ids. */
const PUBLIC_RANDOM_POOL_BYTES = 1024;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Creates a source of public random bytes: one CSPRNG draw per 1 KiB, each byte used once.
 * @returns a function giving `length` fresh bytes (a view of the pool; not to be modified).
 */
export function createPublicRandom(): (length: number) => Uint8Array {
  let pool: Uint8Array = new Uint8Array(0);
  let at = 0;
  return (length) => {
    if (at + length > pool.length) {
      pool = randomBytes(PUBLIC_RANDOM_POOL_BYTES);
      at = 0;
    }
    const bytes = pool.subarray(at, at + length);
    at += length;
    return bytes;
  };
}

/**
 * A session id's wire form: 16 bytes as base64url without padding (22 characters, spec §1).
 * The SDK needs base64url nowhere else, so this one fixed length is written out.
 * @param bytes - {@link SESSION_ID_BYTES} bytes.
 * @returns the session id.
 */
export function encodeSessionId(bytes: Uint8Array): string {
  let id = '';
  for (let i = 0; i < 15; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    id +=
      BASE64URL.charAt(n >>> 18) +
      BASE64URL.charAt((n >>> 12) & 63) +
      BASE64URL.charAt((n >>> 6) & 63) +
      BASE64URL.charAt(n & 63);
  }
  const last = bytes[15] as number;
  return id + BASE64URL.charAt(last >>> 2) + BASE64URL.charAt((last & 3) << 4);
}
