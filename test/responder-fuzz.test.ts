/**
 * Fuzzing the responder's fetch handler (the open-internet issue, spec revision 2): random request
 * sequences — methods, paths, headers, bodies, valid and invalid handshakes and records — against
 * one responder with observed stores. Every response is a 200 or a §7 error with a known code
 * (never a 500); no secret (the field key, any record key) appears in a body or a log line; a
 * refused request changes no stored state (keys, live sessions, remembered replay tags); and
 * after any sequence every store stays within its bound.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { createResponder } from '../src/responder.js';
import { type RecordChannel, createRecordChannel } from '../src/core/record-channel.js';
import { FIELD_KEY, ORIGIN, observedKeyStore, recordingLogger } from './helpers/responder.js';
import {
  type CapturedSession,
  capturingSessionStore,
  checkResponse,
  countingReplayMemory,
  expectNoSecret,
} from './helpers/fuzz.js';
import { hex } from './helpers/vectors.js';

const MACHINES = { 'edge-01': 'machine:edge-01', 'core-02': 'machine:core-02' };
const MAX_SESSIONS = 5;
const MAX_TAGS = 7;
const TTL_MS = 60_000;
const START = 1_800_000_000_000;

const slug = fc.constantFrom(
  'edge-01',
  'core-02',
  'unknown-03',
  'EDGE-01',
  'a',
  '..',
  '%2e%2e',
  'edge-01%2F',
  'x'.repeat(300),
  '',
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');
const contentType = fc.option(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'application/octet-stream',
    'text/plain',
    'application/json, text/plain',
    'multipart/form-data; boundary=x',
  ),
  { nil: undefined },
);
const contentLength = fc.option(
  fc.constantFrom('0', '1', '12', '-1', '1e3', ' 8 ', '99999999999999999999', 'abc'),
  { nil: undefined },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.json({ maxDepth: 2 }),
  fc.uint8Array({ maxLength: 256 }),
  fc.constant('{"cipher_text":' + '"A",'.repeat(3000) + '"x":1}'),
);
const routePath = fc.oneof(
  slug.map((s) => `/api/keyex/${s}/pubkey`),
  slug.map((s) => `/api/keyex/${s}/handshake`),
  fc
    .tuple(slug, fc.stringMatching(/^[A-Za-z0-9_-]{0,44}$/))
    .map(([s, id]) => `/api/keyex/${s}/sessions/${id}/records`),
  fc.constantFrom(
    '/',
    '/api',
    '/api/keyex',
    '/api/keyex/edge-01',
    '/api/keyex/edge-01/pubkey/',
    '/api/keyex/edge-01/pubkey?x=1',
    '/api/keyex//pubkey',
    '/api/keyex/edge-01/../core-02/pubkey',
    '/api/ssl/peer-seed/keyex/initiate',
    '/api/ssl/peer-seed/keyex/respond',
  ),
  fc.webPath(),
  fc.string({ maxLength: 40 }).map((s) => `/${s}`),
);

/** One step of an attack. */
type Step =
  | {
      kind: 'raw';
      method: string;
      path: string;
      contentType: string | undefined;
      contentLength: string | undefined;
      body: string | Uint8Array | undefined;
    }
  | { kind: 'pubkey'; slug: string }
  | {
      kind: 'handshake';
      slug: string;
      cipherText: 'random' | 'replay' | 'short' | 'garbage';
      fingerprint: 'right' | 'wrong' | 'absent' | 'malformed';
      contentType: string;
    }
  | {
      kind: 'record';
      session: number;
      slug: 'own' | 'other';
      record: 'valid' | 'flipped' | 'truncated' | 'replay' | 'random' | 'empty';
      contentType: string;
    }
  | { kind: 'tick'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      method,
      path: routePath,
      contentType,
      contentLength,
      body,
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('pubkey' as const), slug }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('handshake' as const),
      slug: fc.constantFrom('edge-01', 'edge-01', 'core-02', 'unknown-03'),
      cipherText: fc.constantFrom(
        'random',
        'random',
        'random',
        'replay',
        'replay',
        'short',
        'garbage',
      ),
      fingerprint: fc.constantFrom('right', 'right', 'absent', 'wrong', 'malformed'),
      contentType: fc.constantFrom(
        'application/json',
        'application/json',
        'application/json',
        'text/plain',
      ),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('record' as const),
      session: fc.nat(20),
      slug: fc.constantFrom('own', 'own', 'other'),
      record: fc.constantFrom(
        'valid',
        'valid',
        'flipped',
        'truncated',
        'replay',
        'random',
        'empty',
      ),
      contentType: fc.constantFrom(
        'application/octet-stream',
        'application/octet-stream',
        'application/json',
      ),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.constantFrom(500, 5_000, TTL_MS / 2),
    }),
    weight: 1,
  },
);

