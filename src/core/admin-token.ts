/**
 * The grammar of a Mode-B admin token (spec §4): what the responder's bearer-token check
 * (`responder/admin.ts`) accepts as configuration and what the admin client
 * (`initiator/admin-client.ts`) and the CLI send. One rule on both sides, so a token that one
 * side accepts is never refused by the other.
 *
 * Security caveat: the length floor is about guessing, not secrecy at rest; the token travels in
 * an `authorization` header, so it needs TLS to any host but loopback.
 * @module
 */

/** RFC 6750 §2.1 `b64token`. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** The shortest token {@link createBearerTokenAuthorizer} accepts. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/**
 * Checks an admin token given by the operator.
 * @param token - the token.
 * @throws {TypeError} unless it is an RFC 6750 `b64token` of at least 16 characters.
 */
export function assertAdminToken(token: unknown): asserts token is string {
  if (
    typeof token !== 'string' ||
    token.length < MIN_ADMIN_TOKEN_LENGTH ||
    !BEARER_TOKEN.test(token)
  ) {
    throw new TypeError(
      `an admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (then optional "=")`,
    );
  }
}
