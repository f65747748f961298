/**
 * The initiator wipes its secrets (spec §2.3: "record_key is wiped, never returned"): the shared
 * secret as soon as the record key is derived, and the record key on every failure after that.
 * The KEM backend and key schedule are wrapped so the test sees the very arrays the client made;
 * the responder side runs through fetch injection.
 */
import { describe, expect, test, vi } from 'vitest';
import { type ClientOptions, createClient } from '../src/initiator/client.js';
import type { ErrorCode } from '../src/core/errors.js';
import { type TrustStore, createMemoryTrustStore } from '../src/initiator/trust.js';
import {
  type FetchHandler,
  SLUG,
  STRANGER_FP,
  breaksBody,
  editHandshake,
  failFirst,
  foreignResponder,
  isZero,
  json,
  makeFixture,
  neverAnswers,
  only,
  padTo,
  raw,
  rejection,
  rewrite,
} from './helpers/client-kit.js';

const made = vi.hoisted(() => ({
  /** Shared secrets returned by encapsulation (the initiator's). */
  sharedSecrets: [] as Uint8Array[],
  /** Record keys derived from one of those shared secrets (the initiator's, not a responder's). */
  recordKeys: [] as Uint8Array[],
}));

// The client encapsulates through its KEM backend (noble, node:crypto or WebCrypto, whichever
// this runtime gives): wrap the backend it loads, so the test sees the very secret it got.
vi.mock('../src/backends/kem-backend.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/backends/kem-backend.js')>();
  return {
    ...actual,
    encapsulatorLoader: (choice: unknown) => {
      const load = actual.encapsulatorLoader(choice);
      return async () => {
        const kem = await load();
        return {
          ...kem,
          encapsulate: async (publicKey: Uint8Array) => {
            const result = await kem.encapsulate(publicKey);
            made.sharedSecrets.push(result.sharedSecret);
            return result;
          },
        };
      };
    },
  };
});

vi.mock('../src/core/transcript.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/core/transcript.js')>();
  return {
    ...actual,
    deriveRecordKey: (sharedSecret: Uint8Array, transcript: Uint8Array) => {
      // Captured before the call: the shared secret is wiped right after it.
      const initiator = made.sharedSecrets.includes(sharedSecret);
      const recordKey = actual.deriveRecordKey(sharedSecret, transcript);
      if (initiator) made.recordKeys.push(recordKey);
      return recordKey;
    },
  };
});

function reset(): void {
  made.sharedSecrets.length = 0;
  made.recordKeys.length = 0;
}

interface Case {
  readonly name: string;
  readonly code: ErrorCode;
  /** Builds the responder side; `tofu` replaces the pin when given. */
  make(): Promise<{
    handler: FetchHandler;
    pin: string;
    tofu?: TrustStore;
    timeoutMs?: number;
    abortOnPost?: boolean;
  }>;
}

const afterDerivation: Case[] = [
  {
    name: 'the handshake answered 503',
    code: 'http_error',
    make: async () => {
      const f = await makeFixture();
      return { handler: failFirst(f.handler, 'POST', 1, 503), pin: f.doc.fingerprint };
    },
  },
  {
    name: 'the key changed before the handshake (409 key_mismatch)',
    code: 'http_error',
    make: async () => {
      const old = await makeFixture();
      const next = await makeFixture();
      return { handler: only('GET', old.handler, next.handler), pin: old.doc.fingerprint };
    },
  },
  {
    name: 'the handshake request failed at the network level',
    code: 'network_error',
    make: async () => {
      const f = await makeFixture();
      return {
        handler: only('GET', f.handler, () => Promise.reject(new TypeError('fetch failed'))),
        pin: f.doc.fingerprint,
      };
    },
  },
  {
    name: 'the handshake response broke off',
    code: 'network_error',
    make: async () => {
      const f = await makeFixture();
      return { handler: only('GET', f.handler, breaksBody), pin: f.doc.fingerprint };
    },
  },
  {
    name: 'the handshake response was malformed',
    code: 'malformed_response',
    make: async () => {
      const f = await makeFixture();
      return {
        handler: editHandshake(f.handler, (response) => ({ ...response, expires_at: 'soon' })),
        pin: f.doc.fingerprint,
      };
    },
  },
  {
    name: 'the handshake response was too large',
    code: 'response_too_large',
    make: async () => {
      const f = await makeFixture();
      return {
        handler: rewrite(f.handler, 'POST', (response) =>
          raw(padTo(JSON.stringify(response), 64 * 1024 + 1)),
        ),
        pin: f.doc.fingerprint,
      };
    },
  },
  {
    name: 'the handshake response named another machine',
    code: 'response_mismatch',
    make: async () => {
      const f = await makeFixture();
      return {
        handler: editHandshake(f.handler, (response) => ({
          ...response,
          machine_id: 'machine:elsewhere',
        })),
        pin: f.doc.fingerprint,
      };
    },
  },
  {
    name: 'the responder sealed the confirmation under a wrong key',
    code: 'confirmation_failed',
    make: async () => {
      const handler = foreignResponder({ wrongKey: true });
      const doc = (await (
        await handler(new Request(`https://edge.test/api/keyex/${SLUG}/pubkey`))
      ).json()) as { fingerprint: string };
      return { handler, pin: doc.fingerprint };
    },
  },
  {
    name: 'the handshake response never came',
    code: 'timeout',
    make: async () => {
      const f = await makeFixture();
      return {
        handler: only('GET', f.handler, neverAnswers),
        pin: f.doc.fingerprint,
        timeoutMs: 100,
      };
    },
  },
  {
    name: 'the caller aborted while the handshake was in flight',
    code: 'aborted',
    make: async () => {
      const f = await makeFixture();
      return {
        handler: only('GET', f.handler, neverAnswers),
        pin: f.doc.fingerprint,
        abortOnPost: true,
      };
    },
  },
  {
    name: 'the TOFU store failed to remember the first key',
    code: 'store_error',
    make: async () => {
      const f = await makeFixture();
      const tofu: TrustStore = {
        get: async () => undefined,
        putIfAbsent: () => Promise.reject(new Error('read-only')),
      };
      return { handler: f.handler, pin: f.doc.fingerprint, tofu };
    },
  },
  {
    name: 'the TOFU store already held another key (a lost first-use race)',
    code: 'tofu_key_changed',
    make: async () => {
      const f = await makeFixture();
      const tofu: TrustStore = { get: async () => undefined, putIfAbsent: async () => STRANGER_FP };
      return { handler: f.handler, pin: f.doc.fingerprint, tofu };
    },
  },
];

