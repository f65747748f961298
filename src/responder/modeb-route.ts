/**
 * The responder's ZeqSSL Mode-B admin endpoints, spec §4.1 and §4.2:
 * `POST /api/ssl/peer-seed/keyex/initiate` (this machine is L: fetch the peer's key document,
 * check it against the expected fingerprint, encapsulate, derive and store the seed) and
 * `POST /api/ssl/peer-seed/keyex/respond` (this machine is P: decapsulate, derive and store).
 *
 * Each request is checked in an order that keeps a refused request from changing anything: admin
 * authorization (no hook configured → `403 forbidden` for everyone), content-type, body size
 * (8 KiB, as for a handshake), JSON shape, field grammars, the local machine, the peer-origin
 * policy (https only, plain http only for hosts the deployment names), and only then the network
 * and the key. Nothing is stored unless a seed was derived. `initiate` takes `expected_identity`
 * (spec §8) in place of `expected_fingerprint`: the peer's document must then carry a valid
 * attestation by that identity (`409 identity_mismatch`, else `502 peer_invalid_response`), and
 * the attested key is the one seeded with.
 *
 * Security caveats:
 * - The seed never appears in a response, an error or a log line: it is sealed (§5) under the
 *   field key the moment it is derived, and wiped. Only its commitment, which reveals nothing about
 *   it, is answered.
 * - `initiate` makes the server fetch a URL an admin chose; that is why it is admin-only, why the
 *   fetch has a time and size limit and follows no redirect, and why plain http is refused unless
 *   the deployment allows a named host. No credential of the admin request is forwarded.
 * - ML-KEM decapsulation never fails: `respond` with a ciphertext made for another key stores a
 *   seed nobody else has. Only equal commitments on both machines confirm the exchange.
 * @module
 */
import {
  ALGS,
  ALG_SIZES,
  MAX_HANDSHAKE_REQUEST_BYTES,
  ROUTES,
  type Alg,
  type Role,
} from '../core/constants.js';
import { type AdminOptions, adminRefusal } from './admin.js';
import { createKeyedLock } from './keyed-lock.js';
import { base64Decode, base64Encode } from '../core/encoding.js';
import { ZeqKeyExError, callStore, isZeqKeyExError } from '../core/errors.js';
import {
  HttpError,
  WIRE_ERRORS,
  isMediaType,
  jsonResponse,
  parseJsonObject,
  readBody,
} from './http.js';
import { isFingerprint, isMachineId, isSlug } from '../core/identifiers.js';
import { jsonField, jsonString } from '../core/json.js';
import type { KeyManager } from './key-manager.js';
import type { Logger } from './logger.js';
import type { Kem } from '../backends/kem-backend.js';
import { type ModeBInitiation, initiateModeB, respondModeB } from '../core/modeb.js';
import { type ModeBOptions, createModeBPeers } from './modeb-peer.js';
import { wipe } from '../core/primitives.js';
import type { Route } from './router.js';
import { sealSeed } from '../core/sealing.js';
import { type SeedStore, type StoredSeed, createMemorySeedStore } from './seed-store.js';

/** What the endpoints need from the responder that hosts them. */
export interface ModeBEndpointsOptions {
  /** The deployment's admin check; without one both endpoints refuse. */
  admin: AdminOptions | undefined;
  modeB: ModeBOptions | undefined;
  /** Where seeds are stored (sealed); a memory store when absent. */
  seedStore: SeedStore | undefined;
  /** The responder's key manager (the local machine's key, for `respond`). */
  keys: KeyManager;
  /** The responder's KEM backend of an alg (its `kem` option), for `initiate`. */
  kem: (alg?: Alg) => Promise<Kem>;
  /** The §5 seal key; copied, and the copy wiped by {@link ModeBEndpoints.close}. */
  sealKey: Uint8Array;
  logger: Logger;
  now: () => number;
  /** Resolves a slug to its machine_id, or throws the responder's `invalid_slug` / `unknown_machine`. */
  machineFor: (slug: string) => Promise<string>;
}

/** The two routes, ready for the responder's route table. */
export interface ModeBEndpoints {
  readonly routes: readonly Route<{ readonly request: Request }>[];
  /** Wipes the seal key copy; later requests fail with `500 internal`. */
  close(): void;
}

