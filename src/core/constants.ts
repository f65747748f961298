/**
 * Every wire constant and domain-separation label of ZeqKeyEx v1 and ZeqSSL Mode-B, in one place.
 *
 * Changing any value here is a protocol version bump: these strings are hashed into transcripts,
 * used as HKDF `info`, or bound as AEAD associated data, so a foreign implementation that follows
 * `keyex-v1` must use exactly the same bytes. Each constant names the spec section it implements.
 * @module
 */

/** §1: the KEM algorithm of protocol v1 by default, ML-KEM-768. */
export const ALG = 'ML-KEM-768' as const;
/** §9: the hybrid alg, X-Wing (ML-KEM-768 + X25519, draft-connolly-cfrg-xwing-kem). */
export const ALG_XWING = 'X-Wing' as const;
/** The `alg` strings this version of the SDK can speak. */
export type Alg = typeof ALG | typeof ALG_XWING;
/** §1, §9: every `alg` this version of the SDK can speak, ML-KEM-768 first. */
export const ALGS: readonly Alg[] = [ALG, ALG_XWING];
/** §9: the last input of the X-Wing combiner, the 6 bytes `\.//^\` (`5c2e2f2f5e5c`). */
export const XWING_LABEL = '\\.//^\\';

/**
 * §2, §3, §4: which end of an exchange a party is. The initiator encapsulates to the responder's
 * key; for records (§3) it seals `i2r` and opens `r2i`, for Mode-B (§4) it is machine L.
 */
export type Role = 'initiator' | 'responder';

/** §1 and §7: byte lengths per algorithm (reserved algorithms listed for size checks only). */
export const ALG_SIZES: Readonly<
  Record<
    Alg,
    {
      readonly publicKey: number;
      readonly cipherText: number;
      readonly sharedSecret: number;
      readonly seed: number;
    }
  >
> = {
  'ML-KEM-768': { publicKey: 1184, cipherText: 1088, sharedSecret: 32, seed: 64 },
  // §9: ML-KEM-768 key ‖ X25519 key, ML-KEM ciphertext ‖ X25519 ephemeral key, the X-Wing seed.
  'X-Wing': { publicKey: 1216, cipherText: 1120, sharedSecret: 32, seed: 32 },
};

/** §2.2: first label of the first-contact transcript. */
export const TRANSCRIPT_LABEL = 'zeq-keyex/v1';
/** §2.2: HKDF `info` for the record key. */
export const RECORD_KEY_INFO = 'zeq-keyex/v1 record key';
/** §2.3: the key-confirmation label; it is both AAD and the sealed plaintext. */
export const CONFIRM_LABEL = 'zeq-keyex/v1 key confirmation';

/** §3: the label of the initiator → responder traffic key of epoch 0; its HKDF `info` is this label ‖ `LP(session_id)` (revision 2). */
export const I2R_INFO = 'zeq-keyex/v1 i2r';
/** §3: the label of the responder → initiator traffic key of epoch 0; its HKDF `info` is this label ‖ `LP(session_id)` (revision 2). */
export const R2I_INFO = 'zeq-keyex/v1 r2i';
/** §3: HKDF `info` that ratchets a traffic key one epoch forward. */
export const REKEY_INFO = 'zeq-keyex/v1 rekey';
/** §3: the record version byte. */
export const RECORD_VERSION = 0x01;
/** §3: `0x01 ‖ uint32_be(epoch) ‖ uint64_be(seq)`. */
export const RECORD_HEADER_BYTES = 13;
/** §3: the highest epoch number; once it is exhausted the session ends. */
export const MAX_EPOCH = 0xffff_ffff;
/** §3: records sealed per epoch before the sender must ratchet (2^32). */
export const MAX_RECORDS_PER_EPOCH: number = 0x1_0000_0000;
/** §3: how far ahead of its current epoch a receiver follows a sender. */
export const MAX_EPOCH_SKIP = 1024;
/** §3: the receiver's anti-replay window, in sequence numbers per epoch (the spec's minimum). */
export const REPLAY_WINDOW = 1024;
/** §3: default rekey interval (one Zeqond). */
export const DEFAULT_REKEY_INTERVAL_MS = 777;

/** §4: the Mode-B seed and its commitment key, in bytes. */
export const MODE_B_SEED_BYTES = 32;
/** §4: first label of the Mode-B transcript. */
export const MODE_B_TRANSCRIPT_LABEL = 'zeq-ssl/v1 mode-b';
/** §4: HKDF `info` for the Mode-B seed. */
export const MODE_B_SEED_INFO = 'zeq-ssl/v1 mode-b seed';
/** §4: first field of the seed-commitment MAC input. */
export const SEED_COMMITMENT_LABEL = 'zeq-ssl/v1 seed commitment';

/** §5: HKDF `info` that turns the field key into the seal key. */
export const SEAL_INFO = 'zeq-keyex/v1 seal';
/** §5: first AAD field of a sealed secret key. */
export const SEALED_KEY_LABEL = 'zeq-keyex/v1 sealed key';
/** §5: first AAD field of a sealed Mode-B seed. */
export const SEALED_SEED_LABEL = 'zeq-ssl/v1 sealed seed';
/**
 * Not in the spec: the SDK's own label for a session's record key sealed in a store outside the
 * process (`zeq-keyex/redis`, docs/deploying.md). Never on the wire; distinct from both §5 labels.
 */
export const SEALED_RECORD_KEY_LABEL = 'zeq-keyex/v1 sealed record key';
/** §5: field-key length in bytes (given as 64 hex characters). */
export const FIELD_KEY_BYTES = 32;

