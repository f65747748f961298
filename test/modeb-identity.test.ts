/**
 * Mode-B `initiate` with `expected_identity` in place of `expected_fingerprint` (spec §4.1, §8):
 * the peer's key document must carry a valid attestation by that identity, else
 * `409 identity_mismatch` or `502 peer_invalid_response`, with nothing stored.
 */
import { describe, expect, test } from 'vitest';
import { createModeBAdminClient } from '../src/initiator/admin-client.js';
import { createIdentity } from '../src/responder.js';
import { createMemoryKeyStore } from '../src/responder/stores.js';
import { expectCodeAsync } from './helpers/errors.js';
import {
  INITIATE,
  OTHER_FIELD_KEY,
  ORIGIN_A,
  ORIGIN_B,
  TOKEN_A,
  TOKEN_B,
  adminRequest,
  bearer,
  twoResponders,
} from './helpers/modeb.js';
import { expectError } from './helpers/responder.js';

/** A pair whose peer B signs its documents with an identity (unless `signed` is false). */
async function pair(options: { signed?: boolean; nowA?: () => number } = {}) {
  const store = createMemoryKeyStore();
  const { identity } = await createIdentity({ store, fieldKey: OTHER_FIELD_KEY });
  const p = twoResponders({
    extraA: options.nowA === undefined ? {} : { now: options.nowA },
    extraB: { keyStore: store, ...(options.signed === false ? {} : { identity: { store } }) },
  });
  const clientA = createModeBAdminClient({
    origin: ORIGIN_A,
    token: TOKEN_A,
    fetch: (request) => p.a.fetch(request),
  });
  const clientB = createModeBAdminClient({
    origin: ORIGIN_B,
    token: TOKEN_B,
    fetch: (request) => p.b.fetch(request),
  });
  return { ...p, identity, clientA, clientB };
}

const REQUEST = { localMachine: 'edge-01', peerOrigin: ORIGIN_B, peerMachine: 'core-01' };

describe('Mode-B initiate with expected_identity', () => {
  test('the attested key is seeded with; both commitments agree', async () => {
    const { identity, clientA, clientB, seedsA, b } = await pair();
    const l = await clientA.initiate({ ...REQUEST, expectedIdentity: identity });
    expect(l.peerFingerprint).toBe((await b.keyDocument('core-01')).fingerprint);
    const p = await clientB.respond({
      localMachine: 'core-01',
      peerMachineId: l.localMachineId,
      cipherText: l.cipherText,
    });
    expect(p.seedCommitment).toBe(l.seedCommitment);
    expect(seedsA.puts).toHaveLength(1);
  });

  test('another identity: 409 identity_mismatch, nothing stored', async () => {
    const { clientA, seedsA, a } = await pair();
    await expectCodeAsync(
      clientA.initiate({ ...REQUEST, expectedIdentity: 'ab'.repeat(32) }),
      'identity_mismatch',
    );
    const raw = await a.fetch(
      adminRequest(
        ORIGIN_A,
        INITIATE,
        {
          local_machine: 'edge-01',
          peer_origin: ORIGIN_B,
          peer_machine: 'core-01',
          expected_identity: 'ab'.repeat(32),
        },
        bearer(TOKEN_A),
      ),
    );
    const body = await expectError(raw, 409, 'identity_mismatch');
    expect(body['expected_identity']).toBe('ab'.repeat(32));
    expect(seedsA.puts).toHaveLength(0);
  });

  test('a peer document without an attestation, or expired: 502 peer_invalid_response', async () => {
    const unsigned = await pair({ signed: false });
    await expectError(
      await unsigned.a.fetch(
        adminRequest(
          ORIGIN_A,
          INITIATE,
          { ...wire(REQUEST), expected_identity: unsigned.identity },
          bearer(TOKEN_A),
        ),
      ),
      502,
      'peer_invalid_response',
    );
    // A's clock 31 days ahead of B's signing time: the attestation has expired.
    const late = await pair({ nowA: () => Date.now() + 31 * 86_400_000 });
    await expectError(
      await late.a.fetch(
        adminRequest(
          ORIGIN_A,
          INITIATE,
          { ...wire(REQUEST), expected_identity: late.identity },
          bearer(TOKEN_A),
        ),
      ),
      502,
      'peer_invalid_response',
    );
    expect([...unsigned.seedsA.puts, ...late.seedsA.puts]).toEqual([]);
  });

  test('both expected fields, or a malformed identity: 400 invalid_request', async () => {
    const { a, identity, b } = await pair();
    const fingerprint = (await b.keyDocument('core-01')).fingerprint;
    for (const extra of [
      { expected_identity: identity, expected_fingerprint: fingerprint },
      { expected_identity: identity.toUpperCase() },
      { expected_identity: 7 },
    ])
      await expectError(
        await a.fetch(
          adminRequest(ORIGIN_A, INITIATE, { ...wire(REQUEST), ...extra }, bearer(TOKEN_A)),
        ),
        400,
        'invalid_request',
      );
  });
});

function wire(request: typeof REQUEST): Record<string, string> {
  return {
    local_machine: request.localMachine,
    peer_origin: request.peerOrigin,
    peer_machine: request.peerMachine,
  };
}
