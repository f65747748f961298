/**
 * The responder: a standard fetch handler `(Request) => Promise<Response>` serving ZeqKeyEx first
 * contact (spec §2.1 key documents, §2.3 handshakes) with the error bodies and statuses of §7.
 * With an `onRecord` callback it also serves the records endpoint of §3.1 (`records-route.ts`),
 * over per-session ratchet state kept in this instance (`record-sessions.ts`). It always offers
 * the ZeqSSL Mode-B admin endpoints of §4.1 and §4.2 (`modeb-route.ts`), which refuse every call
 * unless the deployment configures an `admin` check.
 *
 * This file is the wiring: options (`options.ts`, checked by `config.ts`), machine lookup (`machines.ts`), keys
 * (`key-manager.ts`), one route module per endpoint, the route table (`router.ts`), the dispatch
 * that turns every refusal into its §7 response (`http.ts`), and the lifecycle. Each route checks
 * a request in the order that keeps a refused request from changing anything; its module says
 * which.
 *
 * Security caveats:
 * - A 500 never carries detail: the log gets the error code, never a caught exception's text.
 * - A store that throws, rejects or does not answer in time (`store_error`, option
 *   `storeTimeoutMs`) is `503 unavailable` with `Retry-After` (spec §7, revision 2), never a 500,
 *   and never a reason to make a new key pair.
 * - The seal key derived from the field key lives as long as the responder; `close()` wipes it,
 *   the cached machine keys and every session's traffic keys. A responder whose creation fails
 *   wipes what it derived before throwing.
 * @module
 */
import { ROUTES } from '../core/constants.js';
import { ZeqKeyExError, isZeqKeyExError } from '../core/errors.js';
import { isSessionId } from '../core/identifiers.js';
import { wipe } from '../core/primitives.js';
import { unsealSeed } from '../core/sealing.js';
import type { KemBackendName } from '../backends/kem-backend.js';
import { createHandshakeRoute } from './handshake-route.js';
import { HttpError, discardBody, errorResponse, refusalResponse } from './http.js';
import { responseFor } from './prepared-response.js';
import { createKeyDocumentRoute } from './key-document-route.js';
import { type IdentitySigner, createIdentitySigner } from './identity.js';
import { type KeyRotation, type KeyRotationResult, createKeyRotation } from './key-rotation.js';
import { createRotationRoute } from './rotation-route.js';
import { refreshingKeys } from './key-refresh.js';
import {
  type KeyDocumentJson,
  type KeyManager,
  createKeyManager,
  keyDocumentOf,
} from './key-manager.js';
import { machineForCaller, machineForRequest } from './machines.js';
import { type ModeBEndpoints, createModeBEndpoints } from './modeb-route.js';
import { type ResponderConfig, resolveResponderOptions } from './config.js';
import type { ResponderOptions } from './options.js';
import { createPublicRandom } from './public-random.js';
import {
  type RecordSessions,
  type ResponderSession,
  createRecordSessions,
  findRecordSession,
  responderSession,
} from './record-sessions.js';
import { createRecordsRoute } from './records-route.js';
import { type RequestContext, type Route, createRouter } from './router.js';

