/**
 * Browser-safe access to the protocol vectors: the JSON is bundled by the test server (no
 * `node:fs`), typed, and every list is checked against the case count the copy was taken with,
 * so a truncated copy cannot pass silently. Mirrors test/helpers/vectors.ts for the page.
 */
import raw from '../vectors/protocol/keyex-v1.json' with { type: 'json' };

export interface KeyexCase {
  alg: string;
  slug: string;
  machine_id: string;
  keygen_seed: string;
  public_key_b64: string;
  fingerprint: string;
  encaps_m: string;
  cipher_text_b64: string;
  shared_secret: string;
  transcript: string;
  record_key: string;
  session_id: string;
  confirm_nonce: string;
  key_confirmation_b64: string;
}
export interface RecordCase {
  direction: 'i2r' | 'r2i';
  epoch: number;
  seq: number;
  plaintext: string;
  app_aad: string;
  record: string;
}
export interface RecordsCase {
  case: number;
  session_id: string;
  record_key: string;
  k_i2r: string[];
  k_r2i_0: string;
  records: RecordCase[];
}
export interface ModeBCase {
  alg: string;
  initiator_machine_id: string;
  responder_machine_id: string;
  responder_keygen_seed: string;
  responder_public_key_b64: string;
  responder_fingerprint: string;
  encaps_m: string;
  cipher_text_b64: string;
  shared_secret: string;
  transcript: string;
  seed: string;
  seed_commitment: string;
}
export interface SealingCase {
  what: 'secret key' | 'mode-b seed';
  field_key: string;
  seal_key?: string;
  alg?: string;
  slug?: string;
  machine_id?: string;
  public_key_b64?: string;
  local_machine_id?: string;
  peer_machine_id?: string;
  seed_commitment?: string;
  plaintext: string;
  nonce: string;
  aad: string;
  sealed_b64: string;
}
export interface BadConfirmationCase {
  case: number;
  why: string;
  key_confirmation_b64: string;
  session_id?: string;
}
export interface BadRecordCase {
  why: string;
  direction: 'i2r' | 'r2i';
  record: string;
}
export interface Base64Case {
  length: number;
  input: string;
  valid: boolean;
  why?: string;
}
export interface ProtocolVectors {
  keyex: KeyexCase[];
  records: RecordsCase[];
  mode_b: ModeBCase[];
  sealing: SealingCase[];
  invalid: {
    key_confirmation: BadConfirmationCase[];
    records: BadRecordCase[];
    base64: Base64Case[];
  };
}

/** The protocol vectors (`test/vectors/protocol/keyex-v1.json`). */
export const protocolVectors: ProtocolVectors = raw as ProtocolVectors;

/**
 * Asserts a list of cases has exactly the expected length and returns it.
 * @param name - for the error message.
 * @param cases - the cases.
 * @param expected - the count the copy was taken with.
 */
export function expectCount<T>(name: string, cases: readonly T[] | undefined, expected: number): readonly T[] {
  if (cases === undefined || cases.length !== expected) {
    throw new Error(`${name}: expected ${expected} cases, found ${cases?.length ?? 'none'}`);
  }
  return cases;
}

/** Hex to bytes (test-side helper, accepts either case; refuses odd lengths and non-hex). */
export function hex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw new Error(`not hex: ${text.slice(0, 16)}…`);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Bytes to lowercase hex (test-side helper). */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
