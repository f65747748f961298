/**
 * Shared pieces of the client ↔ responder acceptance tests: the network layers the suite runs
 * over, responder fixtures, request spies, and hostile or broken responders written as small fetch
 * handlers (so one hostile behaviour serves every layer: fetch injection, msw and a loopback
 * socket).
 */
import { expect } from 'vitest';
import type { ClientOptions } from '../../src/initiator/client.js';
import { ALG } from '../../src/core/constants.js';
import { base64Decode, base64Encode } from '../../src/core/encoding.js';
import { type ErrorCode, type ZeqKeyExError, isZeqKeyExError } from '../../src/core/errors.js';
import { computeFingerprint } from '../../src/core/fingerprint.js';
import { type Responder, createResponder } from '../../src/responder/responder.js';
import type { KeyDocumentJson } from '../../src/responder/key-manager.js';
import { kemDecapsulate, kemKeygen } from '../../src/core/kem.js';
import { randomBytes } from '../../src/core/primitives.js';
import { sealKeyConfirmation } from '../../src/core/confirmation.js';
import { createMemoryKeyStore } from '../../src/responder/stores.js';
import { deriveRecordKey, firstContactTranscript } from '../../src/core/transcript.js';
import type { StorageLike } from '../../src/initiator/trust.js';
import { FIELD_KEY, type ObservedSessionStore, observedSessionStore } from './responder.js';

/** A standard fetch handler. */
export type FetchHandler = (request: Request) => Promise<Response>;

/** A handler served by a layer, as the client sees it. */
export interface Mount {
  /** Where the client points (with the base path, if any). */
  readonly origin: string;
  /** Client options that reach the mount: an injected `fetch`, or nothing (the global fetch). */
  readonly client: Pick<ClientOptions, 'fetch'>;
  /** Requests that left the client for this mount, counted by the layer (not by the handler). */
  sent(): number;
}

/** A way of carrying the client's requests to a handler. */
export interface Layer {
  readonly name: string;
  /** Serves `handler` at a fresh origin (`basePath` appended to it). */
  mount(handler: FetchHandler, basePath?: string): Promise<Mount>;
  /** A fresh origin where every request fails at the network level. */
  unreachable(): Promise<Pick<Mount, 'origin' | 'client'>>;
  /** Releases whatever `mount` and `unreachable` created. */
  cleanup(): Promise<void>;
}

export const SLUG = 'edge-01';
export const MACHINE_ID = 'machine:edge-01';
export const OTHER_SLUG = 'edge-02';
export const OTHER_MACHINE_ID = 'machine:edge-02';
/** The responder's clock, so that `expires_at` is known exactly. */
export const NOW: number = Date.UTC(2031, 4, 6, 7, 8, 9, 123);
export const TTL_MS = 90_000;
/** A well-formed fingerprint no responder of these tests serves. */
export const STRANGER_FP: string = 'ab'.repeat(32);

/** A real responder with a session store the test can read. */
export interface Fixture {
  readonly responder: Responder;
  readonly sessions: ObservedSessionStore;
  /** The key document of {@link SLUG} (generating its key). */
  readonly doc: KeyDocumentJson;
  readonly handler: FetchHandler;
}

/**
 * A real responder serving {@link SLUG} and {@link OTHER_SLUG}, with its own key store (so every
 * fixture has other keys and fingerprints), a readable session store and a fixed clock.
 */
export async function makeFixture(options: { basePath?: string } = {}): Promise<Fixture> {
  const sessions = observedSessionStore({ now: () => NOW });
  const responder = createResponder({
    fieldKey: FIELD_KEY,
    machines: { [SLUG]: MACHINE_ID, [OTHER_SLUG]: OTHER_MACHINE_ID },
    keyStore: createMemoryKeyStore(),
    sessionStore: sessions,
    sessionTtlMs: TTL_MS,
    now: () => NOW,
    ...(options.basePath === undefined ? {} : { basePath: options.basePath }),
  });
  const doc = await responder.keyDocument(SLUG);
  return { responder, sessions, doc, handler: (request) => responder.fetch(request) };
}

/** One request a {@link Spy} saw. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;
  readonly body: string;
}

/** A handler that records every request before passing it on. */
export interface Spy {
  readonly handler: FetchHandler;
  readonly requests: SeenRequest[];
  count(method?: string): number;
}