/** The `Retry-After` of a `503 unavailable`: a store is down; ask again in five seconds. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

// Re-exported for the public entry (`src/responder.ts`), which names this module for them.

/** A responder. */
export interface Responder {
  /**
   * Serves one request. Never throws: every failure is a §7 error response.
   * @param request - the request.
   * @returns the response.
   */
  fetch(request: Request): Promise<Response>;
  /**
   * The §2.1 key document of a machine, generating its key on first use.
   * @param slug - the machine's slug.
   * @returns the document.
   * @throws {ZeqKeyExError} `invalid_identifier` for a malformed slug, `unknown_machine`,
   *   `machine_unavailable` when its stored key cannot be opened, `store_error`.
   */
  keyDocument(slug: string): Promise<KeyDocumentJson>;
  /**
   * A live session made by this responder, to carry records on the app's own transport (spec §3).
   * It shares its ratchet with the records endpoint. Its state is created on the first record.
   * @param sessionId - the session id.
   * @returns the session, or `undefined` when it is unknown, expired, or was not made by this
   *   responder instance (its ratchet state would not be here; see `docs/records.md`).
   * @throws {ZeqKeyExError} `store_error`.
   */
  recordSession(sessionId: string): Promise<ResponderSession | undefined>;
  /**
   * The ML-KEM backend this responder uses (option `kem`), probing the runtime on first use.
   * @returns `'node'`, `'webcrypto'` or `'noble'`.
   * @throws {ZeqKeyExError} `kem_unavailable` for `kem: 'native'` on a runtime without one.
   */
  kemBackend(): Promise<KemBackendName>;
  /**
   * Checks, before serving, that every stored machine key opens under the field key: the keys of
   * the machines named in `machines`, and every key the key store lists when it can (a `slugs()`
   * method, as the file key store has), and every Mode-B seed the seed store lists when it can (a
   * `list()` method, as the memory and file seed stores have). Keys are opened and cached, never
   * generated; seeds are opened and wiped. Call it at start-up and refuse to start when it rejects
   * (`zeq-keyex serve` does).
   * @returns once every stored key and seed opened.
   * @throws {ZeqKeyExError} `machine_unavailable` naming the first machine whose stored key, or
   *   Mode-B seed, does not open (a wrong field key, or a damaged or foreign record); `store_error`.
   */
  ready(): Promise<void>;
  /**
   * The identity that signs this responder's key documents (spec §8): what initiators pin.
   * @returns `hex(SHA-256(identity_key))`, or `undefined` when no identity is configured.
   * @throws {ZeqKeyExError} `identity_unavailable` when it is missing or does not open, `store_error`.
   */
  identity(): Promise<string | undefined>;
  /**
   * Replaces a machine's KEM key while serving (spec §8.3): the new key is served at once, and
   * handshakes naming the previous one are answered for `graceSeconds`, after which its secret is
   * deleted from the store and from memory. Pins on the previous key break; identity pins do not.
   * Also offered to admins as `POST /api/keyex/{slug}/rotate` (`zeq-keyex rotate`).
   * @param slug - the machine's slug.
   * @param options - `graceSeconds`, in [0, 30 days] (0: the previous secret is deleted at once).
   * @returns the new and previous fingerprints and the end of the grace period.
   * @throws {ZeqKeyExError} `invalid_identifier`, `unknown_machine`, `machine_unavailable` (no
   *   key yet, or it does not open), `store_error` (the store failed or cannot rotate).
   * @throws {RangeError} for a grace period out of range.
   */
  rotateKey(slug: string, options?: { graceSeconds?: number }): Promise<KeyRotationResult>;
  /** Wipes the cached keys, the seal key and every session's traffic keys; later requests fail. */
  close(): void;
}

/** The parts of a responder that hold secrets or state, built from its resolved options. */
interface ResponderParts {
  readonly keys: KeyManager;
  /** Signs key documents, when an identity is configured (§8). */
  readonly signer: IdentitySigner | undefined;
  readonly rotation: KeyRotation;
  readonly recordSessions: RecordSessions;
  readonly modeB: ModeBEndpoints;
}

/**
 * Builds the key manager, the record state and the Mode-B endpoints (whose options are checked
 * here). A refusal must not leave the seal key behind: it is wiped before the error is rethrown.
 */
function createParts(
  config: ResponderConfig,
  machineFor: (slug: string) => Promise<string>,
): ResponderParts {
  const { sealKey, keyStore, logger, now, kem, algFor, maxSessions } = config;
  const keys = createKeyManager({ sealKey, keyStore, logger, now, kem, algFor });
  try {
    // §3: record state per session, created on its first record (record-sessions.ts).
    const recordSessions = createRecordSessions({
      maxSessions,
      now,
      ...(config.recordState === undefined
        ? {}
        : {
            shared: {
              state: config.recordState,
              timeoutMs: config.storeTimeoutMs,
              sessionTtlMs: config.sessionTtlMs,
            },
          }),
      ratchet: {
        now,
        ...(config.rekeyIntervalMs === undefined
          ? {}
          : { rekeyIntervalMs: config.rekeyIntervalMs }),
      },
    });
    const modeB = createModeBEndpoints({
      admin: config.admin,
      modeB: config.modeB,
      seedStore: config.seedStore,
      keys,
      kem,
      sealKey,
      logger,
      now,
      machineFor,
    });
    const signer =
      config.identity === undefined
        ? undefined
        : createIdentitySigner({ ...config.identity, sealKey, logger, now });
    const rotation = createKeyRotation({
      keys,
      keyStore,
      sealKey,
      kem,
      logger,
      now,
      graceSeconds: config.rotationGraceSeconds,
    });
    // Instances sharing a store learn of rotations made through the others (key-refresh.ts).
    const served =
      config.keyRefreshMs === undefined
        ? keys
        : refreshingKeys({ keys, keyStore, rotation, now, intervalMs: config.keyRefreshMs });
    return { keys: served, recordSessions, modeB, signer, rotation };
  } catch (error) {
    keys.close();
    wipe(sealKey);
    throw error;
  }
}

