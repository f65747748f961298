/**
 * Test helpers for Mode-B (spec §4): an observable seed store, admin requests, and two responders
 * wired to each other in process (each one's peer fetch is the other's handler).
 */
import type { AdminOptions } from '../../src/responder/admin.js';
import { createBearerTokenAuthorizer } from '../../src/responder/admin.js';
import { type Responder, createResponder } from '../../src/responder/responder.js';
import type { ResponderOptions } from '../../src/responder/options.js';
import type { FetchFunction } from '../../src/initiator/transport.js';
import {
  type SeedStore,
  type StoredSeed,
  createMemorySeedStore,
} from '../../src/responder/seed-store.js';
import { FIELD_KEY, OTHER_FIELD_KEY, type RecordingLogger, recordingLogger } from './responder.js';

export const TOKEN_A = 'token-of-responder-A-0123456789';
export const TOKEN_B = 'token-of-responder-B-9876543210';
export const ORIGIN_A = 'https://edge.test';
export const ORIGIN_B = 'https://core.test';
export const INITIATE = '/api/ssl/peer-seed/keyex/initiate';
export const RESPOND = '/api/ssl/peer-seed/keyex/respond';

/** A seed store that counts writes and can be snapshotted. */
export interface ObservedSeedStore extends SeedStore {
  readonly puts: StoredSeed[];
  /** Every record currently stored, as JSON. */
  snapshot(): string;
}

export function observedSeedStore(): ObservedSeedStore {
  const inner = createMemorySeedStore();
  const puts: StoredSeed[] = [];
  const current = new Map<string, StoredSeed>();
  return {
    puts,
    get: (local, peer) => inner.get(local, peer),
    async put(seed) {
      await inner.put(seed);
      puts.push({ ...seed });
      current.set(`${seed.localMachineId} ${seed.peerMachineId}`, { ...seed });
    },
    snapshot() {
      return JSON.stringify([...current.entries()].sort(([a], [b]) => a.localeCompare(b)));
    },
  };
}

/** A POST with a JSON body and the given credentials. */
export function adminRequest(
  origin: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Request {
  return new Request(origin + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export const bearer = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

/** Two responders: A serves `edge-01`, B serves `core-01`; each reaches the other in process. */
export interface Pair {
  a: Responder;
  b: Responder;
  seedsA: ObservedSeedStore;
  seedsB: ObservedSeedStore;
  logA: RecordingLogger;
  logB: RecordingLogger;
  /** Every request A's peer fetch made. */
  peerRequests: Request[];
}

export interface PairOptions {
  /** Replaces A's peer fetch (default: B's handler). */
  peerFetch?: FetchFunction;
  adminA?: AdminOptions | null;
  extraA?: Partial<ResponderOptions>;
  extraB?: Partial<ResponderOptions>;
}

export function twoResponders(options: PairOptions = {}): Pair {
  const seedsA = observedSeedStore();
  const seedsB = observedSeedStore();
  const logA = recordingLogger();
  const logB = recordingLogger();
  const peerRequests: Request[] = [];
  const holder: { b?: Responder } = {};
  const toB: FetchFunction = (request) => {
    if (holder.b === undefined) throw new Error('B is not ready');
    return holder.b.fetch(request);
  };
  const fetchA = options.peerFetch ?? toB;
  const adminA =
    options.adminA === null ? undefined : (options.adminA ?? createBearerTokenAuthorizer(TOKEN_A));
  const a = createResponder({
    fieldKey: FIELD_KEY,
    machines: { 'edge-01': 'machine:edge-01' },
    seedStore: seedsA,
    logger: logA,
    ...(adminA === undefined ? {} : { admin: adminA }),
    modeB: {
      fetch: (request, init) => {
        peerRequests.push(request.clone());
        return fetchA(request, init);
      },
    },
    ...options.extraA,
  });
  const b = createResponder({
    fieldKey: OTHER_FIELD_KEY,
    machines: { 'core-01': 'machine:core-01', 'core-02': 'machine:core-02' },
    seedStore: seedsB,
    logger: logB,
    admin: createBearerTokenAuthorizer(TOKEN_B),
    modeB: { fetch: (request) => a.fetch(request) },
    ...options.extraB,
  });
  holder.b = b;
  return { a, b, seedsA, seedsB, logA, logB, peerRequests };
}

export { FIELD_KEY, OTHER_FIELD_KEY };
