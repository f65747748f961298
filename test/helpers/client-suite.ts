/**
 * The client ↔ responder acceptance suite (spec §2, §6), run once per network layer: success, and
 * every error code the initiator client can produce, against the real responder or a hostile one.
 * Each layer's test file calls {@link describeClientSuite} with its {@link Layer}.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { type Client, type ClientOptions, createClient } from '../../src/initiator/client.js';
import { ALG } from '../../src/core/constants.js';
import { base64Decode, base64Encode } from '../../src/core/encoding.js';
import { computeFingerprint } from '../../src/core/fingerprint.js';
import { isSessionId } from '../../src/core/identifiers.js';
import { createFileTrustStore } from '../../src/node/file-trust-store.js';
import {
  type TrustStore,
  createLocalStorageTrustStore,
  createMemoryTrustStore,
  tofuKey,
} from '../../src/initiator/trust.js';
import { expectCode } from './errors.js';
import {
  CHUNK_BYTES,
  type FetchHandler,
  type Layer,
  MACHINE_ID,
  MemoryStorage,
  type Mount,
  NOW,
  OTHER_MACHINE_ID,
  OTHER_SLUG,
  SLUG,
  STRANGER_FP,
  TTL_MS,
  breaksBody,
  countingBody,
  editDocument,
  editHandshake,
  failFirst,
  failsModulusCheck,
  foreignResponder,
  isZero,
  json,
  makeFixture,
  neverAnswers,
  only,
  padTo,
  raw,
  rejection,
  replayHandshake,
  rewrite,
  spy,
  stallsBody,
  switchable,
} from './client-kit.js';

const MAX = 64 * 1024;
const TIMEOUT_MS = 150;

type Doc = Record<string, unknown>;

/** Per-layer knobs. */
export interface SuiteOptions {
  /**
   * Bytes a layer may pull from a handler's body beyond what the client reads (socket buffers of a
   * real connection; none for in-process layers).
   */
  readonly bufferedBytes: number;
}

function without(doc: Doc, name: string): Doc {
  return Object.fromEntries(Object.entries(doc).filter(([key]) => key !== name));
}

/** The public key base64 with one of its pad bits set (same length, non-canonical). */
function withPadBits(publicKey: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const at = publicKey.indexOf('=') - 1;
  const index = alphabet.indexOf(publicKey[at] as string);
  return publicKey.slice(0, at) + (alphabet[index ^ 1] as string) + publicKey.slice(at + 1);
}

function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(at, at + 1000));
      at += 1000;
    },
  });
}

/** Malformed key documents (§2.1): each must end in `malformed_response` before anything is posted. */
const MALFORMED_DOCUMENTS: [string, (doc: Doc) => Response][] = [
  ['a body that is not JSON', () => raw('hello')],
  ['an empty body', () => raw('')],
  ['a body that is not UTF-8', () => raw(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d))],
  ['truncated JSON', (doc) => raw(JSON.stringify(doc).slice(0, 200))],
  ['a JSON array', (doc) => json([doc])],
  ['JSON null', () => json(null)],
  ['a JSON string', () => json('ML-KEM-768')],
  ['a JSON number', () => json(42)],
  ...(['alg', 'public_key', 'fingerprint', 'machine_id'].map((name) => [
    `no "${name}"`,
    (doc: Doc) => json(without(doc, name)),
  ]) as [string, (doc: Doc) => Response][]),
  ['"alg" as a number', (doc) => json({ ...doc, alg: 768 })],
  ['"public_key" as an array of bytes', (doc) => json({ ...doc, public_key: [1, 2, 3] })],
  ['"fingerprint" as null', (doc) => json({ ...doc, fingerprint: null })],
  ['"machine_id" as an object', (doc) => json({ ...doc, machine_id: { id: MACHINE_ID } })],
  ['a "machine_id" outside the grammar', (doc) => json({ ...doc, machine_id: 'machine edge 01' })],
  [
    'a "fingerprint" in upper case',
    (doc) => json({ ...doc, fingerprint: String(doc['fingerprint']).toUpperCase() }),
  ],
  [
    'a "fingerprint" one character short',
    (doc) => json({ ...doc, fingerprint: String(doc['fingerprint']).slice(1) }),
  ],
  [
    'a "public_key" with a line break',
    (doc) =>
      json({
        ...doc,
        public_key: `${String(doc['public_key']).slice(0, 76)}\n${String(doc['public_key']).slice(76)}`,
      }),
  ],
  [
    'a "public_key" without its padding',
    (doc) => json({ ...doc, public_key: String(doc['public_key']).replace(/=+$/, '') }),
  ],
  [
    'a "public_key" with non-zero pad bits',
    (doc) => json({ ...doc, public_key: withPadBits(String(doc['public_key'])) }),
  ],
  [
    'a "public_key" in the base64url alphabet',
    (doc) =>
      json({
        ...doc,
        public_key: String(doc['public_key']).replace(/\+/g, '-').replace(/\//g, '_'),
      }),
  ],
  [
    'a "public_key" with surrounding spaces',
    (doc) => json({ ...doc, public_key: ` ${String(doc['public_key'])} ` }),
  ],
];