/** The route table: §2.1, §2.3, §3.1 when records are served, and the §4 Mode-B routes. */
function routeTable(
  config: ResponderConfig,
  parts: ResponderParts,
  machineFor: (slug: string) => Promise<string>,
): Route<RequestContext>[] {
  const {
    sessionStore,
    replayMemory,
    sessionCreateTimeoutMs,
    sessionTtlMs,
    now,
    logger,
    records,
    admission,
  } = config;
  const { keys, recordSessions, modeB, signer, rotation } = parts;
  const handshake = createHandshakeRoute({
    machineFor,
    keys,
    sessionStore,
    replayMemory,
    storeTimeoutMs: sessionCreateTimeoutMs,
    recordSessions,
    publicRandom: createPublicRandom(),
    sessionTtlMs,
    now,
    logger,
    admission,
    retiredKey: (slug, machineId, fingerprint) => rotation.retired(slug, machineId, fingerprint),
  });
  return [
    {
      pattern: ROUTES.pubkey(':slug'),
      methods: { GET: createKeyDocumentRoute({ machineFor, keys, admission, signer }) },
    },
    { pattern: ROUTES.handshake(':slug'), methods: { POST: handshake } },
    ...(records === undefined
      ? []
      : [
          {
            pattern: ROUTES.records(':slug', ':session_id'),
            methods: {
              POST: createRecordsRoute({
                machineFor,
                sessionStore,
                sessions: recordSessions,
                ...records,
                now,
                logger,
                admission,
              }),
            },
          },
        ]),
    ...modeB.routes,
    {
      pattern: ROUTES.rotateKey(':slug'),
      methods: {
        POST: createRotationRoute({ admin: config.admin, machineFor, rotation, logger }),
      },
    },
  ];
}

/**
 * Creates a responder.
 * @param options - field key, machines, stores and limits.
 * @returns the responder.
 * @throws {ZeqKeyExError} `invalid_field_key` for a missing, short or malformed field key.
 * @throws {TypeError} for malformed machines, base path, logger, stores, clock or `kem`.
 * @throws {RangeError} for a session lifetime or bound out of range.
 * @example
 * ```ts
 * import { createResponder } from 'zeq-keyex/responder';
 * const responder = createResponder({
 *   fieldKey: process.env.ZEQ_FIELD_KEY!,
 *   machines: { 'edge-01': 'machine:edge-01' },
 * });
 * export default { fetch: responder.fetch }; // any fetch-handler runtime
 * ```
 */
