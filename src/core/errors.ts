/**
 * The SDK's one operational error class, {@link ZeqKeyExError}, and its table of stable codes.
 *
 * Programmer mistakes (a malformed pin in configuration, a negative timeout) throw `TypeError` or
 * `RangeError` where the object is created. Everything that can go wrong at run time, because of
 * the network, the peer or stored data, throws `ZeqKeyExError` with a machine-readable `code`.
 * Codes are API: they are added, never renamed. Messages never carry secrets; security failures
 * (a confirmation or record that does not open) carry one opaque message.
 * @module
 */

// The table as written; exported below under a declared type, so the reference shows one table
// and `ErrorCode` as a union rather than one page entry per code.
const CODES = {
  // Encodings and inputs (§1)
  invalid_encoding:
    'A base64 or hex field is not in canonical form or decodes to the wrong length.',
  invalid_identifier: 'A slug, machine_id or session_id does not match the grammar of spec §1.',
  unsupported_alg: 'The peer named an `alg` this SDK was not configured to accept.',
  invalid_public_key: 'A public key has the wrong length or fails the FIPS 203 §7.2 modulus check.',
  invalid_cipher_text: 'A KEM ciphertext has the wrong length for the `alg` in use.',
  invalid_secret_key:
    'A secret key or seed has the wrong length or fails the FIPS 203 §7.3 hash check.',
  kem_unavailable:
    'The `kem` option asked for a native ML-KEM backend and this runtime has none that passes the probe.',
  // First contact, initiator side (§2)
  fingerprint_inconsistent:
    'The key document’s `fingerprint` is not the SHA-256 of its own `public_key`.',
  fingerprint_mismatch:
    'The peer’s fingerprint matches none of the pins (or the expected fingerprint) configured for it.',
  pin_required: 'No pin, trust-on-first-use store or explicit unauthenticated mode was configured.',
  tofu_key_changed: 'The responder’s fingerprint differs from the one remembered on first use.',
  confirmation_failed:
    'The key confirmation did not open to the expected label under the record key.',
  response_mismatch:
    'The handshake response names another machine_id, fingerprint or alg than the key used.',
  // Signed key documents and identity pins, initiator side (§8.2)
  attestation_required:
    'An identity pin applies to the slug and the key document carries no attestation.',
  attestation_invalid:
    'The attestation is malformed, its validity period is not allowed, or its signature does not verify.',
  identity_mismatch:
    'The attestation is signed by an identity that matches none of the identity pins.',
  attestation_expired:
    'The attestation is not valid at the current time, allowing for the configured clock skew.',
  attestation_rollback:
    'The attestation’s serial is lower than the highest one already accepted for this origin, slug and identity.',
  // Transport (initiator and Mode-B peer fetches)
  network_error: 'The request could not be sent or its response could not be read.',
  timeout: 'The request did not complete within the configured time limit.',
  aborted: 'The caller aborted the request through its AbortSignal.',
  http_error: 'The responder answered with an error status; `status` and `responseCode` say which.',
  response_too_large: 'A response body exceeded the 64 KiB limit of spec §2.1.',
  malformed_response:
    'A response body is not a JSON object with every expected field of the expected type.',
  // Records (§3)
  record_malformed:
    'A record is shorter than its header and tag, or its seq field is 2^32 or more, which no conforming sender reaches.',
  record_unsupported_version: 'A record carries a version byte other than 0x01.',
  record_auth_failed:
    'A record did not open: tampered, sealed for another session or direction, or under another key.',
  record_replayed: 'A record’s sequence number was already accepted in its epoch.',
  record_too_old:
    'A record belongs to an epoch the receiver no longer keeps, or lies behind the replay window.',
  record_too_far_ahead: 'A record claims an epoch more than 1024 ahead of the receiver’s.',
  session_exhausted:
    'The session has sealed its last record (epoch 2^32−1 exhausted) and must be replaced.',
  session_closed: 'The session was closed and its keys wiped.',
  // Secrets at rest (§5)
  invalid_field_key: 'The field key is missing, not 64 hex characters, or otherwise malformed.',
  unseal_failed:
    'A sealed secret did not open under the configured field key (wrong key or tampered blob).',
  // Responder
  unknown_machine: 'The responder serves no machine under that slug.',
  machine_unavailable:
    'The stored key of a machine cannot be opened; the machine is not served (no new key is made).',
  store_error: 'A key, seed or session store failed to read or write.',
  // Node adapter
  body_consumed:
    'A body parser read the request’s body before the Node adapter could stream it to the handler.',
  // Responder identity
  identity_unavailable:
    'The responder’s configured identity key is missing or cannot be opened; key documents are not served (no new identity is made).',
} as const;

