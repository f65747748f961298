/**
 * Test helpers for the responder: observable stores (every write counted, contents snapshotted),
 * a recording logger, and a minimal initiator that runs the §2 handshake against `responder.fetch`.
 */
import { expect } from 'vitest';
import { ALG } from '../../src/core/constants.js';
import { base64Decode } from '../../src/core/encoding.js';
import { openKeyConfirmation } from '../../src/core/confirmation.js';
import { computeFingerprint } from '../../src/core/fingerprint.js';
import { kemEncapsulate } from '../../src/core/kem.js';
import type { LogFields, Logger } from '../../src/responder/logger.js';
import {
  type KeyStore,
  type ReplayTag,
  type SessionCreateResult,
  type SessionStore,
  type StoredKey,
  type StoredSession,
  createMemorySessionStore,
  type MemorySessionStoreOptions,
} from '../../src/responder/stores.js';
import { deriveRecordKey, firstContactTranscript } from '../../src/core/transcript.js';

export const ORIGIN = 'https://responder.test';
export const FIELD_KEY = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
export const OTHER_FIELD_KEY = 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';

/** A key store over a Map whose every call is counted and whose contents can be snapshotted. */
export interface ObservedKeyStore extends KeyStore {
  readonly calls: { get: number; putIfAbsent: number };
  /** Records handed to putIfAbsent that ended up stored. */
  readonly writes: StoredKey[];
  /** A deterministic serialisation of everything stored. */
  snapshot(): string;
  /** Replaces a stored record (to simulate tampering). */
  tamper(slug: string, record: StoredKey): void;
}

/** Creates an {@link ObservedKeyStore}, optionally sharing a backing map with another one. */
export function observedKeyStore(backing: Map<string, StoredKey> = new Map()): ObservedKeyStore {
  const calls = { get: 0, putIfAbsent: 0 };
  const writes: StoredKey[] = [];
  return {
    calls,
    writes,
    async get(slug) {
      calls.get++;
      await Promise.resolve();
      const found = backing.get(slug);
      return found === undefined ? undefined : { ...found };
    },
    async putIfAbsent(key) {
      calls.putIfAbsent++;
      await Promise.resolve();
      const existing = backing.get(key.slug);
      if (existing !== undefined) return { ...existing };
      backing.set(key.slug, { ...key });
      writes.push({ ...key });
      return { ...key };
    },
    snapshot() {
      return JSON.stringify([...backing.entries()].sort(([a], [b]) => a.localeCompare(b)));
    },
    tamper(slug, record) {
      backing.set(slug, record);
    },
  };
}

/** A memory session store that also remembers what it created and deleted. */
export interface ObservedSessionStore extends SessionStore {
  readonly created: string[];
  readonly replayed: number;
  readonly deleted: string[];
  /** Every session id ever created, with whether it is still stored. */
  snapshot(): Promise<string>;
}

export function observedSessionStore(
  options: MemorySessionStoreOptions = {},
): ObservedSessionStore {
  const inner = createMemorySessionStore(options);
  const created: string[] = [];
  const deleted: string[] = [];
  let replayed = 0;
  return {
    created,
    deleted,
    get replayed() {
      return replayed;
    },
    async create(session: StoredSession, replay: ReplayTag): Promise<SessionCreateResult> {
      const result = await inner.create(session, replay);
      if (result === 'created') created.push(session.sessionId);
      else replayed++;
      return result;
    },
    get: (id) => inner.get(id),
    async delete(id) {
      deleted.push(id);
      await inner.delete(id);
    },
    async snapshot() {
      const rows = await Promise.all(
        created.map(async (id) => {
          const s = await inner.get(id);
          return s === undefined
            ? [id, null]
            : [id, s.slug, s.machineId, s.expiresAt, Array.from(s.recordKey)];
        }),
      );
      return JSON.stringify({ rows, deleted });
    },
  };
}

/** A logger that keeps every line. */
export interface RecordingLogger extends Logger {
  readonly lines: { level: 'warn' | 'error'; message: string; fields: LogFields | undefined }[];
  text(): string;
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  return {
    lines,
    warn(message, fields) {
      lines.push({ level: 'warn', message, fields });
    },
    error(message, fields) {
      lines.push({ level: 'error', message, fields });
    },
    text() {
      return JSON.stringify(lines);
    },
  };
}

/** The parsed §2.1 key document. */
export interface KeyDoc {
  alg: string;
  public_key: string;
  fingerprint: string;
  machine_id: string;
}

/** The parsed §2.3 handshake response. */
export interface HandshakeDoc {
  session_id: string;
  key_confirmation: string;
  machine_id: string;
  fingerprint: string;
  alg: string;
  expires_at: string;
}

type FetchHandler = (request: Request) => Promise<Response>;

export function getRequest(path: string, init: RequestInit = {}): Request {
  return new Request(ORIGIN + path, { method: 'GET', ...init });
}

export function jsonRequest(path: string, body: unknown, init: RequestInit = {}): Request {
  return new Request(ORIGIN + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

/** Asserts a §7 error response and returns its body. */
export async function expectError(
  response: Response,
  status: number,
  code: string,
): Promise<Record<string, unknown>> {
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status });
  expect(response.headers.get('content-type')).toBe('application/json');
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(body['error']).toBe(code);
  expect(typeof body['message']).toBe('string');
  return body;
}

export async function fetchKeyDoc(
  handler: FetchHandler,
  slug: string,
  basePath = '',
): Promise<KeyDoc> {
  const response = await handler(getRequest(`${basePath}/api/keyex/${slug}/pubkey`));
  expect(response.status).toBe(200);
  return (await response.json()) as KeyDoc;
}

/** What a test initiator ends up with. */
export interface ClientHandshake {
  doc: KeyDoc;
  response: HandshakeDoc;
  cipherTextB64: string;
  sharedSecret: Uint8Array;
  recordKey: Uint8Array;
  transcript: Uint8Array;
}

/** Runs the §2 handshake as an initiator would, checking the confirmation. */
export async function clientHandshake(
  handler: FetchHandler,
  slug: string,
  basePath = '',
): Promise<ClientHandshake> {
  const doc = await fetchKeyDoc(handler, slug, basePath);
  const publicKey = base64Decode(doc.public_key, 1184);
  expect(computeFingerprint(publicKey)).toBe(doc.fingerprint);
  const { cipherText, sharedSecret } = kemEncapsulate(publicKey);
  const cipherTextB64 = Buffer.from(cipherText).toString('base64');
  const transcript = firstContactTranscript({
    alg: ALG,
    slug,
    machineId: doc.machine_id,
    publicKey,
    cipherText,
  });
  const recordKey = deriveRecordKey(sharedSecret, transcript);
  const response = await handler(
    jsonRequest(`${basePath}/api/keyex/${slug}/handshake`, {
      cipher_text: cipherTextB64,
      fingerprint: doc.fingerprint,
    }),
  );
  expect(response.status).toBe(200);
  const body = (await response.json()) as HandshakeDoc;
  openKeyConfirmation(recordKey, transcript, body.session_id, body.key_confirmation);
  return { doc, response: body, cipherTextB64, sharedSecret, recordKey, transcript };
}
