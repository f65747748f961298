/**
 * Properties of the Mode-B surfaces facing untrusted input: the endpoints answer any JSON body with
 * a documented §7 code (never `500`, never `200` for a malformed request) and store nothing; the
 * bearer check gives one of its three answers for any header; the admin client's response checks
 * throw only their documented codes; a stored seed with any altered field does not open.
 */
import { describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { createModeBAdminClient } from '../src/initiator/admin-client.js';
import { createBearerTokenAuthorizer } from '../src/responder/admin.js';
import { ALG } from '../src/core/constants.js';
import { isZeqKeyExError } from '../src/core/errors.js';
import { deriveSealKey, sealSeed } from '../src/core/sealing.js';
import { type StoredSeed, unsealStoredSeed } from '../src/responder/seed-store.js';
import { anyString } from './helpers/properties.js';
import {
  FIELD_KEY,
  INITIATE,
  ORIGIN_A,
  RESPOND,
  TOKEN_A,
  adminRequest,
  bearer,
  twoResponders,
} from './helpers/modeb.js';
import { hex } from './helpers/vectors.js';

const RUNS = { numRuns: 150 };
const json = fc.jsonValue({ maxDepth: 2 });
/** A field that is sometimes valid-looking, sometimes anything. */
const slugish = fc.oneof(fc.constantFrom('edge-01', 'core-01', 'nobody', '../x', ''), json);
const pinish = fc.oneof(
  fc.constant('ab'.repeat(32)),
  fc.stringMatching(/^[0-9a-fA-F]{60,66}$/),
  json,
);
const originish = fc.oneof(
  fc.constantFrom('https://core.test', 'http://core.test', 'https://u:p@core.test', 'ftp://x'),
  fc.webUrl(),
  json,
);

describe('the endpoints, given any JSON body', () => {
  // A peer that always answers "no such machine", so no body can lead to a stored seed.
  const pair = twoResponders({
    peerFetch: () => Promise.resolve(new Response('{"error":"unknown_machine"}', { status: 404 })),
  });

  test.prop(
    [
      fc.record(
        {
          local_machine: slugish,
          peer_origin: originish,
          peer_machine: slugish,
          expected_fingerprint: pinish,
        },
        { requiredKeys: [] },
      ),
    ],
    RUNS,
  )('initiate answers 400, 404 or 502, and stores nothing', async (body) => {
    const response = await pair.a.fetch(adminRequest(ORIGIN_A, INITIATE, body, bearer(TOKEN_A)));
    const answer = (await response.json()) as { error?: unknown };
    expect([400, 404, 502], JSON.stringify({ body, answer })).toContain(response.status);
    expect([
      'invalid_request',
      'invalid_slug',
      'unknown_machine',
      'peer_invalid_response',
    ]).toContain(answer.error);
    expect(pair.seedsA.puts).toHaveLength(0);
  });

  test.prop(
    [
      fc.record(
        {
          local_machine: slugish,
          peer_machine_id: fc.oneof(fc.constant('machine:x'), json),
          cipher_text: fc.oneof(anyString, json),
        },
        { requiredKeys: [] },
      ),
    ],
    RUNS,
  )('respond answers 400, 404 or 409, and stores nothing', async (body) => {
    const response = await pair.a.fetch(adminRequest(ORIGIN_A, RESPOND, body, bearer(TOKEN_A)));
    expect([400, 404, 409], JSON.stringify(body)).toContain(response.status);
    expect(pair.seedsA.puts).toHaveLength(0);
  });
});

describe('the bearer check', () => {
  const auth = createBearerTokenAuthorizer(TOKEN_A);
  test.prop([fc.string({ maxLength: 80 })], RUNS)(
    'any authorization header gets one of three answers, and only the token is admin',
    (value) => {
      let request: Request;
      try {
        request = new Request(ORIGIN_A, { headers: { authorization: value } });
      } catch {
        return; // not a legal header value at all
      }
      const decision = auth.authorize(request);
      expect(['admin', 'forbidden', 'unauthenticated']).toContain(decision);
      if (decision === 'admin') expect(value.trim().split(/ +/)[1]).toBe(TOKEN_A);
    },
  );
});

describe('the admin client, given any success body', () => {
  test.prop(
    [
      fc.oneof(
        fc.jsonValue(),
        fc.record({
          cipher_text: anyString,
          seed_commitment: anyString,
          peer_machine_id: anyString,
          peer_fingerprint: anyString,
          local_machine_id: anyString,
          alg: fc.constantFrom(ALG, 'x'),
        }),
      ),
    ],
    RUNS,
  )('initiate returns or throws malformed_response / response_mismatch only', async (body) => {
    const client = createModeBAdminClient({
      origin: ORIGIN_A,
      token: TOKEN_A,
      fetch: () =>
        Promise.resolve(
          new Response(JSON.stringify(body), {
            status: 200,
            headers: { 'content-type': 'application/json' },
          }),
        ),
    });
    try {
      await client.initiate({
        localMachine: 'edge-01',
        peerOrigin: 'https://core.test',
        peerMachine: 'core-01',
        expectedFingerprint: 'ab'.repeat(32),
      });
    } catch (error) {
      expect(isZeqKeyExError(error)).toBe(true);
      expect(['malformed_response', 'response_mismatch']).toContain(
        (error as { code: string }).code,
      );
    }
  });
});

describe('a stored seed', () => {
  const fields = ['localMachineId', 'peerMachineId', 'seedCommitment', 'sealedSeed'] as const;
  const context = {
    localMachineId: 'machine:a',
    peerMachineId: 'machine:b',
    seedCommitment: 'cd'.repeat(32),
  };
  const stored: StoredSeed = {
    ...context,
    alg: ALG,
    role: 'responder',
    localSlug: 'a',
    fingerprint: 'ef'.repeat(32),
    sealedSeed: sealSeed(deriveSealKey(hex(FIELD_KEY)), context, new Uint8Array(32).fill(9)),
    createdAt: '2030-01-01T00:00:00.000Z',
  };

  test.prop([fc.constantFrom(...fields), fc.string({ minLength: 1, maxLength: 70 })], RUNS)(
    'with any bound field changed does not open',
    (name, value) => {
      fc.pre(value !== stored[name]);
      expect(() => unsealStoredSeed(FIELD_KEY, { ...stored, [name]: value })).toThrow(
        expect.objectContaining({ code: 'unseal_failed' }),
      );
    },
  );
});