/** Everything the responder of one run holds, as the test observes it. */
function harness() {
  let at = START;
  const now = (): number => at;
  const keyStore = observedKeyStore();
  const sessionStore = capturingSessionStore({ maxSessions: MAX_SESSIONS, now });
  const replayMemory = countingReplayMemory({ maxTags: MAX_TAGS, now });
  const logger = recordingLogger();
  const responder = createResponder({
    fieldKey: FIELD_KEY,
    machines: MACHINES,
    keyStore,
    sessionStore,
    replayMemory,
    sessionTtlMs: TTL_MS,
    logger,
    now,
    onRecord: (plaintext) => plaintext.slice().reverse(),
  });
  return {
    responder,
    keyStore,
    sessionStore,
    replayMemory,
    logger,
    now,
    advance(ms: number) {
      at += ms;
    },
    async snapshot(): Promise<string> {
      return JSON.stringify({
        keys: keyStore.snapshot(),
        sessions: await sessionStore.liveIds(at),
        tags: replayMemory.liveIds(at),
      });
    },
  };
}
type Harness = ReturnType<typeof harness>;

/** What the attacker has seen: key fingerprints, accepted ciphertexts, sessions and records. */
interface Attacker {
  readonly fingerprints: Map<string, string>;
  readonly cipherTexts: string[];
  readonly sessions: { captured: CapturedSession; channel: RecordChannel; last?: Uint8Array }[];
}

function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

function request(
  path: string,
  method: string,
  headers: Record<string, string>,
  body: BodyInit | undefined,
): Request | undefined {
  try {
    return new Request(ORIGIN + path, {
      method,
      headers,
      ...(body === undefined || method === 'GET' || method === 'HEAD' ? {} : { body }),
    });
  } catch {
    return undefined; // not a request a client could send (e.g. a forbidden header value)
  }
}

function handshakeBody(
  s: Extract<Step, { kind: 'handshake' }>,
  attacker: Attacker,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (s.cipherText === 'random')
    fields['cipher_text'] = Buffer.from(randomBytes(1088)).toString('base64');
  else if (s.cipherText === 'replay')
    fields['cipher_text'] =
      attacker.cipherTexts.at(-1) ?? Buffer.from(randomBytes(1088)).toString('base64');
  else if (s.cipherText === 'short')
    fields['cipher_text'] = Buffer.from(randomBytes(1087)).toString('base64');
  else fields['cipher_text'] = 'not base64!';
  const known = attacker.fingerprints.get(s.slug);
  if (s.fingerprint === 'right' && known !== undefined) fields['fingerprint'] = known;
  else if (s.fingerprint === 'wrong') fields['fingerprint'] = 'ab'.repeat(32);
  else if (s.fingerprint === 'malformed') fields['fingerprint'] = 'AB';
  return fields;
}

function recordBody(
  s: Extract<Step, { kind: 'record' }>,
  target: Attacker['sessions'][number] | undefined,
): Uint8Array {
  if (target === undefined || s.record === 'random') return randomBytes(64);
  if (s.record === 'empty') return new Uint8Array(0);
  if (s.record === 'replay' && target.last !== undefined) return target.last;
  const sealed = target.channel.seal(randomBytes(16));
  if (s.record === 'flipped') {
    const index = sealed.length - 1 - ((sealed[0] ?? 0) % 16);
    sealed[index] = (sealed[index] ?? 0) ^ 1;
  }
  if (s.record === 'truncated') return sealed.subarray(0, sealed.length - 1);
  return sealed;
}