/** The ciphertext lengths of the algs a machine may have (§1, §9); the machine's own is checked once its key is known. */
const CIPHER_TEXT_BYTES: readonly number[] = ALGS.map((alg) => ALG_SIZES[alg].cipherText);

/** A field of an admin request that must be a string; anything else is `400 invalid_request`. */
function stringField(body: Readonly<Record<string, unknown>>, name: string): string {
  const value = jsonString(body, name);
  if (value === undefined) throw new HttpError('invalid_request');
  return value;
}

/**
 * Creates the two Mode-B endpoints for a responder, validating their options.
 * @param options - admin hook, Mode-B options, seed store and what the responder shares.
 * @returns the routes and a `close` to call when the responder closes.
 * @throws {TypeError} for a malformed admin hook or seed store, and (`createModeBPeers`,
 *   `modeb-peer.ts`) a malformed fetch or host list.
 * @throws {RangeError} for a peer timeout out of range.
 */
export function createModeBEndpoints(options: ModeBEndpointsOptions): ModeBEndpoints {
  // Long only as a closure: the options are validated once here, and every step of the two routes
  // below is its own short function over them.
  const { admin, keys, kem, logger, now, machineFor } = options;
  if (
    admin !== undefined &&
    (typeof admin !== 'object' || admin === null || typeof admin.authorize !== 'function')
  ) {
    throw new TypeError(
      'admin must be { authorize(request) => "admin" | "forbidden" | "unauthenticated" }',
    );
  }
  const modeB = options.modeB ?? {};
  if (typeof modeB !== 'object' || modeB === null) throw new TypeError('modeB must be an object');
  const peers = createModeBPeers(modeB, logger, now);
  const seedStore = options.seedStore ?? createMemorySeedStore();
  if (
    typeof seedStore !== 'object' ||
    seedStore === null ||
    typeof seedStore.get !== 'function' ||
    typeof seedStore.put !== 'function'
  ) {
    throw new TypeError('seedStore must have get(localMachineId, peerMachineId) and put(seed)');
  }
  const sealKey = Uint8Array.from(options.sealKey);
  let closed = false;

  async function authorize(request: Request, route: string): Promise<void> {
    // Fail closed (admin.ts): no hook, or anything but exactly 'admin', is a refusal.
    const code = await adminRefusal(admin, request);
    if (code === undefined) return;
    logger.warn(
      admin === undefined
        ? 'mode-b request refused: no admin check is configured'
        : 'mode-b request refused',
      { code, route },
    );
    throw new HttpError(code);
  }

  async function readJson(request: Request): Promise<Record<string, unknown>> {
    if (!isMediaType(request.headers.get('content-type'), 'application/json'))
      throw new HttpError('unsupported_media_type');
    return parseJsonObject(await readBody(request, MAX_HANDSHAKE_REQUEST_BYTES));
  }

  function assertOpen(): void {
    if (closed) throw new ZeqKeyExError('machine_unavailable', 'the responder is closed');
  }

  /** Stores a derived seed sealed, and wipes it, stored or not. */
  async function store(
    role: Role,
    localSlug: string,
    fields: Omit<StoredSeed, 'role' | 'localSlug' | 'sealedSeed' | 'createdAt'>,
    seed: Uint8Array,
  ): Promise<void> {
    try {
      assertOpen();
      const record: StoredSeed = {
        ...fields,
        role,
        localSlug,
        sealedSeed: sealSeed(sealKey, fields, seed),
        createdAt: new Date(now()).toISOString(),
      };
      await callStore(() => seedStore.put(record), 'the seed store failed to write');
    } finally {
      wipe(seed);
    }
  }

  /** One lock per (local machine, peer machine_id): a conflict check and its write never interleave. */
  const pairLock = createKeyedLock();
  const withPairLock = <T>(
    localMachineId: string,
    peerMachineId: string,
    work: () => Promise<T>,
  ): Promise<T> => pairLock(`${localMachineId}\n${peerMachineId}`, work);

  /**
   * §4.1 revision 2: the fingerprint of a seed stored for the pair under another peer key, or
   * `undefined` when nothing is stored or it was derived with this same peer key. A peer's
   * machine_id is only what its document says, so a pinned peer naming another's id must not
   * replace that one's seed. A seed stored by `respond` records this machine's own key, never a
   * peer's: an initiate over it always conflicts.
   */
  async function seedConflict(
    localMachineId: string,
    peerMachineId: string,
    peerFingerprint: string,
  ): Promise<string | undefined> {
    const stored = await callStore(
      () => seedStore.get(localMachineId, peerMachineId),
      'the seed store failed to read',
    );
    if (stored === undefined) return undefined;
    if (stored.role === 'initiator' && stored.fingerprint === peerFingerprint) return undefined;
    return stored.fingerprint;
  }

  /**
   * The fields of an initiate request (§4.1), checked in order; the peer origin last. Exactly one
   * of `expected_fingerprint` and `expected_identity` (§8: the peer's document must carry a valid
   * attestation by that identity); both, or neither, is `400 invalid_request`.
   */
  function parseInitiateRequest(body: Record<string, unknown>): {
    localSlug: string;
    peerOrigin: string;
    peerSlug: string;
    expected: { fingerprint: string } | { identity: string };
    replace: boolean;
  } {
    const localSlug = stringField(body, 'local_machine');
    const peerOriginText = stringField(body, 'peer_origin');
    const peerSlug = stringField(body, 'peer_machine');
    const identityField = jsonField(body, 'expected_identity');
    const expected =
      identityField === undefined
        ? { fingerprint: stringField(body, 'expected_fingerprint') }
        : { identity: stringField(body, 'expected_identity') };
    if ('identity' in expected && jsonField(body, 'expected_fingerprint') !== undefined)
      throw new HttpError('invalid_request');
    if (!isSlug(localSlug) || !isSlug(peerSlug)) throw new HttpError('invalid_slug');
    if (!isFingerprint('identity' in expected ? expected.identity : expected.fingerprint))
      throw new HttpError('invalid_request');
    // Optional (§4.1 revision 2), and then exactly a boolean: `null` or `"yes"` is no answer.
    const replaceField = jsonField(body, 'replace');
    const replace = replaceField === undefined ? false : replaceField;
    if (typeof replace !== 'boolean') throw new HttpError('invalid_request');
    return {
      localSlug,
      peerOrigin: peers.parseOrigin(peerOriginText),
      peerSlug,
      expected,
      replace,
    };
  }

  // §4.1
  async function serveInitiate({ request }: { readonly request: Request }): Promise<Response> {
    await authorize(request, 'initiate');
    const { localSlug, peerOrigin, peerSlug, expected, replace } = parseInitiateRequest(
      await readJson(request),
    );
    const localMachineId = await machineFor(localSlug);
    assertOpen();
    const peer = await peers.fetchDocument(peerOrigin, peerSlug, request.signal);
    if ('identity' in expected) {
      const refusal = await peers.checkIdentity(peer, peerSlug, expected.identity, localSlug);
      if (refusal !== undefined) return refusal;
    }
    // With an identity, the key it attested is the one expected (§4.1, §8).
    const expectedFingerprint = 'identity' in expected ? peer.fingerprint : expected.fingerprint;

    let initiation: ModeBInitiation;
    try {
      // §9: the peer's alg, whichever the local machine's is (the seed is encapsulated to the peer).
      initiation = await initiateModeB(
        { peer, localMachineId, expectedFingerprint },
        await kem(peer.alg),
      );
    } catch (error) {
      if (isZeqKeyExError(error, 'fingerprint_mismatch')) {
        logger.warn('mode-b initiate refused: fingerprint mismatch', {
          code: 'fingerprint_mismatch',
          localMachine: localSlug,
          peerMachine: peerSlug,
          expectedFingerprint,
          actualFingerprint: peer.fingerprint,
        });
        return jsonResponse(409, {
          error: 'fingerprint_mismatch',
          message: WIRE_ERRORS.fingerprint_mismatch.message,
          expected_fingerprint: expectedFingerprint,
          actual_fingerprint: peer.fingerprint,
        });
      }
      throw error;
    }
    // The check and the write hold the pair's lock: two initiates racing for one pair with
    // different peer keys must not both find the slot empty (the second would replace silently).
    return withPairLock(localMachineId, initiation.peerMachineId, () =>
      storeInitiation(localSlug, localMachineId, initiation, replace),
    );
  }

  /** Under the pair's lock: §4.1's conflict check, then the seed stored and the answer. */
  async function storeInitiation(
    localSlug: string,
    localMachineId: string,
    initiation: ModeBInitiation,
    replace: boolean,
  ): Promise<Response> {
    let conflict: string | undefined;
    try {
      conflict = replace
        ? undefined
        : await seedConflict(localMachineId, initiation.peerMachineId, initiation.peerFingerprint);
    } catch (error) {
      wipe(initiation.seed);
      throw error;
    }
    if (conflict !== undefined) {
      wipe(initiation.seed);
      logger.warn('mode-b initiate refused: a seed is stored under another peer fingerprint', {
        code: 'seed_conflict',
        localMachine: localSlug,
        peerMachineId: initiation.peerMachineId,
        storedFingerprint: conflict,
        actualFingerprint: initiation.peerFingerprint,
      });
      return jsonResponse(409, {
        error: 'seed_conflict',
        message: WIRE_ERRORS.seed_conflict.message,
        stored_fingerprint: conflict,
        actual_fingerprint: initiation.peerFingerprint,
      });
    }
    await store(
      'initiator',
      localSlug,
      {
        alg: initiation.alg,
        localMachineId,
        peerMachineId: initiation.peerMachineId,
        fingerprint: initiation.peerFingerprint,
        seedCommitment: initiation.seedCommitment,
      },
      initiation.seed,
    );
    return jsonResponse(200, {
      cipher_text: base64Encode(initiation.cipherText),
      seed_commitment: initiation.seedCommitment,
      peer_machine_id: initiation.peerMachineId,
      peer_fingerprint: initiation.peerFingerprint,
      local_machine_id: localMachineId,
      alg: initiation.alg,
    });
  }

  // §4.2
  async function serveRespond({ request }: { readonly request: Request }): Promise<Response> {
    await authorize(request, 'respond');
    const body = await readJson(request);
    const localSlug = stringField(body, 'local_machine');
    const peerMachineId = stringField(body, 'peer_machine_id');
    const cipherTextField = stringField(body, 'cipher_text');
    if (!isSlug(localSlug)) throw new HttpError('invalid_slug');
    if (!isMachineId(peerMachineId)) throw new HttpError('invalid_request');
    let cipherText: Uint8Array;
    try {
      cipherText = base64Decode(cipherTextField, undefined, 'cipher_text');
    } catch {
      throw new HttpError('invalid_cipher_text');
    }
    if (!CIPHER_TEXT_BYTES.includes(cipherText.length)) throw new HttpError('invalid_cipher_text');
    const localMachineId = await machineFor(localSlug);
    // Never generates: a ciphertext cannot have been made for a key that does not exist yet.
    const key = await keys.find(localSlug, localMachineId);
    if (key === undefined) {
      logger.warn('mode-b respond refused: the local machine has no key', {
        code: 'key_mismatch',
        localMachine: localSlug,
      });
      throw new HttpError('key_mismatch');
    }
    // §1, §9: the length of the local machine's alg.
    if (cipherText.length !== ALG_SIZES[key.alg].cipherText)
      throw new HttpError('invalid_cipher_text');
    assertOpen();
    let derived: Awaited<ReturnType<typeof respondModeB>>;
    try {
      derived = await respondModeB(
        { alg: key.alg, publicKey: key.publicKey, localMachineId, peerMachineId, cipherText },
        key.secretKey,
      );
    } catch (error) {
      // X-Wing refuses an X25519 part of low order (`core/xwing.ts`): the request's fault.
      if (isZeqKeyExError(error, 'invalid_cipher_text')) throw new HttpError('invalid_cipher_text');
      throw error;
    }
    await withPairLock(localMachineId, peerMachineId, () =>
      store(
        'responder',
        localSlug,
        {
          alg: key.alg,
          localMachineId,
          peerMachineId,
          fingerprint: key.fingerprint,
          seedCommitment: derived.seedCommitment,
        },
        derived.seed,
      ),
    );
    return jsonResponse(200, {
      seed_commitment: derived.seedCommitment,
      local_machine_id: localMachineId,
      fingerprint: key.fingerprint,
      alg: key.alg,
    });
  }

  return {
    routes: [
      { pattern: ROUTES.modeBInitiate, methods: { POST: serveInitiate } },
      { pattern: ROUTES.modeBRespond, methods: { POST: serveRespond } },
    ],
    close(): void {
      closed = true;
      wipe(sealKey);
    },
  };
}
