/**
 * Fault injection (the open-internet issue, spec §7 revision 2): the key store, session store and
 * replay memory given to a responder throw, reject, hang (bounded by a small `storeTimeoutMs`),
 * answer slowly within the limit or answer after it, chosen at random per call, while clients
 * fetch key documents, make handshakes (fresh and replayed) and send records. Every answer is a
 * normal one or `503 unavailable` (never a 500); a slug never gets a second key pair (every
 * fingerprint served is the stored one); once every late call has acted, no session is stored
 * without its replay tag, every session answered 200 is stored, and no secret left the responder.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { createResponder } from '../src/responder.js';
import { type RecordChannel, createRecordChannel } from '../src/core/record-channel.js';
import { computeFingerprint } from '../src/core/fingerprint.js';
import { base64Decode } from '../src/core/encoding.js';
import {
  FIELD_KEY,
  ORIGIN,
  OTHER_FIELD_KEY,
  observedKeyStore,
  recordingLogger,
} from './helpers/responder.js';
import {
  FAULTS,
  type Fault,
  capturingSessionStore,
  checkResponse,
  countingReplayMemory,
  expectNoSecret,
  faultPlan,
  faultyKeyStore,
  faultyReplayMemory,
  faultySeedStore,
  faultySessionStore,
} from './helpers/fuzz.js';
import {
  INITIATE,
  ORIGIN_A,
  ORIGIN_B,
  TOKEN_A,
  adminRequest,
  bearer,
  observedSeedStore,
  twoResponders,
} from './helpers/modeb.js';
import { unsealStoredSeed } from '../src/responder/seed-store.js';
import { hex } from './helpers/vectors.js';

const MACHINES = { 'edge-01': 'machine:edge-01', 'core-02': 'machine:core-02' };
const SLUGS = Object.keys(MACHINES);
/** Short, so that a hanging store is given up on quickly; no assertion depends on durations. */
const STORE_TIMEOUT_MS = 15;
/** A late call acts this long after it was made: after the responder gave up on it. */
const LATE_MS = 25;
const START = 1_800_000_000_000;

type Step =
  | { kind: 'pubkey'; slug: string }
  | { kind: 'handshake'; slug: string; replay: boolean }
  | { kind: 'record'; session: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('pubkey' as const), slug: fc.constantFrom(...SLUGS) }),
  {
    arbitrary: fc.record({
      kind: fc.constant('handshake' as const),
      slug: fc.constantFrom(...SLUGS),
      replay: fc.boolean(),
    }),
    weight: 2,
  },
  fc.record({ kind: fc.constant('record' as const), session: fc.nat(20) }),
);

/** Mostly working stores, so that sequences get far enough to meet faults in every call. */
const fault: fc.Arbitrary<Fault> = fc.oneof(
  { arbitrary: fc.constant('ok' as const), weight: 1 },
  fc.constantFrom(...FAULTS),
);

