/**
 * Helpers of the responder's fuzzing and fault-injection tests (`test/responder-fuzz.test.ts`,
 * `test/responder-faults.test.ts`): a session store that captures every record key it is given
 * (so that tests can look for secrets in responses and logs, and seal valid records), a replay
 * memory whose live size can be read, stores that fail on demand, and the checks every response
 * of the responder must pass.
 */
import { expect } from 'vitest';
import { WIRE_ERRORS } from '../../src/core/constants.js';
import {
  type KeyStore,
  type ReplayTag,
  type SessionCreateResult,
  type SessionStore,
  type StoredSession,
  createMemorySessionStore,
} from '../../src/responder/stores.js';
import {
  type ReplayMemory,
  type ReplayRememberResult,
  createMemoryReplayMemory,
} from '../../src/responder/replay-memory.js';
import type { SeedStore } from '../../src/responder/seed-store.js';
import { toHex } from './vectors.js';

/** The identity of a replay tag, as text. */
export function tagId(tag: ReplayTag): string {
  return `${tag.fingerprint}:${toHex(tag.cipherTextHash)}`;
}

/** A session the capturing store was asked to create. */
export interface CapturedSession {
  readonly sessionId: string;
  readonly slug: string;
  readonly expiresAt: number;
  /** A copy of the record key (the responder wipes its own). */
  readonly recordKey: Uint8Array;
  readonly tagId: string;
}

/** A bounded memory session store that keeps a copy of every session it was asked to create. */
export interface CapturingSessionStore extends SessionStore {
  /** Every session handed to `create`, whatever the answer, by id. */
  readonly captured: Map<string, CapturedSession>;
  /** The ids of the sessions stored and unexpired at `at`, sorted. */
  liveIds(at: number): Promise<string[]>;
}

export function capturingSessionStore(options: {
  maxSessions: number;
  now: () => number;
}): CapturingSessionStore {
  const inner = createMemorySessionStore(options);
  const captured = new Map<string, CapturedSession>();
  return {
    captured,
    create(session: StoredSession, replay: ReplayTag): Promise<SessionCreateResult> {
      captured.set(session.sessionId, {
        sessionId: session.sessionId,
        slug: session.slug,
        expiresAt: session.expiresAt,
        recordKey: Uint8Array.from(session.recordKey),
        tagId: tagId(replay),
      });
      return inner.create(session, replay);
    },
    get: (id) => inner.get(id),
    delete: (id) => inner.delete(id),
    async liveIds(at) {
      const ids: string[] = [];
      for (const id of captured.keys()) {
        const session = await inner.get(id);
        if (session !== undefined && session.expiresAt > at) ids.push(id);
      }
      return ids.sort();
    },
  };
}

/** A memory replay memory whose remembered tags can be listed. */
export interface CountingReplayMemory extends ReplayMemory {
  /** The ids of the tags remembered and unexpired at `at`, sorted. */
  liveIds(at: number): string[];
}

export function countingReplayMemory(options: {
  maxTags: number;
  now: () => number;
}): CountingReplayMemory {
  const inner = createMemoryReplayMemory(options);
  const remembered = new Map<string, number>();
  return {
    async remember(replay, expiresAt): Promise<ReplayRememberResult> {
      const result = await inner.remember(replay, expiresAt);
      if (result.status === 'remembered') remembered.set(tagId(replay), expiresAt);
      return result;
    },
    async forget(replay) {
      await inner.forget(replay);
      remembered.delete(tagId(replay));
    },
    liveIds(at) {
      return [...remembered]
        .filter(([, expiresAt]) => expiresAt > at)
        .map(([id]) => id)
        .sort();
    },
  };
}

/**
 * What a store call does: answer at once, throw synchronously, reject, never answer, answer
 * within the responder's time limit, or answer (and act) after it.
 */
export type Fault = 'ok' | 'throw' | 'reject' | 'hang' | 'slow' | 'late';

export const FAULTS: readonly Fault[] = ['ok', 'throw', 'reject', 'hang', 'slow', 'late'];

/** Decides the fault of each store call and keeps the calls that are still to act. */
export interface FaultPlan {
  /** Runs `call` under the next fault of the plan. */
  run<T>(call: () => Promise<T>): Promise<T>;
  /** Waits until every `slow` and `late` call has acted (a `hang` never does). */
  settle(): Promise<void>;
  /** How many calls met each fault. */
  readonly counts: Record<Fault, number>;
}

/**
 * A fault plan that takes its faults from `faults` in turn (cycling).
 * @param faults - the faults, at least one.
 * @param slowMs - the delay of a `slow` call (below the responder's time limit).
 * @param lateMs - the delay of a `late` call (above it).
 */
