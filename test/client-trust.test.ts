/**
 * The initiator's trust policy on its own (spec §2.1 check 3, §6): options validated at creation,
 * the order pin → TOFU → explicit unauthenticated, and a TOFU first use remembered only once the
 * caller says the handshake was confirmed. The client suites cover the same rules end to end.
 */
import { describe, expect, test } from 'vitest';
import {
  type TrustStore,
  createMemoryTrustStore,
  createTrustPolicy,
  tofuKey,
} from '../src/initiator/trust.js';
import { expectCode, expectCodeAsync } from './helpers/errors.js';

const ORIGIN = 'https://edge.test';
const SLUG = 'edge-01';
const FP = 'ab'.repeat(32);
const OTHER_FP = 'cd'.repeat(32);

describe('createTrustPolicy', () => {
  test('malformed pins and stores are programmer errors (TypeError) at creation', () => {
    expect(() => createTrustPolicy({ pins: { '../x': FP } })).toThrow(TypeError);
    expect(() => createTrustPolicy({ pins: { [SLUG]: 'abc' } })).toThrow(TypeError);
    expect(() => createTrustPolicy({ pins: { [SLUG]: [] } })).toThrow(TypeError);
    expect(() =>
      createTrustPolicy({ tofu: { get: async () => undefined } as unknown as TrustStore }),
    ).toThrow(TypeError);
  });

  test('without a trust choice nothing may be sent: pin_required', async () => {
    const policy = createTrustPolicy({ pins: { other: FP } });
    expectCode(() => policy.assertChoice(SLUG), 'pin_required');
    await expectCodeAsync(policy.check(ORIGIN, SLUG, { fingerprint: FP }), 'pin_required');
    expect(() => policy.assertChoice('other')).not.toThrow();
  });

  test('a pin decides before the TOFU store, and a mismatch names both fingerprints', async () => {
    const tofu = createMemoryTrustStore();
    const policy = createTrustPolicy({
      pins: { [SLUG]: [FP.toUpperCase()] },
      tofu,
      insecureUnpinned: true,
    });
    const decision = await policy.check(ORIGIN, SLUG, { fingerprint: FP });
    expect(decision.mode).toBe('pinned');
    await decision.confirmed();
    expect(await tofu.get(tofuKey(ORIGIN, SLUG))).toBeUndefined();
    await expect(policy.check(ORIGIN, SLUG, { fingerprint: OTHER_FP })).rejects.toMatchObject({
      code: 'fingerprint_mismatch',
      expectedFingerprint: FP,
      actualFingerprint: OTHER_FP,
    });
  });

  test('TOFU remembers a first use only once confirmed, then refuses a changed key', async () => {
    const tofu = createMemoryTrustStore();
    const policy = createTrustPolicy({ tofu });
    const first = await policy.check(ORIGIN, SLUG, { fingerprint: FP });
    expect(first.mode).toBe('tofu-first-use');
    expect(await tofu.get(tofuKey(ORIGIN, SLUG))).toBeUndefined();
    await first.confirmed();
    expect(await tofu.get(tofuKey(ORIGIN, SLUG))).toBe(FP);
    expect((await policy.check(ORIGIN, SLUG, { fingerprint: FP })).mode).toBe('tofu-match');
    await expect(policy.check(ORIGIN, SLUG, { fingerprint: OTHER_FP })).rejects.toMatchObject({
      code: 'tofu_key_changed',
      expectedFingerprint: FP,
      actualFingerprint: OTHER_FP,
    });
    // Another origin is another responder.
    expect((await policy.check('https://other.test', SLUG, { fingerprint: OTHER_FP })).mode).toBe(
      'tofu-first-use',
    );
  });

  test('a racing first use that stored another fingerprint is tofu_key_changed; store failures are store_error', async () => {
    const raced = createTrustPolicy({
      tofu: { get: async () => undefined, putIfAbsent: async () => OTHER_FP },
    });
    await expectCodeAsync(
      (await raced.check(ORIGIN, SLUG, { fingerprint: FP })).confirmed(),
      'tofu_key_changed',
    );
    const broken = createTrustPolicy({
      tofu: { get: () => Promise.reject(new Error('disk')), putIfAbsent: async () => FP },
    });
    await expectCodeAsync(broken.check(ORIGIN, SLUG, { fingerprint: FP }), 'store_error');
    const edited = createTrustPolicy({
      tofu: { get: async () => 'not a fingerprint', putIfAbsent: async () => FP },
    });
    await expectCodeAsync(edited.check(ORIGIN, SLUG, { fingerprint: FP }), 'store_error');
  });

  test('insecureUnpinned is the explicit unauthenticated choice', async () => {
    const decision = await createTrustPolicy({ insecureUnpinned: true }).check(ORIGIN, SLUG, {
      fingerprint: FP,
    });
    expect(decision.mode).toBe('unauthenticated');
  });
});