/** Malformed handshake responses (§2.3): each must end in `malformed_response`. */
const MALFORMED_RESPONSES: [string, (response: Doc) => Response][] = [
  ['a body that is not JSON', () => raw('<html>ok</html>')],
  ['an empty body', () => raw('')],
  ['a JSON array', (response) => json([response])],
  ['JSON null', () => json(null)],
  ['JSON true', () => json(true)],
  ...(['session_id', 'key_confirmation', 'machine_id', 'fingerprint', 'alg', 'expires_at'].flatMap(
    (name) => [
      [`no "${name}"`, (response: Doc) => json(without(response, name))],
      [`"${name}" as a number`, (response: Doc) => json({ ...response, [name]: 7 })],
    ],
  ) as [string, (response: Doc) => Response][]),
  ['a "session_id" that is too short', (response) => json({ ...response, session_id: 'abc' })],
  [
    'a "session_id" that is too long',
    (response) => json({ ...response, session_id: 'a'.repeat(129) }),
  ],
  [
    'a "session_id" with a slash',
    (response) => json({ ...response, session_id: 'aaaaaaaa/../bbbbbbbb' }),
  ],
  [
    'a "session_id" with a space',
    (response) => json({ ...response, session_id: 'aaaaaaaa bbbbbbbbbb' }),
  ],
  ['an "expires_at" in words', (response) => json({ ...response, expires_at: 'in ten minutes' })],
  ['an "expires_at" without a time', (response) => json({ ...response, expires_at: '2031-05-06' })],
  [
    'an "expires_at" without a zone',
    (response) => json({ ...response, expires_at: '2031-05-06T07:09:39' }),
  ],
  [
    'an "expires_at" with a space for "T"',
    (response) => json({ ...response, expires_at: '2031-05-06 07:09:39Z' }),
  ],
  [
    'an "expires_at" with month 13',
    (response) => json({ ...response, expires_at: '2031-13-06T07:09:39Z' }),
  ],
  [
    'an "expires_at" on 30 February',
    (response) => json({ ...response, expires_at: '2031-02-30T07:09:39Z' }),
  ],
  [
    'an "expires_at" at hour 24',
    (response) => json({ ...response, expires_at: '2031-02-28T24:00:00Z' }),
  ],
  [
    'an "expires_at" as Unix seconds in a string',
    (response) => json({ ...response, expires_at: '1936336179' }),
  ],
];

/**
 * Defines the suite for one layer.
 * @param layer - how requests travel.
 * @param options - the layer's knobs.
 */