/** Sends one step; returns the response, or undefined for a step that sends nothing. */
async function send(h: Harness, attacker: Attacker, s: Step): Promise<Response | undefined> {
  const { fetch } = h.responder;
  switch (s.kind) {
    case 'tick':
      h.advance(s.ms);
      return undefined;
    case 'raw': {
      const headers: Record<string, string> = {};
      if (s.contentType !== undefined) headers['content-type'] = s.contentType;
      if (s.contentLength !== undefined) headers['content-length'] = s.contentLength;
      const req = request(s.path, s.method, headers, s.body as BodyInit | undefined);
      return req === undefined ? undefined : fetch(req);
    }
    case 'pubkey': {
      const req = request(`/api/keyex/${s.slug}/pubkey`, 'GET', {}, undefined);
      return req === undefined ? undefined : fetch(req);
    }
    case 'handshake': {
      const fields = handshakeBody(s, attacker);
      const req = request(
        `/api/keyex/${s.slug}/handshake`,
        'POST',
        { 'content-type': s.contentType },
        JSON.stringify(fields),
      );
      if (req === undefined) return undefined;
      const response = await fetch(req);
      if (response.status === 200) attacker.cipherTexts.push(fields['cipher_text'] as string);
      return response;
    }
    case 'record': {
      const target = attacker.sessions[s.session % Math.max(1, attacker.sessions.length)];
      const sessionSlug =
        target === undefined ? 'edge-01' : s.slug === 'own' ? target.captured.slug : 'core-02';
      const sessionId = target?.captured.sessionId ?? 'AAAAAAAAAAAAAAAAAAAAAA';
      const record = recordBody(s, target);
      if (target !== undefined) target.last = record;
      const req = request(
        `/api/keyex/${sessionSlug}/sessions/${sessionId}/records`,
        'POST',
        { 'content-type': s.contentType },
        record as BodyInit,
      );
      return req === undefined ? undefined : fetch(req);
    }
  }
}

/** After a 200, what the attacker learns: a key's fingerprint, or a session it can use. */
async function learn(h: Harness, attacker: Attacker, s: Step, bytes: Uint8Array): Promise<void> {
  if (s.kind === 'pubkey') {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { fingerprint: string };
    attacker.fingerprints.set(s.slug, doc.fingerprint);
  }
  if (s.kind === 'handshake') {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { session_id: string };
    const captured = h.sessionStore.captured.get(doc.session_id);
    expect(captured).toBeDefined();
    if (captured === undefined) return;
    const channel = createRecordChannel(
      Uint8Array.from(captured.recordKey),
      captured.sessionId,
      'initiator',
      { now: h.now },
    );
    attacker.sessions.push({ captured, channel });
  }
  await Promise.resolve();
}

/** Every secret the responder of a run has held: the field key and each record key. */
function secrets(h: Harness): Uint8Array[] {
  return [hex(FIELD_KEY), ...[...h.sessionStore.captured.values()].map((s) => s.recordKey)];
}

describe('random request sequences against the fetch handler', () => {
  test.prop([fc.boolean(), fc.array(step, { minLength: 1, maxLength: 50, size: 'max' })], {
    numRuns: 150,
  })(
    'never a 500, no secret out, no state change after a 4xx, stores within bounds',
    async (keysFirst, steps) => {
      const h = harness();
      const attacker: Attacker = { fingerprints: new Map(), cipherTexts: [], sessions: [] };
      const bodies: Uint8Array[] = [];
      try {
        // Most attacks start from the key documents anyone can fetch; some start cold.
        if (keysFirst)
          for (const known of Object.keys(MACHINES))
            attacker.fingerprints.set(known, (await h.responder.keyDocument(known)).fingerprint);
        for (const s of steps) {
          const before = await h.snapshot();
          const response = await send(h, attacker, s);
          if (response === undefined) continue;
          const { bytes } = await checkResponse(response);
          bodies.push(bytes);
          if (response.status >= 400) expect(await h.snapshot()).toBe(before);
          if (response.status === 200) await learn(h, attacker, s, bytes);
        }
        const at = h.now();
        expect((await h.sessionStore.liveIds(at)).length).toBeLessThanOrEqual(MAX_SESSIONS);
        expect(h.replayMemory.liveIds(at).length).toBeLessThanOrEqual(MAX_TAGS);
        expect(h.keyStore.writes.length).toBeLessThanOrEqual(Object.keys(MACHINES).length);
        const held = secrets(h);
        for (const bytes of bodies) expectNoSecret(bytes, held);
        expectNoSecret(Buffer.from(h.logger.text()), held);
      } finally {
        h.responder.close();
      }
    },
  );
});