/**
 * A stable, machine-readable error code.
 * @useDeclaredType
 */
export type ErrorCode = keyof typeof CODES;

/**
 * Every error code, with the sentence the docs use for it. The docs table in `docs/errors.md` is
 * checked against this object by a test, so neither can drift.
 *
 * Nothing else in the SDK reads this table, so an app that does not import it does not ship it: a
 * {@link ZeqKeyExError} made without a message says its code in words (`session closed`), and
 * `ERROR_CODES[error.code]` gives the longer sentence where an app wants to show it.
 */
export const ERROR_CODES: Readonly<Record<ErrorCode, string>> = CODES;

/** Options of {@link ZeqKeyExError}. */
export interface ZeqKeyExErrorOptions {
  /** The HTTP status of the response that caused the error, where there was one. */
  status?: number;
  /** The responder's wire `error` code (spec §7), where it sent one. */
  responseCode?: string;
  /** The fingerprint the caller expected (fingerprint mismatches only). */
  expectedFingerprint?: string;
  /** The fingerprint the peer presented (fingerprint mismatches only). */
  actualFingerprint?: string;
  /** The method of the request that failed (`GET`, `POST`), where there was one. */
  method?: string;
  /** The URL of the request that failed, without credentials, query or fragment. */
  url?: string;
  /** The underlying error. */
  cause?: unknown;
}

const BRAND = Symbol.for('zeq-keyex.error');

/**
 * The error every operational failure of the SDK throws.
 * @example
 * ```ts
 * try { await client.handshake('edge-01'); }
 * catch (e) { if (isZeqKeyExError(e) && e.code === 'fingerprint_mismatch') alertOperator(); }
 * ```
 */
export class ZeqKeyExError extends Error {
  /** Always `'ZeqKeyExError'`, a string literal (a minifier renames classes, not strings). */
  override readonly name = 'ZeqKeyExError' as const;
  /** Stable machine-readable code; see {@link ERROR_CODES}. */
  readonly code: ErrorCode;
  /** HTTP status, where the error came from a response. */
  readonly status: number | undefined;
  /** The responder's wire `error` code, where it sent one. */
  readonly responseCode: string | undefined;
  /** Expected fingerprint, on fingerprint mismatches. */
  readonly expectedFingerprint: string | undefined;
  /** Actual fingerprint, on fingerprint mismatches. */
  readonly actualFingerprint: string | undefined;
  /** The method of the request that failed, for transport errors. */
  readonly method: string | undefined;
  /** The URL of the request that failed (no credentials, query or fragment), for transport errors. */
  readonly url: string | undefined;

  /**
   * @param code - the stable error code.
   * @param message - text for people; defaults to the code in words (`session_closed` →
   *   `session closed`). Never a secret.
   * @param options - status, responder code, fingerprints, method, URL and cause.
   */
  constructor(code: ErrorCode, message?: string, options: ZeqKeyExErrorOptions = {}) {
    super(
      message ?? code.replaceAll('_', ' '),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.status = options.status;
    this.responseCode = options.responseCode;
    this.expectedFingerprint = options.expectedFingerprint;
    this.actualFingerprint = options.actualFingerprint;
    this.method = options.method;
    this.url = options.url;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * Type guard that works across bundles and realms (it checks a registered symbol, not the class).
 * @param error - any thrown value.
 * @param code - optionally, the code it must carry.
 * @returns whether `error` is a {@link ZeqKeyExError} (with that code).
 */
export function isZeqKeyExError(error: unknown, code?: ErrorCode): error is ZeqKeyExError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (error as ZeqKeyExError).code === code)
  );
}

/**
 * Calls a store the app supplied (key, seed, session or trust store): a failure that is not
 * already the SDK's own error becomes `store_error`, with the failure as its `cause`.
 * @param call - the store call.
 * @param message - the message of the `store_error`; by default the code in words.
 * @returns what the call resolves to.
 * @throws {ZeqKeyExError} `store_error`, or the SDK error the store threw.
 */
export async function callStore<T>(call: () => Promise<T>, message?: string): Promise<T> {
  try {
    return await call();
  } catch (cause) {
    if (isZeqKeyExError(cause)) throw cause;
    throw new ZeqKeyExError('store_error', message, { cause });
  }
}