export function createResponder(options: ResponderOptions): Responder {
  const config = resolveResponderOptions(options);
  const { lookupMachine, sessionStore, now, logger, kem, sealKey } = config;
  const machineFor = machineForRequest(lookupMachine);
  const parts = createParts(config, machineFor);
  const { keys, recordSessions, modeB, signer, rotation } = parts;
  const router = createRouter(routeTable(config, parts, machineFor), config.basePath);

  /** Serves one request; every refusal and failure becomes its §7 response here, and only here. */
  async function dispatch(request: Request): Promise<Response> {
    let pattern: string | undefined;
    try {
      const match = router.match(request.url);
      if (match === undefined) throw new HttpError('not_found');
      pattern = match.route.pattern;
      // Every route answers OPTIONS: a CORS preflight, or its `Allow` (cors.ts).
      if (request.method === 'OPTIONS') {
        discardBody(request);
        return config.cors.preflight(request, pattern, match.allow);
      }
      const handler = Object.hasOwn(match.route.methods, request.method)
        ? match.route.methods[request.method]
        : undefined;
      // `Allow` names OPTIONS too: every route answers it (above).
      if (handler === undefined)
        throw new HttpError('method_not_allowed', { allow: `${match.allow}, OPTIONS` });
      const response = await handler({ request, params: match.params });
      discardBody(request);
      return response;
    } catch (error) {
      discardBody(request);
      if (error instanceof HttpError) return refusalResponse(error);
      // The code only: a caught exception's text could quote anything.
      logger.error('request failed', {
        code: isZeqKeyExError(error) ? error.code : 'unexpected',
        method: request.method,
        route: pattern,
      });
      // The exception itself, stack and all, goes to the app's own reporter only.
      config.onError(error, { method: request.method, route: pattern });
      if (isZeqKeyExError(error, 'store_error'))
        return errorResponse('unavailable', {
          'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS),
        });
      return errorResponse('internal');
    }
  }

  return {
    async fetch(request: Request): Promise<Response> {
      const response = await dispatch(request);
      return responseFor(
        request,
        !config.cors.enabled || request.method === 'OPTIONS'
          ? response
          : config.cors.decorate(request, router.match(request.url)?.route.pattern, response),
      );
    },
    async keyDocument(slug: string): Promise<KeyDocumentJson> {
      const machineId = await machineForCaller(lookupMachine, slug);
      const key = await keys.obtain(slug, machineId);
      // A fresh object per call, as without an identity: the signer's cached one is shared.
      return signer === undefined
        ? keyDocumentOf(key)
        : (JSON.parse((await signer.document(key)).json) as KeyDocumentJson);
    },
    async identity(): Promise<string | undefined> {
      return signer?.identity();
    },
    async rotateKey(
      slug: string,
      rotateOptions: { graceSeconds?: number } = {},
    ): Promise<KeyRotationResult> {
      const machineId = await machineForCaller(lookupMachine, slug);
      const result = await rotation.rotate(slug, machineId, rotateOptions.graceSeconds);
      if (result === undefined)
        throw new ZeqKeyExError('machine_unavailable', 'the machine has no key to rotate');
      return result;
    },
    async recordSession(sessionId: string): Promise<ResponderSession | undefined> {
      if (!isSessionId(sessionId)) return undefined;
      const found = await findRecordSession(sessionStore, recordSessions, sessionId, now());
      return found.status === 'live'
        ? responderSession(found.session, found.channel, recordSessions, now)
        : undefined;
    },
    async kemBackend(): Promise<KemBackendName> {
      return (await kem()).backend;
    },
    async ready(): Promise<void> {
      const slugs = new Set(
        typeof options.machines === 'object' ? Object.keys(options.machines) : [],
      );
      for (const slug of (await config.storedSlugs?.()) ?? []) slugs.add(slug);
      for (const slug of slugs) {
        const found = await lookupMachine(slug);
        // A stored key of a slug no longer served is never used, so it cannot stop the start.
        if ('refusal' in found) continue;
        try {
          await keys.find(slug, found.machineId);
        } catch (error) {
          if (!isZeqKeyExError(error, 'machine_unavailable')) throw error;
          throw new ZeqKeyExError(
            'machine_unavailable',
            `the stored key of machine "${slug}" (${found.machineId}) does not open: a wrong field key, or a damaged key record`,
            { cause: error },
          );
        }
      }
      // Mode-B seeds (§4, §5), where the seed store can list them: each must open too.
      const seedStore = config.seedStore;
      const seeds = seedStore?.list === undefined ? [] : await seedStore.list();
      for (const stored of seeds) {
        try {
          wipe(unsealSeed(sealKey, stored, stored.sealedSeed));
        } catch (error) {
          throw new ZeqKeyExError(
            'machine_unavailable',
            `the stored Mode-B seed of machine ${stored.localMachineId} with peer ${stored.peerMachineId} does not open: a wrong field key, or a damaged seed record`,
            { cause: error },
          );
        }
      }
    },
    close(): void {
      rotation.close();
      signer?.close();
      keys.close();
      recordSessions.close();
      config.closeOwnStores();
      modeB.close();
      wipe(sealKey);
    },
  };
}
