/**
 * The responder's key-rotation admin endpoint, this SDK's mechanism for spec §8.3 (the spec leaves
 * it to implementations): `POST /api/keyex/{slug}/rotate` with `{}` or `{ "grace_seconds": N }`
 * replaces the machine's KEM key (`key-rotation.ts`) and answers `{ slug, machine_id, fingerprint,
 * previous_fingerprint, retired_until }` (`retired_until` in RFC 3339 UTC).
 *
 * Checks, in an order that keeps a refused request from changing anything: admin authorization
 * (the responder's `admin` check, as for Mode-B: none configured → `403 forbidden` for everyone;
 * `401 unauthorized`), slug grammar and machine, content-type, body size (8 KiB), JSON shape,
 * `grace_seconds` (an integer in [0, 30 days], else `400 invalid_request`), and only then the key.
 * A machine with no key yet has nothing to rotate: `409 key_mismatch`.
 *
 * Security caveat: rotation breaks every pin on the machine's KEM key (identity pins survive,
 * §8); that is why it is admin-only.
 * @module
 */
import { MAX_ATTESTATION_VALIDITY_S, MAX_HANDSHAKE_REQUEST_BYTES } from '../core/constants.js';
import { jsonField } from '../core/json.js';
import { type AdminOptions, adminRefusal } from './admin.js';
import { HttpError, isMediaType, jsonResponse, parseJsonObject, readBody } from './http.js';
import type { KeyRotation } from './key-rotation.js';
import type { Logger } from './logger.js';
import type { RequestContext, RouteHandler } from './router.js';

/** What the route needs from the responder. */
export interface RotationRouteDeps {
  readonly admin: AdminOptions | undefined;
  /** Resolves a slug to its machine id, throwing `invalid_slug` / `unknown_machine` as HTTP errors. */
  readonly machineFor: (slug: string) => Promise<string>;
  readonly rotation: KeyRotation;
  readonly logger: Logger;
}

/** `grace_seconds` of the body: absent, or an integer in [0, 30 days]. */
function graceOf(body: Readonly<Record<string, unknown>>): number | undefined {
  const grace = jsonField(body, 'grace_seconds');
  if (grace === undefined) return undefined;
  if (
    typeof grace !== 'number' ||
    !Number.isSafeInteger(grace) ||
    grace < 0 ||
    grace > MAX_ATTESTATION_VALIDITY_S
  )
    throw new HttpError('invalid_request');
  return grace;
}

/**
 * Builds the rotation route handler.
 * @param deps - the admin check, machine lookup, rotation and logger.
 * @returns the handler for `POST`.
 */
export function createRotationRoute(deps: RotationRouteDeps): RouteHandler<RequestContext> {
  const { admin, machineFor, rotation, logger } = deps;
  return async function serveRotation({ request, params }: RequestContext): Promise<Response> {
    const refusal = await adminRefusal(admin, request);
    if (refusal !== undefined) {
      logger.warn('rotation refused', { code: refusal, route: 'rotate' });
      throw new HttpError(refusal);
    }
    const slug = params.get('slug') ?? '';
    const machineId = await machineFor(slug);
    if (!isMediaType(request.headers.get('content-type'), 'application/json'))
      throw new HttpError('unsupported_media_type');
    const grace = graceOf(parseJsonObject(await readBody(request, MAX_HANDSHAKE_REQUEST_BYTES)));
    const result = await rotation.rotate(slug, machineId, grace);
    if (result === undefined) {
      logger.warn('rotation refused: the machine has no key', { code: 'key_mismatch', slug });
      throw new HttpError('key_mismatch');
    }
    return jsonResponse(200, {
      slug: result.slug,
      machine_id: result.machineId,
      fingerprint: result.fingerprint,
      previous_fingerprint: result.previousFingerprint,
      retired_until: new Date(result.retiredUntil).toISOString(),
    });
  };
}