describe('secrets are wiped', () => {
  test('on success: the shared secret at once, the record key when the session is wiped', async () => {
    reset();
    const f = await makeFixture();
    const client = createClient({
      origin: 'https://edge.test',
      pins: { [SLUG]: f.doc.fingerprint },
      retry: 0,
      fetch: (request) => f.handler(request),
    });
    const session = await client.handshake(SLUG);
    expect(made.sharedSecrets).toHaveLength(1);
    expect(made.recordKeys).toHaveLength(1);
    expect(made.sharedSecrets.every(isZero)).toBe(true);
    const [recordKey] = made.recordKeys as [Uint8Array];
    expect(isZero(recordKey)).toBe(false);
    expect(session.recordKey).toEqual(recordKey);
    session.wipe();
    expect(isZero(recordKey)).toBe(true);
  });

  test.each(afterDerivation)(
    'on failure after derivation, when $name ($code): no session, record key wiped',
    async (c) => {
      reset();
      const { handler, pin, tofu, timeoutMs, abortOnPost } = await c.make();
      const controller = new AbortController();
      const client = createClient({
        origin: 'https://edge.test',
        retry: 0,
        ...(tofu === undefined ? { pins: { [SLUG]: pin } } : { tofu }),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        fetch: (request) => {
          if (abortOnPost === true && request.method === 'POST')
            queueMicrotask(() => controller.abort());
          return handler(request);
        },
      });
      await rejection(client.handshake(SLUG, { signal: controller.signal }), c.code);
      expect(made.sharedSecrets).toHaveLength(1);
      expect(made.recordKeys).toHaveLength(1);
      expect(made.sharedSecrets.every(isZero)).toBe(true);
      expect(made.recordKeys.every(isZero)).toBe(true);
    },
  );

  test.each<
    [
      string,
      ErrorCode,
      () => Omit<ClientOptions, 'origin'>,
      (f: { handler: FetchHandler }) => FetchHandler,
    ]
  >([
    [
      'a pin mismatch',
      'fingerprint_mismatch',
      () => ({ pins: { [SLUG]: STRANGER_FP } }),
      (f) => f.handler,
    ],
    ['no trust setting', 'pin_required', () => ({}), (f) => f.handler],
    [
      'a fingerprint that lies',
      'fingerprint_inconsistent',
      () => ({ insecureUnpinned: true }),
      (f) => rewrite(f.handler, 'GET', (doc) => json({ ...doc, fingerprint: STRANGER_FP })),
    ],
    [
      'a changed TOFU key',
      'tofu_key_changed',
      () => {
        const tofu = createMemoryTrustStore();
        void tofu.putIfAbsent(`https://edge.test ${SLUG}`, STRANGER_FP);
        return { tofu };
      },
      (f) => f.handler,
    ],
  ])('nothing is encapsulated or derived on %s (%s)', async (_, code, trust, make) => {
    reset();
    const f = await makeFixture();
    const handler = make(f);
    const client = createClient({
      origin: 'https://edge.test',
      retry: 0,
      ...trust(),
      fetch: (request) => handler(request),
    });
    await rejection(client.handshake(SLUG), code);
    expect(made.sharedSecrets).toHaveLength(0);
    expect(made.recordKeys).toHaveLength(0);
  });
});