export function spy(inner: FetchHandler): Spy {
  const requests: SeenRequest[] = [];
  return {
    requests,
    count: (method) => requests.filter((r) => method === undefined || r.method === method).length,
    async handler(request) {
      const body =
        request.method === 'GET' || request.method === 'HEAD' ? '' : await request.clone().text();
      requests.push({
        method: request.method,
        path: new URL(request.url).pathname,
        headers: new Headers(request.headers),
        body,
      });
      return inner(request);
    },
  };
}

/** A JSON response, as a responder sends one. */
export function json(value: unknown, init: ResponseInit = {}): Response {
  return raw(JSON.stringify(value), init);
}

/** A response with exactly these body bytes, `application/json` unless `init` says otherwise. */
export function raw(
  body: string | Uint8Array | ReadableStream<Uint8Array>,
  init: ResponseInit = {},
): Response {
  const headers = new Headers(init.headers);
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  return new Response(body as BodyInit, { ...init, headers });
}

/**
 * Rewrites the answers of one method: the request goes to `inner`, and `edit` turns its JSON
 * answer into the response the client gets. The other method passes through untouched.
 */
export function rewrite(
  inner: FetchHandler,
  method: 'GET' | 'POST',
  edit: (body: Record<string, unknown>) => Response | Promise<Response>,
): FetchHandler {
  return async (request) => {
    const response = await inner(request);
    if (request.method !== method) return response;
    expect(response.status).toBe(200);
    return edit((await response.json()) as Record<string, unknown>);
  };
}

/** Answers the key document with `editDoc(doc)` as JSON, passing the handshake through. */
export function editDocument(
  inner: FetchHandler,
  editDoc: (doc: Record<string, unknown>) => unknown,
): FetchHandler {
  return rewrite(inner, 'GET', (doc) => json(editDoc(doc)));
}

/** Answers the handshake with `editResponse(response)` as JSON, passing the key document through. */
export function editHandshake(
  inner: FetchHandler,
  editResponse: (response: Record<string, unknown>) => unknown,
): FetchHandler {
  return rewrite(inner, 'POST', (response) => json(editResponse(response)));
}

/** Lets `method` through to `inner` but answers the other method with `other`. */
export function only(
  method: 'GET' | 'POST',
  inner: FetchHandler,
  other: FetchHandler,
): FetchHandler {
  return (request) => (request.method === method ? inner(request) : other(request));
}

/** A handler whose target can be swapped, e.g. to rotate a responder's key behind one origin. */
export interface Switchable {
  readonly handler: FetchHandler;
  set(next: FetchHandler): void;
}

export function switchable(initial: FetchHandler): Switchable {
  let current = initial;
  return {
    handler: (request) => current(request),
    set(next) {
      current = next;
    },
  };
}

/** Answers the first `times` requests of `method` with `status` (JSON error body), then passes. */
export function failFirst(
  inner: FetchHandler,
  method: 'GET' | 'POST',
  times: number,
  status: number,
  code = 'internal',
): FetchHandler {
  let failed = 0;
  return async (request) => {
    if (request.method === method && failed < times) {
      failed++;
      return json({ error: code, message: 'try again' }, { status });
    }
    return inner(request);
  };
}

/** Sends each handshake to `inner` twice and answers with the second (a replay) answer. */
export function replayHandshake(inner: FetchHandler): FetchHandler {
  return async (request) => {
    if (request.method !== 'POST') return inner(request);
    const body = await request.text();
    const again = (): Request =>
      new Request(request.url, { method: 'POST', headers: request.headers, body });
    const first = await inner(again());
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    return inner(again());
  };
}

/**
 * Requests a hanging handler is holding. A real server holds its sockets; without this strong
 * reference an in-process request that nobody can settle would be garbage, abort listeners and all.
 */
const held = new Set<Request>();

/** Waits for the request's signal (the client going away), like a server that never answers. */
export function waitForAbort(request: Request): Promise<never> {
  held.add(request);
  return new Promise<never>((_, reject) => {
    const fail = (): void => {
      held.delete(request);
      reject(request.signal.reason ?? new Error('aborted'));
    };
    if (request.signal.aborted) fail();
    else request.signal.addEventListener('abort', fail, { once: true });
  });
}

/** A server that accepts the request and never answers. */
export const neverAnswers: FetchHandler = (request) => waitForAbort(request);

/** Sends headers and the first bytes of a body, then stalls until the client goes away. */
export const stallsBody: FetchHandler = async (request) => {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"alg":'));
    },
    pull: () => waitForAbort(request).catch(() => undefined),
  });
  return raw(stream);
};

