/**
 * Admin authorization for the responder's Mode-B endpoints (spec §4): both are admin-only, and the
 * deployment decides who is an admin through a hook. Without a hook the endpoints refuse everyone.
 *
 * The hook sees the request and answers one of three words: `'admin'`, `'forbidden'` (credentials
 * that are not an admin's → `403 forbidden`) or `'unauthenticated'` (no usable credentials → `401
 * unauthorized`). Anything else, including a hook that throws, never grants access.
 *
 * Security caveats: {@link createBearerTokenAuthorizer} compares SHA-256 digests of the presented
 * and configured tokens in constant time, so timing reveals neither the token nor its length. The
 * hook must not read the request body: the endpoint reads it after the hook has decided.
 * @module
 */
import { sha256, constantTimeEqual } from '../core/primitives.js';
import { utf8 } from '../core/encoding.js';
import { assertAdminToken } from '../core/admin-token.js';

/** The answer of an admin authorization hook. */
export type AdminDecision = 'admin' | 'forbidden' | 'unauthenticated';

/** The deployment's admin check for the Mode-B endpoints. */
export interface AdminOptions {
  /**
   * Decides whether a request carries an admin's credentials (a session cookie, a bearer token, a
   * client certificate forwarded by a proxy, …). Must not consume the body.
   * @param request - the incoming request.
   * @returns `'admin'`, `'forbidden'` or `'unauthenticated'`.
   */
  authorize(request: Request): AdminDecision | Promise<AdminDecision>;
}

/**
 * An admin check by bearer token: `authorization: Bearer <token>` with one of the configured
 * tokens is an admin; a missing header or another scheme is `'unauthenticated'` (401); a bearer
 * token that matches none is `'forbidden'` (403).
 * @param tokens - one token, or several (e.g. while rotating it).
 * @returns the admin options to give the responder.
 * @throws {TypeError} for an empty list or a malformed token (see {@link assertAdminToken}).
 * @example
 * ```ts
 * const responder = createResponder({ fieldKey, machines, admin: createBearerTokenAuthorizer(process.env.ZEQ_ADMIN_TOKEN!) });
 * ```
 */
export function createBearerTokenAuthorizer(tokens: string | readonly string[]): AdminOptions {
  const list = typeof tokens === 'string' ? [tokens] : tokens;
  if (!Array.isArray(list) || list.length === 0)
    throw new TypeError('tokens must be a token or a non-empty array of tokens');
  const digests = list.map((token: unknown) => {
    assertAdminToken(token);
    return sha256(utf8(token));
  });
  return Object.freeze({
    authorize(request: Request): AdminDecision {
      const header = request.headers.get('authorization');
      const match = header === null ? null : /^Bearer +(\S+) *$/i.exec(header);
      if (match === null) return 'unauthenticated';
      const presented = sha256(utf8(match[1] as string));
      let granted = 0;
      // Every configured token is compared, with no early exit.
      for (const digest of digests) granted |= constantTimeEqual(presented, digest) ? 1 : 0;
      return granted === 1 ? 'admin' : 'forbidden';
    },
  });
}

/**
 * Decides an admin-only request: `'admin'` passes; anything else is refused, failing closed.
 * @param admin - the deployment's admin check, if any (none: everyone is refused).
 * @param request - the request (its body is not read).
 * @returns `undefined` for an admin, or the wire code to refuse with: `'unauthorized'` (401) for
 *   `'unauthenticated'`, `'forbidden'` (403) for anything else, a missing check included.
 */
export async function adminRefusal(
  admin: AdminOptions | undefined,
  request: Request,
): Promise<'unauthorized' | 'forbidden' | undefined> {
  if (admin === undefined) return 'forbidden';
  const decision: unknown = await admin.authorize(request);
  if (decision === 'admin') return undefined;
  return decision === 'unauthenticated' ? 'unauthorized' : 'forbidden';
}