/** §8: the signature algorithm of identity keys and attestations (FIPS 204, context string empty). */
export const SIG_ALG = 'ML-DSA-65' as const;
/** §8: byte lengths of ML-DSA-65: identity key (public key), signature, and the stored seed. */
export const SIG_SIZES = { identityKey: 1952, signature: 3309, seed: 32 } as const;
/** §8.1: first field of the signed message of a key document's attestation. */
export const KEY_DOCUMENT_LABEL = 'zeq-keyex/v1 key document';
/** §8.1: the longest validity of an attestation, `not_after − not_before`, in seconds (30 days). */
export const MAX_ATTESTATION_VALIDITY_S = 2_592_000;
/** §8.2: the largest clock skew an initiator may allow around an attestation's validity, in seconds. */
export const MAX_CLOCK_SKEW_S = 300;
/** §5, §8: first AAD field of a sealed identity seed. */
export const SEALED_IDENTITY_LABEL = 'zeq-keyex/v1 sealed identity';

/** §1 and §3: AES-256-GCM parameters. */
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;

/** §2.1: the most an initiator reads of a key document or handshake response (64 KiB). */
export const MAX_RESPONSE_BYTES: number = 65_536;
/** §2.3: the largest handshake request a responder accepts (8 KiB). */
export const MAX_HANDSHAKE_REQUEST_BYTES: number = 8192;
/** §3.1: the largest record the records endpoint accepts (1 MiB). */
export const MAX_RECORD_REQUEST_BYTES: number = 1_048_576;

/** §1: identifier grammars. */
export const SLUG_PATTERN: RegExp = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MACHINE_ID_PATTERN: RegExp = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const SESSION_ID_PATTERN: RegExp = /^[A-Za-z0-9_-]{16,128}$/;
/** §1: a fingerprint is 64 lowercase hex characters. */
export const FINGERPRINT_PATTERN: RegExp = /^[0-9a-f]{64}$/;

/**
 * §2, §3.1: the route of `path` (`pubkey`, `handshake`, `sessions/{session_id}/records`) under a
 * machine's slug, relative to the responder's base path.
 */
export const machineRoute = (slug: string, path: string): string => `/api/keyex/${slug}/${path}`;

/** §3.1: the records route of one session. */
export const recordsRoute = (slug: string, sessionId: string): string =>
  machineRoute(slug, `sessions/${sessionId}/records`);

/** §2, §3.1, §4: HTTP routes, relative to the responder's base path. */
export const ROUTES = {
  pubkey: (slug: string): string => machineRoute(slug, 'pubkey'),
  handshake: (slug: string): string => machineRoute(slug, 'handshake'),
  records: (slug: string, sessionId: string): string => recordsRoute(slug, sessionId),
  modeBInitiate: '/api/ssl/peer-seed/keyex/initiate',
  modeBRespond: '/api/ssl/peer-seed/keyex/respond',
  /** §8.3 leaves how an operator rotates a key to implementations: this SDK's admin endpoint. */
  rotateKey: (slug: string): string => machineRoute(slug, 'rotate'),
} as const;

// The §7 table as written; exported below under a declared type, so the reference shows one table
// and `WireErrorCode` as a union rather than one page entry per code.
const WIRE_ERROR_TABLE = {
  invalid_request: { status: 400, message: 'the request is malformed' },
  invalid_slug: {
    status: 400,
    message: 'the slug does not match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  },
  invalid_cipher_text: {
    status: 400,
    message:
      "cipher_text must be canonical base64 of a ciphertext of the machine's alg (1088 bytes for ML-KEM-768, 1120 for X-Wing)",
  },
  invalid_record: { status: 400, message: 'the record is malformed or does not open' },
  unauthorized: { status: 401, message: 'credentials are required' },
  forbidden: { status: 403, message: 'these credentials may not do that' },
  unknown_machine: { status: 404, message: 'no machine is served under that slug' },
  unknown_session: { status: 404, message: 'no such session' },
  not_found: { status: 404, message: 'no such route' },
  method_not_allowed: { status: 405, message: 'method not allowed on this route' },
  key_mismatch: {
    status: 409,
    message: 'the responder holds a different key than the one the request names',
  },
  replayed_handshake: { status: 409, message: 'this cipher_text was already accepted' },
  replayed_record: { status: 409, message: 'this record was already accepted' },
  fingerprint_mismatch: {
    status: 409,
    message: 'the peer presented another fingerprint than expected',
  },
  identity_mismatch: {
    status: 409,
    message: 'the peer key document is not attested by the expected identity',
  },
  seed_conflict: {
    status: 409,
    message: 'a seed for this peer machine is stored under another peer fingerprint',
  },
  session_expired: { status: 410, message: 'the session has expired' },
  payload_too_large: { status: 413, message: 'the request body is too large' },
  unsupported_media_type: { status: 415, message: 'unsupported content-type' },
  rate_limited: { status: 429, message: 'too many requests' },
  internal: { status: 500, message: 'internal error' },
  unavailable: { status: 503, message: 'the responder is unavailable; retry later' },
  peer_unreachable: { status: 502, message: 'the peer could not be reached' },
  peer_invalid_response: {
    status: 502,
    message: 'the peer did not answer with a valid key document',
  },
} as const;

/**
 * A wire error code of spec §7.
 * @useDeclaredType
 */
export type WireErrorCode = keyof typeof WIRE_ERROR_TABLE;

/** Spec §7: every wire error code, its HTTP status and the message people see. */
export const WIRE_ERRORS: Readonly<
  Record<
    WireErrorCode,
    {
      /** The HTTP status of the error response. */
      readonly status: number;
      /** The fixed `message` of the error body, never an exception's text. */
      readonly message: string;
    }
  >
> = WIRE_ERROR_TABLE;