/** Sends headers and a first chunk, then fails the body (a connection reset mid-response). */
export const breaksBody: FetchHandler = async () => {
  let sent = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) {
        controller.error(new TypeError('connection reset'));
        return;
      }
      sent = true;
      controller.enqueue(new TextEncoder().encode('{"alg":"ML-KEM-768",'));
    },
  });
  return raw(stream);
};

/** An endless (or `totalBytes`-long) body that counts how many bytes were pulled from it. */
export interface CountingBody {
  readonly stream: ReadableStream<Uint8Array>;
  pulled(): number;
  cancelled(): boolean;
}

export const CHUNK_BYTES = 4096;

export function countingBody(totalBytes: number = Number.POSITIVE_INFINITY): CountingBody {
  let pulled = 0;
  let cancelled = false;
  // Whitespace is valid JSON padding: only the size can make a client refuse it.
  const chunk = new Uint8Array(CHUNK_BYTES).fill(0x20);
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulled >= totalBytes) {
          controller.close();
          return;
        }
        pulled += chunk.length;
        controller.enqueue(chunk.slice());
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => pulled, cancelled: () => cancelled };
}

/** `text` padded with spaces (valid JSON whitespace) to exactly `bytes` bytes. */
export function padTo(text: string, bytes: number): string {
  const length = new TextEncoder().encode(text).length;
  expect(length).toBeLessThanOrEqual(bytes);
  return text + ' '.repeat(bytes - length);
}

/** A public key that fails the FIPS 203 §7.2 modulus check: its first coefficient is 4095. */
export function failsModulusCheck(publicKeyBase64: string): Uint8Array {
  const key = base64Decode(publicKeyBase64, 1184);
  key[0] = 0xff;
  key[1] = (key[1] as number) | 0x0f;
  return key;
}

/**
 * A hand-written responder (not the SDK's) that serves the public key of one key pair and
 * decapsulates with `decapsulateWith`: the same pair gives a working responder (the control),
 * another pair gives one whose key confirmation is sealed under a wrong record key.
 */
export function foreignResponder(options: {
  wrongKey: boolean;
  slug?: string;
  machineId?: string;
}): FetchHandler {
  const slug = options.slug ?? SLUG;
  const machineId = options.machineId ?? MACHINE_ID;
  const served = kemKeygen(randomBytes(64));
  const held = options.wrongKey ? kemKeygen(randomBytes(64)) : served;
  const fingerprint = computeFingerprint(served.publicKey);
  return async (request) => {
    if (request.method === 'GET') {
      return json({
        alg: ALG,
        public_key: base64Encode(served.publicKey),
        fingerprint,
        machine_id: machineId,
      });
    }
    const body = (await request.json()) as { cipher_text: string };
    const cipherText = base64Decode(body.cipher_text, 1088);
    const sharedSecret = kemDecapsulate(held.secretKey, cipherText);
    const transcript = firstContactTranscript({
      alg: ALG,
      slug,
      machineId,
      publicKey: served.publicKey,
      cipherText,
    });
    const recordKey = deriveRecordKey(sharedSecret, transcript);
    const sessionId = 'foreign-session-0001';
    return json({
      session_id: sessionId,
      key_confirmation: sealKeyConfirmation(recordKey, transcript, sessionId),
      machine_id: machineId,
      fingerprint,
      alg: ALG,
      expires_at: new Date(NOW + TTL_MS).toISOString(),
    });
  };
}

/** A Web Storage stand-in for `localStorage`. */
export class MemoryStorage implements StorageLike {
  readonly items: Map<string, string> = new Map();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

/** Awaits `promise`, asserts it rejects with the SDK's error carrying `code`, and returns it. */
export async function rejection(
  promise: Promise<unknown>,
  code: ErrorCode,
): Promise<ZeqKeyExError> {
  let thrown: unknown;
  let settled = false;
  try {
    await promise;
    settled = true;
  } catch (error) {
    thrown = error;
  }
  expect(settled, `expected ZeqKeyExError ${code}, but the call succeeded`).toBe(false);
  expect(isZeqKeyExError(thrown), `expected ZeqKeyExError ${code}, got ${String(thrown)}`).toBe(
    true,
  );
  expect((thrown as ZeqKeyExError).code).toBe(code);
  return thrown as ZeqKeyExError;
}

/** Whether every byte is zero. */
export function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}