export function describeClientSuite(layer: Layer, options: SuiteOptions): void {
  describe(`client ↔ responder over ${layer.name}`, () => {
    const tempDirs: string[] = [];
    afterEach(async () => {
      await layer.cleanup();
      await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
    });

    async function tempDir(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), 'zeq-keyex-client-'));
      tempDirs.push(dir);
      return dir;
    }

    async function connect(
      handler: FetchHandler,
      clientOptions: Omit<ClientOptions, 'origin'> = {},
      basePath?: string,
    ): Promise<{ client: Client; mount: Mount }> {
      const mount = await layer.mount(handler, basePath);
      const client = createClient({
        retry: 0,
        ...clientOptions,
        ...mount.client,
        origin: mount.origin,
      });
      return { client, mount };
    }

    describe('success', () => {
      test('a pinned handshake returns the session the responder stored, with the same record key', async () => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const { client, mount } = await connect(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
        const session = await client.handshake(SLUG);

        expect(isSessionId(session.sessionId)).toBe(true);
        expect({
          slug: session.slug,
          machineId: session.machineId,
          fingerprint: session.fingerprint,
          alg: session.alg,
          authenticated: session.authenticated,
          trust: session.trust,
        }).toEqual({
          slug: SLUG,
          machineId: MACHINE_ID,
          fingerprint: f.doc.fingerprint,
          alg: ALG,
          authenticated: true,
          trust: 'pinned',
        });
        expect(session.expiresAt.getTime()).toBe(NOW + TTL_MS);
        expect(Object.isFrozen(session)).toBe(true);

        const stored = await f.sessions.get(session.sessionId);
        expect(stored).toBeDefined();
        expect({
          slug: stored?.slug,
          machineId: stored?.machineId,
          expiresAt: stored?.expiresAt,
        }).toEqual({
          slug: SLUG,
          machineId: MACHINE_ID,
          expiresAt: NOW + TTL_MS,
        });
        const recordKey = session.recordKey;
        expect(recordKey).toHaveLength(32);
        expect(isZero(recordKey)).toBe(false);
        expect(recordKey).toEqual(Uint8Array.from(stored?.recordKey ?? []));
        expect(f.sessions.created).toEqual([session.sessionId]);

        // `recordKey` hands out copies: changing one leaves the session's key alone.
        recordKey.fill(0);
        expect(session.recordKey).toEqual(Uint8Array.from(stored?.recordKey ?? []));

        expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
          `GET /api/keyex/${SLUG}/pubkey`,
          `POST /api/keyex/${SLUG}/handshake`,
        ]);
        expect(mount.sent()).toBe(2);

        session.wipe();
        expectCode(() => session.recordKey, 'session_closed');
        // The responder's copy is its own.
        expect(
          isZero((await f.sessions.get(session.sessionId))?.recordKey ?? new Uint8Array(1)),
        ).toBe(false);
      });

      test('the handshake posts the ciphertext and the pinned fingerprint, with the caller’s headers and hooks', async () => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const hooked: string[] = [];
        const observed: string[] = [];
        const { client } = await connect(s.handler, {
          pins: { [SLUG]: f.doc.fingerprint },
          headers: { 'x-app': 'acceptance' },
          hooks: {
            beforeRequest(request) {
              hooked.push(`${request.method} ${new URL(request.url).pathname}`);
              request.headers.set('x-hooked', 'yes');
            },
            async afterResponse(request, response) {
              observed.push(`${request.method} ${response.status}`);
            },
          },
        });
        await client.handshake(SLUG);
        expect(hooked).toEqual([
          `GET /api/keyex/${SLUG}/pubkey`,
          `POST /api/keyex/${SLUG}/handshake`,
        ]);
        expect(observed).toEqual(['GET 200', 'POST 200']);
        const [get, post] = s.requests;
        for (const request of [get, post]) {
          expect(request?.headers.get('x-app')).toBe('acceptance');
          expect(request?.headers.get('x-hooked')).toBe('yes');
          expect(request?.headers.get('accept')).toBe('application/json');
        }
        expect(post?.headers.get('content-type')).toMatch(/^application\/json\b/);
        const body = JSON.parse(post?.body ?? '') as Record<string, unknown>;
        expect(Object.keys(body).sort()).toEqual(['cipher_text', 'fingerprint']);
        expect(body['fingerprint']).toBe(f.doc.fingerprint);
        expect(base64Decode(body['cipher_text'], 1088)).toHaveLength(1088);
      });

      test('fetchKeyDocument discovers the fingerprint to pin without any trust setting, and posts nothing', async () => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const { client, mount } = await connect(s.handler);
        const doc = await client.fetchKeyDocument(SLUG);
        expect({ alg: doc.alg, fingerprint: doc.fingerprint, machineId: doc.machineId }).toEqual({
          alg: ALG,
          fingerprint: f.doc.fingerprint,
          machineId: MACHINE_ID,
        });
        expect(doc.publicKey).toEqual(base64Decode(f.doc.public_key, 1184));
        expect(computeFingerprint(doc.publicKey)).toBe(doc.fingerprint);
        expect(s.count('POST')).toBe(0);
        expect(mount.sent()).toBe(1);
      });

      test('a pin written for people (upper case, colon-separated) is accepted', async () => {
        const f = await makeFixture();
        const human = (f.doc.fingerprint.toUpperCase().match(/../g) ?? []).join(':');
        const { client } = await connect(f.handler, { pins: { [SLUG]: human } });
        const session = await client.handshake(SLUG);
        expect(session.fingerprint).toBe(f.doc.fingerprint);
        expect(session.trust).toBe('pinned');
      });

      test('a responder under a base path is reached through an origin with that path (trailing slash or not)', async () => {
        const f = await makeFixture({ basePath: '/zeq' });
        const s = spy(f.handler);
        const { client, mount } = await connect(
          s.handler,
          { pins: { [SLUG]: f.doc.fingerprint } },
          '/zeq',
        );
        expect(client.origin).toBe(mount.origin);
        expect((await client.handshake(SLUG)).machineId).toBe(MACHINE_ID);
        const slashed = createClient({
          retry: 0,
          ...mount.client,
          origin: `${mount.origin}/`,
          pins: { [SLUG]: f.doc.fingerprint },
        });
        expect((await slashed.handshake(SLUG)).machineId).toBe(MACHINE_ID);
        expect(new Set(s.requests.map((r) => r.path))).toEqual(
          new Set([`/zeq/api/keyex/${SLUG}/pubkey`, `/zeq/api/keyex/${SLUG}/handshake`]),
        );
      });

      test('two handshakes give two sessions with different record keys', async () => {
        const f = await makeFixture();
        const { client } = await connect(f.handler, { pins: { [SLUG]: f.doc.fingerprint } });
        const [a, b] = await Promise.all([client.handshake(SLUG), client.handshake(SLUG)]);
        expect(a.sessionId).not.toBe(b.sessionId);
        expect(a.recordKey).not.toEqual(b.recordKey);
        expect(f.sessions.created.sort()).toEqual([a.sessionId, b.sessionId].sort());
      });

      test('unknown extra fields in both answers are ignored', async () => {
        const f = await makeFixture();
        const extra = {
          version: 2,
          hint: 'ignore me',
          nested: { alg: 'X-Wing', list: [1, 2] },
          ['__proto__']: { alg: 'X-Wing' },
        };
        const handler = editHandshake(
          editDocument(f.handler, (doc) => ({ ...extra, ...doc })),
          (response) => ({ ...response, ...extra }),
        );
        const { client } = await connect(handler, { pins: { [SLUG]: f.doc.fingerprint } });
        const session = await client.handshake(SLUG);
        expect(session.alg).toBe(ALG);
        expect(session.recordKey).toEqual(
          Uint8Array.from((await f.sessions.get(session.sessionId))?.recordKey ?? []),
        );
      });

      test.each([
        ['declared in content-length', true],
        ['streamed without content-length', false],
      ])('a key document of exactly 64 KiB is accepted (%s)', async (_, declared) => {
        const f = await makeFixture();
        const handler = rewrite(f.handler, 'GET', (doc) => {
          const body = padTo(JSON.stringify(doc), MAX);
          return declared
            ? raw(body, { headers: { 'content-length': String(MAX) } })
            : raw(streamOf(body));
        });
        const { client } = await connect(handler, { pins: { [SLUG]: f.doc.fingerprint } });
        expect((await client.handshake(SLUG)).fingerprint).toBe(f.doc.fingerprint);
      });

      test('insecureUnpinned gives a confirmed session that says it is not authenticated', async () => {
        const f = await makeFixture();
        const { client } = await connect(f.handler, { insecureUnpinned: true });
        const session = await client.handshake(SLUG);
        expect({ authenticated: session.authenticated, trust: session.trust }).toEqual({
          authenticated: false,
          trust: 'unauthenticated',
        });
        expect(session.fingerprint).toBe(f.doc.fingerprint);
        expect(session.recordKey).toEqual(
          Uint8Array.from((await f.sessions.get(session.sessionId))?.recordKey ?? []),
        );
      });

      test('a pin wins over TOFU and insecureUnpinned; TOFU wins over insecureUnpinned', async () => {
        const f = await makeFixture();
        const store = createMemoryTrustStore();
        const { client } = await connect(f.handler, {
          pins: { [SLUG]: f.doc.fingerprint },
          tofu: store,
          insecureUnpinned: true,
        });
        expect((await client.handshake(SLUG)).trust).toBe('pinned');
        expect(await store.get(tofuKey(client.origin, SLUG))).toBeUndefined();
        const other = await client.handshake(OTHER_SLUG);
        expect({ trust: other.trust, machineId: other.machineId }).toEqual({
          trust: 'tofu-first-use',
          machineId: OTHER_MACHINE_ID,
        });
        expect(await store.get(tofuKey(client.origin, OTHER_SLUG))).toBe(other.fingerprint);
      });
    });

    describe('trust (spec §6), checked before anything is posted', () => {
      test.each<[string, Omit<ClientOptions, 'origin'>]>([
        ['no trust setting at all', {}],
        ['insecureUnpinned: false', { insecureUnpinned: false }],
        ['pins for another slug only', { pins: { [OTHER_SLUG]: STRANGER_FP } }],
      ])('pin_required with %s, and not one request is sent', async (_, clientOptions) => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const { client, mount } = await connect(s.handler, clientOptions);
        await rejection(client.handshake(SLUG), 'pin_required');
        expect(mount.sent()).toBe(0);
        expect(s.requests).toHaveLength(0);
      });

      test('a malformed slug is a programmer error (TypeError), and nothing is sent', async () => {
        const f = await makeFixture();
        const { client, mount } = await connect(f.handler, { insecureUnpinned: true });
        await expect(client.handshake('../admin')).rejects.toThrow(TypeError);
        await expect(client.fetchKeyDocument('a b')).rejects.toThrow(TypeError);
        expect(mount.sent()).toBe(0);
      });

      test('fingerprint_mismatch names the expected and the actual fingerprint; the handshake is never posted', async () => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const second = 'cd'.repeat(32);
        const { client } = await connect(s.handler, { pins: { [SLUG]: [STRANGER_FP, second] } });
        const error = await rejection(client.handshake(SLUG), 'fingerprint_mismatch');
        expect(error.expectedFingerprint).toBe(STRANGER_FP);
        expect(error.actualFingerprint).toBe(f.doc.fingerprint);
        expect(s.count('GET')).toBe(1);
        expect(s.count('POST')).toBe(0);
        expect(f.sessions.created).toHaveLength(0);
      });

      test('a pin set (old + new) is accepted on both sides of a key rotation; the old pin alone refuses the new key', async () => {
        const old = await makeFixture();
        const next = await makeFixture();
        expect(next.doc.fingerprint).not.toBe(old.doc.fingerprint);
        const behind = switchable(old.handler);
        const { client, mount } = await connect(behind.handler, {
          pins: { [SLUG]: [old.doc.fingerprint, next.doc.fingerprint] },
        });
        expect((await client.handshake(SLUG)).fingerprint).toBe(old.doc.fingerprint);

        behind.set(next.handler);
        const rotated = await client.handshake(SLUG);
        expect({ fingerprint: rotated.fingerprint, trust: rotated.trust }).toEqual({
          fingerprint: next.doc.fingerprint,
          trust: 'pinned',
        });
        expect(rotated.recordKey).toEqual(
          Uint8Array.from((await next.sessions.get(rotated.sessionId))?.recordKey ?? []),
        );

        const oldOnly = createClient({
          retry: 0,
          ...mount.client,
          origin: mount.origin,
          pins: { [SLUG]: old.doc.fingerprint },
        });
        const error = await rejection(oldOnly.handshake(SLUG), 'fingerprint_mismatch');
        expect({ expected: error.expectedFingerprint, actual: error.actualFingerprint }).toEqual({
          expected: old.doc.fingerprint,
          actual: next.doc.fingerprint,
        });
        expect(next.sessions.created).toEqual([rotated.sessionId]);
      });

      /** A TOFU store, how to read what it holds, and how to reopen it (a restart). */
      interface StoreKind {
        readonly name: string;
        make(): Promise<{
          store: TrustStore;
          read(key: string): Promise<string | undefined>;
          reopen(): TrustStore;
        }>;
      }
      const storeKinds: StoreKind[] = [
        {
          name: 'memory',
          async make() {
            const store = createMemoryTrustStore();
            return { store, read: (key) => store.get(key), reopen: () => store };
          },
        },
        {
          name: 'localStorage (a Web Storage stand-in)',
          async make() {
            const storage = new MemoryStorage();
            return {
              store: createLocalStorageTrustStore({ storage }),
              read: async (key) => storage.getItem(`zeq-keyex:tofu:${key}`) ?? undefined,
              reopen: () => createLocalStorageTrustStore({ storage }),
            };
          },
        },
        {
          name: 'file (temporary directory)',
          async make() {
            const path = join(await tempDir(), 'trust', 'tofu.json');
            return {
              store: createFileTrustStore(path),
              async read(key) {
                const text = await readFile(path, 'utf8').catch(() => '{}');
                const data = JSON.parse(text) as Record<string, string>;
                return Object.hasOwn(data, key) ? data[key] : undefined;
              },
              reopen: () => createFileTrustStore(path),
            };
          },
        },
      ];

      test.each(storeKinds)(
        'TOFU with the $name store: first use is remembered, then matched; a changed key is tofu_key_changed',
        async (kind) => {
          const first = await makeFixture();
          const second = await makeFixture();
          const behind = switchable(first.handler);
          const s = spy(behind.handler);
          const { store, read, reopen } = await kind.make();
          const { client, mount } = await connect(s.handler, { tofu: store });
          const key = tofuKey(client.origin, SLUG);
          expect(await read(key)).toBeUndefined();

          const firstUse = await client.handshake(SLUG);
          expect({ trust: firstUse.trust, authenticated: firstUse.authenticated }).toEqual({
            trust: 'tofu-first-use',
            authenticated: false,
          });
          expect(await read(key)).toBe(first.doc.fingerprint);

          const match = await client.handshake(SLUG);
          expect({ trust: match.trust, authenticated: match.authenticated }).toEqual({
            trust: 'tofu-match',
            authenticated: true,
          });
          const restarted = createClient({
            retry: 0,
            ...mount.client,
            origin: mount.origin,
            tofu: reopen(),
          });
          expect((await restarted.handshake(SLUG)).trust).toBe('tofu-match');

          behind.set(second.handler);
          const posts = s.count('POST');
          const error = await rejection(client.handshake(SLUG), 'tofu_key_changed');
          expect({ expected: error.expectedFingerprint, actual: error.actualFingerprint }).toEqual({
            expected: first.doc.fingerprint,
            actual: second.doc.fingerprint,
          });
          expect(s.count('POST')).toBe(posts);
          expect(second.sessions.created).toHaveLength(0);
          expect(await read(key)).toBe(first.doc.fingerprint);
          await rejection(restarted.handshake(SLUG), 'tofu_key_changed');
        },
      );

      test('the file TOFU store is private (mode 0600)', async () => {
        const f = await makeFixture();
        const path = join(await tempDir(), 'tofu.json');
        const { client } = await connect(f.handler, { tofu: createFileTrustStore(path) });
        await client.handshake(SLUG);
        expect((await stat(path)).mode & 0o777).toBe(0o600);
      });

      test('TOFU remembers per origin: the same slug at another origin is a first use again', async () => {
        const f = await makeFixture();
        const store = createMemoryTrustStore();
        const a = await connect(f.handler, { tofu: store });
        const b = await connect(f.handler, { tofu: store });
        expect(a.client.origin).not.toBe(b.client.origin);
        expect((await a.client.handshake(SLUG)).trust).toBe('tofu-first-use');
        expect((await b.client.handshake(SLUG)).trust).toBe('tofu-first-use');
        expect((await a.client.handshake(SLUG)).trust).toBe('tofu-match');
      });

      /** A broken TOFU store; `posted` says whether the handshake gets to be posted before it fails. */
      interface BrokenStore {
        readonly name: string;
        readonly posted: boolean;
        /** The error the store threw, expected as the `cause`. */
        readonly cause?: Error;
        make(origin: string): Promise<{ store: TrustStore; after?: () => Promise<void> }>;
      }
      const failure = new Error('disk on fire');
      const brokenStores: BrokenStore[] = [
        {
          name: 'get() throws',
          posted: false,
          cause: failure,
          make: async () => ({
            store: {
              get: () => Promise.reject(failure),
              putIfAbsent: (_key, fingerprint) => Promise.resolve(fingerprint),
            },
          }),
        },
        {
          name: 'get() returns garbage',
          posted: false,
          make: async () => ({
            store: {
              get: async () => 'not-a-fingerprint',
              putIfAbsent: async (_key, fingerprint) => fingerprint,
            },
          }),
        },
        {
          name: 'localStorage holds garbage',
          posted: false,
          async make(origin) {
            const storage = new MemoryStorage();
            storage.setItem(`zeq-keyex:tofu:${tofuKey(origin, SLUG)}`, '{"oops":true}');
            return { store: createLocalStorageTrustStore({ storage }) };
          },
        },
        {
          name: 'the file is not JSON (and is left untouched)',
          posted: false,
          async make() {
            const path = join(await tempDir(), 'tofu.json');
            await writeFile(path, '{ not json', { mode: 0o600 });
            return {
              store: createFileTrustStore(path),
              after: async () => expect(await readFile(path, 'utf8')).toBe('{ not json'),
            };
          },
        },
        {
          name: 'the file maps the key to a non-fingerprint (and is left untouched)',
          posted: false,
          async make(origin) {
            const path = join(await tempDir(), 'tofu.json');
            const text = JSON.stringify({ [tofuKey(origin, SLUG)]: 'zz' });
            await writeFile(path, text, { mode: 0o600 });
            return {
              store: createFileTrustStore(path),
              after: async () => expect(await readFile(path, 'utf8')).toBe(text),
            };
          },
        },
        {
          name: 'putIfAbsent() throws',
          posted: true,
          cause: failure,
          make: async () => ({
            store: { get: async () => undefined, putIfAbsent: () => Promise.reject(failure) },
          }),
        },
        {
          name: 'putIfAbsent() keeps nothing',
          posted: true,
          make: async () => ({
            store: {
              get: async () => undefined,
              putIfAbsent: (() =>
                Promise.resolve(undefined)) as unknown as TrustStore['putIfAbsent'],
            },
          }),
        },
      ];

      test.each(brokenStores)('store_error when $name', async ({ posted, cause, make }) => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const mount = await layer.mount(s.handler);
        const { store, after } = await make(mount.origin);
        const client = createClient({
          retry: 0,
          ...mount.client,
          origin: mount.origin,
          tofu: store,
        });
        const error = await rejection(client.handshake(SLUG), 'store_error');
        if (cause !== undefined) expect(error.cause).toBe(cause);
        expect(s.count('POST')).toBe(posted ? 1 : 0);
        await after?.();
      });

      test('a TOFU store that lost a first-use race to another key ends in tofu_key_changed', async () => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const store: TrustStore = {
          get: async () => undefined,
          putIfAbsent: async () => STRANGER_FP,
        };
        const { client } = await connect(s.handler, { tofu: store });
        const error = await rejection(client.handshake(SLUG), 'tofu_key_changed');
        expect({ expected: error.expectedFingerprint, actual: error.actualFingerprint }).toEqual({
          expected: STRANGER_FP,
          actual: f.doc.fingerprint,
        });
      });
    });

    describe('key document checks (spec §2.1), before anything is posted', () => {
      /** Runs a hostile key document through handshake and fetchKeyDocument; nothing may be posted. */
      async function refused(
        edit: (doc: Doc) => Response,
        code: Parameters<typeof rejection>[1],
        pin?: string,
      ) {
        const f = await makeFixture();
        const s = spy(rewrite(f.handler, 'GET', edit));
        const { client } = await connect(s.handler, { pins: { [SLUG]: pin ?? f.doc.fingerprint } });
        const fromHandshake = await rejection(client.handshake(SLUG), code);
        const fromFetch = await rejection(client.fetchKeyDocument(SLUG), code);
        expect(s.count('POST')).toBe(0);
        expect(f.sessions.created).toHaveLength(0);
        return { f, fromHandshake, fromFetch };
      }

      test('fingerprint_inconsistent when the document lies about its own fingerprint', async () => {
        const { f, fromHandshake, fromFetch } = await refused(
          (doc) => json({ ...doc, fingerprint: STRANGER_FP }),
          'fingerprint_inconsistent',
          STRANGER_FP,
        );
        for (const error of [fromHandshake, fromFetch]) {
          expect({ expected: error.expectedFingerprint, actual: error.actualFingerprint }).toEqual({
            expected: f.doc.fingerprint,
            actual: STRANGER_FP,
          });
        }
      });

      test.each(['ML-KEM-1024', 'X-Wing', 'ml-kem-768', 'ML-KEM-768 ', ''])(
        'unsupported_alg for alg %j',
        async (alg) => {
          await refused((doc) => json({ ...doc, alg }), 'unsupported_alg');
        },
      );

      test.each<[string, (doc: Doc) => Response]>([
        [
          '1183 bytes',
          (doc) =>
            json({
              ...doc,
              public_key: base64Encode(base64Decode(doc['public_key'], 1184).subarray(1)),
            }),
        ],
        [
          '1185 bytes',
          (doc) =>
            json({
              ...doc,
              public_key: base64Encode(Uint8Array.of(...base64Decode(doc['public_key'], 1184), 0)),
            }),
        ],
        ['no bytes', (doc) => json({ ...doc, public_key: '' })],
        [
          'the 1216 bytes of an X-Wing key',
          (doc) => json({ ...doc, public_key: base64Encode(new Uint8Array(1216)) }),
        ],
      ])('invalid_public_key for a key of %s', async (_, edit) => {
        await refused(edit, 'invalid_public_key');
      });

      test('invalid_public_key for a key failing the modulus check (first coefficient 4095), even with a consistent fingerprint', async () => {
        let fingerprint = '';
        await refused((doc) => {
          const key = failsModulusCheck(String(doc['public_key']));
          fingerprint = computeFingerprint(key);
          return json({ ...doc, public_key: base64Encode(key), fingerprint });
        }, 'invalid_public_key');
        expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
      });

      test.each(MALFORMED_DOCUMENTS)('malformed_response for %s', async (_, edit) => {
        await refused(edit, 'malformed_response');
      });
    });

    describe('handshake response checks (spec §2.3)', () => {
      /** Runs a hostile handshake response; the handshake was posted once, and no session is returned. */
      async function refused(
        edit: (response: Doc) => Response,
        code: Parameters<typeof rejection>[1],
      ) {
        const f = await makeFixture();
        const s = spy(rewrite(f.handler, 'POST', edit));
        const { client } = await connect(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
        const error = await rejection(client.handshake(SLUG), code);
        expect(s.count('POST')).toBe(1);
        return error;
      }

      test.each(MALFORMED_RESPONSES)('malformed_response for %s', async (_, edit) => {
        await refused(edit, 'malformed_response');
      });

      test.each<[string, (response: Doc) => Doc]>([
        ['another machine_id', (response) => ({ ...response, machine_id: OTHER_MACHINE_ID })],
        ['another fingerprint', (response) => ({ ...response, fingerprint: STRANGER_FP })],
        [
          'the fingerprint in upper case',
          (response) => ({
            ...response,
            fingerprint: String(response['fingerprint']).toUpperCase(),
          }),
        ],
        ['another alg', (response) => ({ ...response, alg: 'ML-KEM-1024' })],
      ])('response_mismatch when the response names %s', async (_, edit) => {
        await refused((response) => json(edit(response)), 'response_mismatch');
      });

      test('confirmation_failed from a responder that seals under a wrong key; the same responder with the right key works', async () => {
        const control = await connect(foreignResponder({ wrongKey: false }), {});
        const controlDoc = await control.client.fetchKeyDocument(SLUG);
        const pinnedControl = createClient({
          retry: 0,
          ...control.mount.client,
          origin: control.mount.origin,
          pins: { [SLUG]: controlDoc.fingerprint },
        });
        expect((await pinnedControl.handshake(SLUG)).trust).toBe('pinned');

        const hostile = await connect(foreignResponder({ wrongKey: true }), {});
        const hostileDoc = await hostile.client.fetchKeyDocument(SLUG);
        const pinnedHostile = createClient({
          retry: 0,
          ...hostile.mount.client,
          origin: hostile.mount.origin,
          pins: { [SLUG]: hostileDoc.fingerprint },
        });
        await rejection(pinnedHostile.handshake(SLUG), 'confirmation_failed');
      });

      test.each<[string, (response: Doc) => Doc]>([
        [
          'one flipped bit',
          (response) => {
            const bytes = base64Decode(response['key_confirmation']);
            bytes[20] = (bytes[20] as number) ^ 0x01;
            return { ...response, key_confirmation: base64Encode(bytes) };
          },
        ],
        [
          'another session_id (the confirmation binds it)',
          (response) => ({ ...response, session_id: 'another-session-0001' }),
        ],
        [
          'a confirmation that is not base64',
          (response) => ({ ...response, key_confirmation: 'not base64!' }),
        ],
        [
          'a truncated confirmation',
          (response) => ({
            ...response,
            key_confirmation: base64Encode(
              base64Decode(response['key_confirmation']).subarray(0, 40),
            ),
          }),
        ],
        ['an empty confirmation', (response) => ({ ...response, key_confirmation: '' })],
      ])('confirmation_failed for %s', async (_, edit) => {
        await refused((response) => json(edit(response)), 'confirmation_failed');
      });
    });

    describe('response size limit (spec §2.1: 64 KiB)', () => {
      test.each([
        ['declared in content-length', true],
        ['streamed without content-length', false],
      ])(
        'response_too_large for a key document of 64 KiB + 1 (%s)',
        async (_, declared) => {
          const f = await makeFixture();
          const s = spy(
            rewrite(f.handler, 'GET', (doc) => {
              const body = padTo(JSON.stringify(doc), MAX + 1);
              return declared
                ? raw(body, { headers: { 'content-length': String(MAX + 1) } })
                : raw(streamOf(body));
            }),
          );
          const { client } = await connect(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
          await rejection(client.handshake(SLUG), 'response_too_large');
          await rejection(client.fetchKeyDocument(SLUG), 'response_too_large');
          expect(s.count('POST')).toBe(0);
        },
        10_000,
      );

      test('response_too_large for a huge declared body, refused without reading it', async () => {
        const body = countingBody(64 * 1024 * 1024);
        const { client } = await connect(
          async () => raw(body.stream, { headers: { 'content-length': String(64 * 1024 * 1024) } }),
          { insecureUnpinned: true },
        );
        await rejection(client.handshake(SLUG), 'response_too_large');
        expect(body.pulled()).toBeLessThanOrEqual(CHUNK_BYTES + options.bufferedBytes);
      }, 10_000);

      test('response_too_large for an endless body without content-length, reading little beyond 64 KiB', async () => {
        const body = countingBody(64 * 1024 * 1024);
        const { client } = await connect(async () => raw(body.stream), { insecureUnpinned: true });
        await rejection(client.handshake(SLUG), 'response_too_large');
        expect(body.pulled()).toBeGreaterThan(MAX);
        expect(body.pulled()).toBeLessThanOrEqual(MAX + 2 * CHUNK_BYTES + options.bufferedBytes);
      }, 10_000);

      test('response_too_large for a handshake response of 64 KiB + 1', async () => {
        const f = await makeFixture();
        const s = spy(
          rewrite(f.handler, 'POST', (response) => raw(padTo(JSON.stringify(response), MAX + 1))),
        );
        const { client } = await connect(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
        await rejection(client.handshake(SLUG), 'response_too_large');
        expect(s.count('POST')).toBe(1);
      }, 10_000);
    });

    describe('HTTP and transport failures', () => {
      test('http_error 404 unknown_machine for a slug the responder does not serve', async () => {
        const f = await makeFixture();
        const { client } = await connect(f.handler, { pins: { 'edge-99': STRANGER_FP } });
        const error = await rejection(client.handshake('edge-99'), 'http_error');
        expect({ status: error.status, responseCode: error.responseCode }).toEqual({
          status: 404,
          responseCode: 'unknown_machine',
        });
        const fromFetch = await rejection(client.fetchKeyDocument('edge-99'), 'http_error');
        expect(fromFetch.status).toBe(404);
      });

      test('http_error 409 key_mismatch when the key changed between the key document and the handshake', async () => {
        const old = await makeFixture();
        const next = await makeFixture();
        const { client } = await connect(only('GET', old.handler, next.handler), {
          pins: { [SLUG]: old.doc.fingerprint },
        });
        const error = await rejection(client.handshake(SLUG), 'http_error');
        expect({ status: error.status, responseCode: error.responseCode }).toEqual({
          status: 409,
          responseCode: 'key_mismatch',
        });
        expect(next.sessions.created).toHaveLength(0);
      });

      test('http_error 409 replayed_handshake when the handshake reaches the responder twice', async () => {
        const f = await makeFixture();
        const { client } = await connect(replayHandshake(f.handler), {
          pins: { [SLUG]: f.doc.fingerprint },
        });
        const error = await rejection(client.handshake(SLUG), 'http_error');
        expect({ status: error.status, responseCode: error.responseCode }).toEqual({
          status: 409,
          responseCode: 'replayed_handshake',
        });
        expect(f.sessions.created).toHaveLength(1);
        // The replay memory refuses it before the session store is asked (spec §2.3, revision 2).
        expect(f.sessions.replayed).toBe(0);
      });

      test('http_error 500 internal from a closed responder', async () => {
        const f = await makeFixture();
        f.responder.close();
        const { client } = await connect(f.handler, { pins: { [SLUG]: f.doc.fingerprint } });
        const error = await rejection(client.handshake(SLUG), 'http_error');
        expect({ status: error.status, responseCode: error.responseCode }).toEqual({
          status: 500,
          responseCode: 'internal',
        });
      });

      test.each<[string, Response, number]>([
        [
          'a 503 with a non-JSON body',
          raw('Service Unavailable', { status: 503, headers: { 'content-type': 'text/plain' } }),
          503,
        ],
        [
          'a code that is not a plain code',
          json({ error: 'Not A Code', message: 'x' }, { status: 400 }),
          400,
        ],
        ['a code longer than 64 characters', json({ error: 'a'.repeat(65) }, { status: 400 }), 400],
        ['a code that is not a string', json({ error: 42 }, { status: 418 }), 418],
      ])('http_error without a responseCode for %s', async (_, response, status) => {
        const { client } = await connect(async () => response.clone(), { insecureUnpinned: true });
        const error = await rejection(client.handshake(SLUG), 'http_error');
        expect({ status: error.status, responseCode: error.responseCode }).toEqual({
          status,
          responseCode: undefined,
        });
      });

      test('http_error 429 rate_limited on the handshake', async () => {
        const f = await makeFixture();
        const s = spy(
          only('GET', f.handler, async () =>
            json({ error: 'rate_limited', message: 'slow down' }, { status: 429 }),
          ),
        );
        const { client } = await connect(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
        const error = await rejection(client.handshake(SLUG), 'http_error');
        expect({ status: error.status, responseCode: error.responseCode }).toEqual({
          status: 429,
          responseCode: 'rate_limited',
        });
        expect(s.count('POST')).toBe(1);
      });

      test('network_error when the responder cannot be reached', async () => {
        const { origin, client: reach } = await layer.unreachable();
        const client = createClient({ retry: 0, ...reach, origin, insecureUnpinned: true });
        await rejection(client.handshake(SLUG), 'network_error');
        await rejection(client.fetchKeyDocument(SLUG), 'network_error');
      });

      test('network_error when the key document breaks off mid-body', async () => {
        const { client } = await connect(breaksBody, { insecureUnpinned: true });
        await rejection(client.handshake(SLUG), 'network_error');
      });

      test('network_error when the handshake response breaks off mid-body', async () => {
        const f = await makeFixture();
        const s = spy(only('GET', f.handler, breaksBody));
        const { client } = await connect(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
        await rejection(client.handshake(SLUG), 'network_error');
        expect(s.count('POST')).toBe(1);
      });

      test.each<[string, (f: { handler: FetchHandler }) => FetchHandler, number]>([
        ['the key document never comes', () => neverAnswers, 0],
        ['the key document stalls after its first bytes', () => stallsBody, 0],
        ['the handshake response never comes', (f) => only('GET', f.handler, neverAnswers), 1],
        [
          'the handshake response stalls after its first bytes',
          (f) => only('GET', f.handler, stallsBody),
          1,
        ],
      ])('timeout when %s', async (_, make, posts) => {
        const f = await makeFixture();
        const s = spy(make(f));
        const { client } = await connect(s.handler, {
          pins: { [SLUG]: f.doc.fingerprint },
          timeoutMs: TIMEOUT_MS,
        });
        const started = performance.now();
        await rejection(client.handshake(SLUG), 'timeout');
        const elapsed = performance.now() - started;
        expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
        expect(elapsed).toBeLessThan(5_000);
        expect(s.count('POST')).toBe(posts);
      });

      /** A handler that tells the test when a request of `method` arrived, then never answers it. */
      function arrival(
        method: 'GET' | 'POST',
        inner: FetchHandler,
      ): { handler: FetchHandler; arrived: Promise<void> } {
        let arrive: () => void = () => undefined;
        const arrived = new Promise<void>((resolve) => {
          arrive = resolve;
        });
        return {
          arrived,
          handler: (request) => {
            if (request.method !== method) return inner(request);
            arrive();
            return neverAnswers(request);
          },
        };
      }

      test('aborted when the call’s signal fires while the key document is awaited', async () => {
        const f = await makeFixture();
        const { handler, arrived } = arrival('GET', f.handler);
        const { client } = await connect(handler, { pins: { [SLUG]: f.doc.fingerprint } });
        const controller = new AbortController();
        const pending = client.handshake(SLUG, { signal: controller.signal });
        await arrived;
        controller.abort();
        await rejection(pending, 'aborted');
      });

      test('aborted, with nothing posted, for a signal aborted before the call (with a reason of its own)', async () => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const { client } = await connect(s.handler, { pins: { [SLUG]: f.doc.fingerprint } });
        await rejection(
          client.handshake(SLUG, { signal: AbortSignal.abort(new Error('user left')) }),
          'aborted',
        );
        await rejection(client.fetchKeyDocument(SLUG, { signal: AbortSignal.abort() }), 'aborted');
        expect(s.count('POST')).toBe(0);
        expect(f.sessions.created).toHaveLength(0);
      });

      test('aborted when the client’s own signal fires while the handshake response is awaited', async () => {
        const f = await makeFixture();
        const s = spy(f.handler);
        const { handler, arrived } = arrival('POST', s.handler);
        const controller = new AbortController();
        const { client } = await connect(handler, {
          pins: { [SLUG]: f.doc.fingerprint },
          signal: controller.signal,
        });
        const pending = client.handshake(SLUG);
        await arrived;
        controller.abort();
        await rejection(pending, 'aborted');
        expect(s.count('GET')).toBe(1);
      });
    });

    describe('retries: the GET may be retried, the POST never is', () => {
      test('a key document that fails once with 503 is fetched again (retry: 2)', async () => {
        const f = await makeFixture();
        const s = spy(failFirst(f.handler, 'GET', 1, 503));
        const { client } = await connect(s.handler, {
          pins: { [SLUG]: f.doc.fingerprint },
          retry: 2,
        });
        const session = await client.handshake(SLUG);
        expect(session.fingerprint).toBe(f.doc.fingerprint);
        expect(s.count('GET')).toBe(2);
        expect(s.count('POST')).toBe(1);
      });

      test('with retry: 0 a 503 key document is an http_error after one request', async () => {
        const f = await makeFixture();
        const s = spy(failFirst(f.handler, 'GET', 1, 503));
        const { client } = await connect(s.handler, {
          pins: { [SLUG]: f.doc.fingerprint },
          retry: 0,
        });
        const error = await rejection(client.handshake(SLUG), 'http_error');
        expect(error.status).toBe(503);
        expect(s.count('GET')).toBe(1);
      });

      test('a handshake answered with 503 is not posted again, even with retry: 2', async () => {
        const f = await makeFixture();
        const s = spy(failFirst(f.handler, 'POST', 1, 503));
        const { client } = await connect(s.handler, {
          pins: { [SLUG]: f.doc.fingerprint },
          retry: 2,
        });
        const error = await rejection(client.handshake(SLUG), 'http_error');
        expect({ status: error.status, responseCode: error.responseCode }).toEqual({
          status: 503,
          responseCode: 'internal',
        });
        expect(s.count('POST')).toBe(1);
        expect(f.sessions.created).toHaveLength(0);
      });

      test('a handshake whose response breaks off is not posted again, even with retry: 2', async () => {
        const f = await makeFixture();
        const s = spy(only('GET', f.handler, breaksBody));
        const { client } = await connect(s.handler, {
          pins: { [SLUG]: f.doc.fingerprint },
          retry: 2,
        });
        await rejection(client.handshake(SLUG), 'network_error');
        expect(s.count('POST')).toBe(1);
      });
    });
  });
}
