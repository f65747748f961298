/**
 * The protocol vectors (`test/vectors/protocol/keyex-v1.json`, see its README for provenance),
 * typed and loaded without `node:*`, so one test body runs in Node and in Chromium: the JSON is a
 * module import, and every list is checked against the case count the copy was taken with, so a
 * truncated copy cannot pass silently. What the file holds that this SDK does not run yet is named
 * in {@link NOT_RUN_YET}, each with its reason; a section the loader knows nothing of fails it. Also the browser-safe byte helpers (`hex`, `toHex`,
 * `expectCount`); test/helpers/vectors.ts adds the Node-only file loading of the large vector sets.
 */
import raw from '../vectors/protocol/keyex-v1.json' with { type: 'json' };
import type { ErrorCode } from '../../src/core/errors.js';

/** A `keyex` case (spec §2): keygen, encapsulation, key schedule and confirmation. */
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
/** One record of a {@link RecordsCase} (spec §3). */
export interface RecordCase {
  direction: 'i2r' | 'r2i';
  epoch: number;
  seq: number;
  plaintext: string;
  app_aad: string;
  record: string;
}
/** A `records` case: the traffic-key chain of one session and records sealed on it. */
export interface RecordsCase {
  case: number;
  session_id: string;
  record_key: string;
  k_i2r: string[];
  k_r2i_0: string;
  records: RecordCase[];
}
/** A `mode_b` case (spec §4). */
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
/** An `xwing.keyex` case (spec §9): a `keyex` case with X-Wing's 64-byte `eseed` for `m`, and the traffic keys. */
export interface XWingKeyexCase extends Omit<KeyexCase, 'encaps_m'> {
  eseed: string;
  k_i2r_0: string;
  k_r2i_0: string;
}
/** An `xwing.mode_b` case (spec §9): a `mode_b` case with X-Wing's `eseed` for `m`. */
export interface XWingModeBCase extends Omit<ModeBCase, 'encaps_m' | 'responder_fingerprint'> {
  eseed: string;
}
/** A `sealing` case (spec §5): a sealed secret key or a sealed Mode-B seed. */
export interface SealingCase {
  what: 'secret key' | 'mode-b seed' | 'secret key (X-Wing)' | 'identity seed';
  sig_alg?: string;
  identity_key_b64?: string;
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
/** An `invalid.key_confirmation` case, against `keyex[case]`. */
export interface BadConfirmationCase {
  case: number;
  why: string;
  key_confirmation_b64: string;
  session_id?: string;
}
/** An `invalid.records` case, against `records[0]`. */
export interface BadRecordCase {
  why: string;
  direction: 'i2r' | 'r2i';
  record: string;
}
/** An `invalid.base64` case (spec §1), valid ones included. */
export interface Base64Case {
  length: number;
  input: string;
  valid: boolean;
  why?: string;
}
/** A key document as on the wire, with its optional attestation left untyped (spec §2.1, §8.1). */
export interface VectorKeyDocument {
  alg: string;
  public_key: string;
  fingerprint: string;
  machine_id: string;
  attestation?: unknown;
}
/** A `signed_documents` case (spec §8): an identity key and a key document it signed. */
export interface SignedDocumentCase {
  identity_seed: string;
  identity_key_b64: string;
  identity: string;
  slug: string;
  now: number;
  signed_message: string;
  document: VectorKeyDocument;
}
/** An `invalid.signed_documents` case: the initiator outcome code it must produce (spec §8.2). */
export interface BadSignedDocumentCase {
  why: string;
  expect: ErrorCode;
  slug: string;
  now: number;
  identity_pins: string[];
  /** The highest serial already accepted for (origin, slug, identity), where the case has state. */
  highest_serial?: number;
  document: VectorKeyDocument;
}
/** The whole file (the sections of {@link NOT_RUN_YET} are left untyped). */
export interface ProtocolVectors {
  keyex: KeyexCase[];
  records: RecordsCase[];
  mode_b: ModeBCase[];
  sealing: SealingCase[];
  signed_documents: SignedDocumentCase[];
  xwing: { keyex: XWingKeyexCase[]; mode_b: XWingModeBCase[] };
  invalid: {
    key_confirmation: BadConfirmationCase[];
    records: BadRecordCase[];
    base64: Base64Case[];
    signed_documents: BadSignedDocumentCase[];
  };
}

/** The protocol vectors as they are in the file. */
export const protocolVectors: ProtocolVectors = raw as ProtocolVectors;

/**
 * Asserts a list of cases has exactly the expected length and returns it.
 * @param name - for the error message.
 * @param cases - the cases.
 * @param expected - the count the copy was taken with.
 */
export function expectCount<T>(
  name: string,
  cases: readonly T[] | undefined,
  expected: number,
): readonly T[] {
  if (cases === undefined || cases.length !== expected) {
    throw new Error(`${name}: expected ${expected} cases, found ${cases?.length ?? 'none'}`);
  }
  return cases;
}

/** Every list of the protocol vectors, each checked against its count. */
export interface ProtocolCases {
  readonly keyex: readonly KeyexCase[];
  /** `records[0]`, the one records suite. */
  readonly recordSuite: RecordsCase;
  /** `records[0].records`. */
  readonly records: readonly RecordCase[];
  readonly modeB: readonly ModeBCase[];
  /** `xwing.keyex` (spec §9). */
  readonly xwingKeyex: readonly XWingKeyexCase[];
  /** `xwing.mode_b` (spec §9). */
  readonly xwingModeB: readonly XWingModeBCase[];
  readonly sealing: readonly SealingCase[];
  readonly badConfirmations: readonly BadConfirmationCase[];
  readonly badRecords: readonly BadRecordCase[];
  readonly base64: readonly Base64Case[];
  readonly signedDocuments: readonly SignedDocumentCase[];
  readonly badSignedDocuments: readonly BadSignedDocumentCase[];
}

/**
 * What the file holds that no test runs yet, each with why: sections and cases of spec revision 2
 * that later issues implement. Checked at load, so a section nobody named cannot be skipped
 * silently; remove an entry when its tests arrive.
 */
export const NOT_RUN_YET: Readonly<Record<string, string>> = {};

const RUN = {
  top: [
    'spec',
    'notes',
    'keyex',
    'records',
    'mode_b',
    'sealing',
    'xwing',
    'invalid',
    'signed_documents',
  ],
  invalid: ['key_confirmation', 'records', 'base64', 'signed_documents'],
  sealing: ['secret key', 'mode-b seed', 'secret key (X-Wing)'],
  /** Sealing cases run by their own test file (test/identity-store.test.ts), not in `protocolCases.sealing`. */
  sealingApart: ['identity seed'],
};

/** Fails on a section or sealing case that is neither run nor named in {@link NOT_RUN_YET}. */
function assertAllAccountedFor(vectors: ProtocolVectors): void {
  const unknown = [
    ...Object.keys(vectors).filter((k) => !RUN.top.includes(k) && !(k in NOT_RUN_YET)),
    ...Object.keys(vectors.invalid)
      .map((k) => `invalid.${k}`)
      .filter((k) => !RUN.invalid.includes(k.slice(8)) && !(k in NOT_RUN_YET)),
    ...vectors.sealing
      .map((c) => c.what)
      .filter(
        (what) =>
          !RUN.sealing.includes(what) &&
          !RUN.sealingApart.includes(what) &&
          !(`sealing "${what}"` in NOT_RUN_YET),
      ),
  ];
  if (unknown.length > 0) throw new Error(`protocol vectors not accounted for: ${unknown.join()}`);
}

assertAllAccountedFor(protocolVectors);

const recordSuite = expectCount('records', protocolVectors.records, 1)[0] as RecordsCase;

/** The protocol vectors' cases, counted (a changed count fails at load). */
export const protocolCases: ProtocolCases = {
  keyex: expectCount('keyex', protocolVectors.keyex, 3),
  recordSuite,
  records: expectCount('records[0].records', recordSuite.records, 4),
  modeB: expectCount('mode_b', protocolVectors.mode_b, 2),
  xwingKeyex: expectCount('xwing.keyex', protocolVectors.xwing.keyex, 2),
  xwingModeB: expectCount('xwing.mode_b', protocolVectors.xwing.mode_b, 1),
  sealing: expectCount(
    'sealing (those run)',
    expectCount('sealing', protocolVectors.sealing, 4).filter((c) => RUN.sealing.includes(c.what)),
    3,
  ),
  badConfirmations: expectCount(
    'invalid.key_confirmation',
    protocolVectors.invalid.key_confirmation,
    11,
  ),
  badRecords: expectCount('invalid.records', protocolVectors.invalid.records, 8),
  base64: expectCount('invalid.base64', protocolVectors.invalid.base64, 12),
  signedDocuments: expectCount('signed_documents', protocolVectors.signed_documents, 3),
  badSignedDocuments: expectCount(
    'invalid.signed_documents',
    protocolVectors.invalid.signed_documents,
    17,
  ),
};

/** The code each `invalid.records` case is refused with, by its `why`. */
export const BAD_RECORD_CODES: Readonly<Record<string, ErrorCode>> = {
  'version byte 0x02': 'record_unsupported_version',
  'epoch field changed': 'record_auth_failed',
  'seq field changed': 'record_auth_failed',
  'tag bit flipped': 'record_auth_failed',
  'shorter than header and tag': 'record_malformed',
  'sealed for another session_id': 'record_auth_failed',
  "sealed with the other direction's key": 'record_auth_failed',
  'sealed under a traffic key not bound to session_id (revision 1)': 'record_auth_failed',
};

/** Hex to bytes (test-side helper, accepts either case; refuses odd lengths and non-hex). */
export function hex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text))
    throw new Error(`not hex: ${text.slice(0, 16)}…`);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Bytes to lowercase hex (test-side helper). */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The `sealing` case of an identity seed (spec §5, §8), the one there is. */
export const identitySealingCase: SealingCase = expectCount(
  'sealing "identity seed"',
  protocolVectors.sealing.filter((c) => c.what === 'identity seed'),
  1,
)[0] as SealingCase;