export function faultPlan(faults: readonly Fault[], slowMs: number, lateMs: number): FaultPlan {
  let next = 0;
  const pending = new Set<Promise<unknown>>();
  const counts: Record<Fault, number> = { ok: 0, throw: 0, reject: 0, hang: 0, slow: 0, late: 0 };
  const delayed = <T>(ms: number, call: () => Promise<T>): Promise<T> => {
    const promise = new Promise<void>((resolve) => setTimeout(resolve, ms)).then(call);
    const tracked = promise.then(
      () => undefined,
      () => undefined,
    );
    pending.add(tracked);
    void tracked.then(() => pending.delete(tracked));
    return promise;
  };
  return {
    counts,
    run<T>(call: () => Promise<T>): Promise<T> {
      const fault = faults[next++ % faults.length] ?? 'ok';
      counts[fault]++;
      switch (fault) {
        case 'ok':
          return call();
        case 'throw':
          throw new Error('store exploded');
        case 'reject':
          return Promise.reject(new Error('store refused'));
        case 'hang':
          return new Promise<T>(() => undefined);
        case 'slow':
          return delayed(slowMs, call);
        case 'late':
          return delayed(lateMs, call);
      }
    },
    async settle() {
      // A late call may start another (a late session is deleted, then its tag forgotten).
      for (let round = 0; round < 10; round++) {
        await new Promise((resolve) => setTimeout(resolve, lateMs + 5));
        if (pending.size === 0) return;
        await Promise.all(pending);
      }
    },
  };
}

/** A key store whose every call goes through a fault plan. */
export function faultyKeyStore(store: KeyStore, plan: FaultPlan): KeyStore {
  return {
    get: (slug) => plan.run(() => store.get(slug)),
    putIfAbsent: (key) => plan.run(() => store.putIfAbsent(key)),
  };
}

/** A session store whose every call goes through a fault plan. */
export function faultySessionStore(store: SessionStore, plan: FaultPlan): SessionStore {
  return {
    create: (session, replay) => {
      // The responder wipes its copy of the record key once `create` settles or times out.
      const copy = { ...session, recordKey: Uint8Array.from(session.recordKey) };
      return plan.run(() => store.create(copy, replay));
    },
    get: (id) => plan.run(() => store.get(id)),
    delete: (id) => plan.run(() => store.delete(id)),
  };
}

/** A replay memory whose every call goes through a fault plan. */
export function faultyReplayMemory(memory: ReplayMemory, plan: FaultPlan): ReplayMemory {
  return {
    remember: (replay, expiresAt) => plan.run(() => memory.remember(replay, expiresAt)),
    forget: (replay) => plan.run(() => memory.forget(replay)),
  };
}

/** A seed store whose every call goes through a fault plan. */
export function faultySeedStore(store: SeedStore, plan: FaultPlan): SeedStore {
  return {
    get: (local, peer) => plan.run(() => store.get(local, peer)),
    put: (seed) => plan.run(() => store.put(seed)),
  };
}

/** The forms a secret could take in text: hex (both cases), base64 and base64url. */
export function secretForms(secret: Uint8Array): string[] {
  const hex = toHex(secret);
  const b64 = Buffer.from(secret).toString('base64');
  return [
    hex,
    hex.toUpperCase(),
    b64.replace(/=+$/, ''),
    Buffer.from(secret).toString('base64url'),
  ];
}

/** Asserts that neither `bytes` nor their text holds any of `secrets`, in any of its forms. */
export function expectNoSecret(bytes: Uint8Array, secrets: readonly Uint8Array[]): void {
  const haystack = Buffer.from(bytes);
  const text = haystack.toString('latin1');
  for (const secret of secrets) {
    expect(haystack.includes(Buffer.from(secret)), 'a secret appears as raw bytes').toBe(false);
    for (const form of secretForms(secret))
      expect(text.includes(form), 'a secret appears as text').toBe(false);
  }
}

const WIRE_STATUS = new Map<string, number>(
  Object.entries(WIRE_ERRORS).map(([code, { status }]) => [code, status]),
);

/**
 * Checks one response against §7: a 200, or an error body with a known code and its status, never
 * `500 internal`; a `503` is `unavailable` with `Retry-After`; an `OPTIONS` is an empty `204`. Returns the body's bytes and the code.
 */
export async function checkResponse(
  response: Response,
): Promise<{ bytes: Uint8Array; code: string | undefined }> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  expect(response.status, 'a request was answered 500').not.toBe(500);
  if (response.status === 200) return { bytes, code: undefined };
  // `OPTIONS` on a route: an empty 204 naming the route's methods (cors.ts).
  if (response.status === 204) {
    expect(bytes.length).toBe(0);
    expect(response.headers.get('allow')).toMatch(/, OPTIONS$/);
    return { bytes, code: undefined };
  }
  expect(response.headers.get('content-type')).toBe('application/json');
  const body = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  const code = body['error'];
  expect(typeof code).toBe('string');
  expect(WIRE_STATUS.get(code as string), `unknown code ${String(code)}`).toBe(response.status);
  if (response.status === 503) {
    expect(code).toBe('unavailable');
    expect(response.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/);
  }
  return { bytes, code: code as string };
}