function post(path: string, contentType: string, body: BodyInit): Request {
  return new Request(ORIGIN + path, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
}

describe('stores that throw, hang or answer slowly, at random per call', () => {
  test.prop(
    [
      fc.array(fault, { minLength: 1, maxLength: 40 }),
      fc.array(step, { minLength: 1, maxLength: 20 }),
    ],
    { numRuns: 60 },
  )(
    'only normal answers or 503; one key pair per slug; no session without its replay tag',
    async (faults, attack) => {
      // Clients fetch the key documents first, as they do (these requests meet faults too).
      const steps: Step[] = [
        ...SLUGS.map((slug) => ({ kind: 'pubkey' as const, slug })),
        ...attack,
      ];
      const now = (): number => START;
      const plan = faultPlan(faults, 0, LATE_MS);
      const keys = observedKeyStore();
      const sessions = capturingSessionStore({ maxSessions: 1_000, now });
      const tags = countingReplayMemory({ maxTags: 1_000, now });
      const logger = recordingLogger();
      const responder = createResponder({
        fieldKey: FIELD_KEY,
        machines: MACHINES,
        keyStore: faultyKeyStore(keys, plan),
        sessionStore: faultySessionStore(sessions, plan),
        replayMemory: faultyReplayMemory(tags, plan),
        storeTimeoutMs: STORE_TIMEOUT_MS,
        logger,
        now,
        onRecord: (plaintext) => plaintext.slice().reverse(),
      });
      /** Every fingerprint served for each slug. */
      const served = new Map<string, Set<string>>(SLUGS.map((slug) => [slug, new Set()]));
      const accepted: string[] = [];
      const cipherTexts: string[] = [];
      const open: { id: string; slug: string; channel: RecordChannel }[] = [];
      const bodies: Uint8Array[] = [];
      try {
        for (const s of steps) {
          let response: Response;
          if (s.kind === 'pubkey') {
            response = await responder.fetch(new Request(`${ORIGIN}/api/keyex/${s.slug}/pubkey`));
          } else if (s.kind === 'handshake') {
            const cipherText =
              (s.replay ? cipherTexts.at(-1) : undefined) ??
              Buffer.from(crypto.getRandomValues(new Uint8Array(1088))).toString('base64');
            response = await responder.fetch(
              post(
                `/api/keyex/${s.slug}/handshake`,
                'application/json',
                JSON.stringify({ cipher_text: cipherText }),
              ),
            );
            if (response.status === 200) cipherTexts.push(cipherText);
          } else {
            const target = open[s.session % Math.max(1, open.length)];
            if (target === undefined) continue;
            const record = target.channel.seal(crypto.getRandomValues(new Uint8Array(8)));
            response = await responder.fetch(
              post(
                `/api/keyex/${target.slug}/sessions/${target.id}/records`,
                'application/octet-stream',
                record as BodyInit,
              ),
            );
          }
          const { bytes, code } = await checkResponse(response);
          bodies.push(bytes);
          if (response.status === 200 && s.kind !== 'record') {
            const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
              fingerprint: string;
              session_id?: string;
            };
            served.get(s.slug)?.add(doc.fingerprint);
            if (doc.session_id !== undefined) {
              accepted.push(doc.session_id);
              const captured = sessions.captured.get(doc.session_id);
              if (captured !== undefined)
                open.push({
                  id: captured.sessionId,
                  slug: captured.slug,
                  channel: createRecordChannel(
                    Uint8Array.from(captured.recordKey),
                    captured.sessionId,
                    'initiator',
                    { now },
                  ),
                });
            }
          }
          // Besides 503, only what a working responder answers these requests.
          if (response.status !== 200 && response.status !== 503) {
            expect(s.kind).toBe('handshake');
            expect(['key_mismatch', 'replayed_handshake']).toContain(code);
          }
        }
        await plan.settle();

        // One key pair per slug: whatever was served is what the store holds.
        const stored = JSON.parse(keys.snapshot()) as [string, { publicKey: string }][];
        for (const [slug, fingerprints] of served) {
          expect(fingerprints.size).toBeLessThanOrEqual(1);
          const record = stored.find(([s]) => s === slug)?.[1];
          // A key written after its call timed out may be stored without having been served.
          if (fingerprints.size > 0) {
            expect(record).toBeDefined();
            expect(fingerprints).toContain(
              computeFingerprint(base64Decode(record?.publicKey ?? '', 1184)),
            );
          }
        }
        // No session without its replay tag; every session answered 200 is stored.
        const live = await sessions.liveIds(START);
        const remembered = new Set(tags.liveIds(START));
        for (const id of live) expect(remembered).toContain(sessions.captured.get(id)?.tagId);
        for (const id of accepted) expect(live).toContain(id);
        // Store failures are logged by code, never as unexpected.
        for (const line of logger.lines) expect(line.fields?.['code']).not.toBe('unexpected');
        const secrets = [
          hex(FIELD_KEY),
          ...[...sessions.captured.values()].map((s) => s.recordKey),
        ];
        for (const bytes of bodies) expectNoSecret(bytes, secrets);
        expectNoSecret(Buffer.from(logger.text()), secrets);
      } finally {
        responder.close();
      }
    },
  );
});

describe('a Mode-B seed store that throws, hangs or answers late, at random per call', () => {
  test.prop([fc.array(fault, { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 6 })], {
    numRuns: 15,
  })(
    'initiate answers 200 or 503 only; what is stored is a whole sealed seed; no seed out',
    async (faults, rounds) => {
      const plan = faultPlan(faults, 0, LATE_MS);
      const seeds = observedSeedStore();
      const pair = twoResponders({
        extraA: { seedStore: faultySeedStore(seeds, plan), storeTimeoutMs: STORE_TIMEOUT_MS },
      });
      const bodies: Uint8Array[] = [];
      try {
        const pin = (await pair.b.keyDocument('core-01')).fingerprint;
        for (let round = 0; round < rounds; round++) {
          const response = await pair.a.fetch(
            adminRequest(
              ORIGIN_A,
              INITIATE,
              {
                local_machine: 'edge-01',
                peer_origin: ORIGIN_B,
                peer_machine: 'core-01',
                expected_fingerprint: pin,
              },
              bearer(TOKEN_A),
            ),
          );
          const { bytes } = await checkResponse(response);
          bodies.push(bytes);
          expect([200, 503]).toContain(response.status);
        }
        await plan.settle();
        const stored = await seeds.get('machine:edge-01', 'machine:core-01');
        const secrets = [hex(FIELD_KEY), hex(OTHER_FIELD_KEY)];
        if (stored !== undefined) secrets.push(unsealStoredSeed(FIELD_KEY, stored));
        for (const put of seeds.puts) secrets.push(unsealStoredSeed(FIELD_KEY, put));
        for (const bytes of bodies) expectNoSecret(bytes, secrets);
        expectNoSecret(Buffer.from(pair.logA.text() + pair.logB.text()), secrets);
        for (const line of pair.logA.lines) expect(line.fields?.['code']).not.toBe('unexpected');
      } finally {
        pair.a.close();
        pair.b.close();
      }
    },
  );
});
