/**
 * The identity path of the bundle budget (`scripts/bundle-budget.mjs`): the client app with an
 * identity pin (spec §8, `zeq-keyex/identity`) instead of a KEM-key pin. What it weighs over the
 * client app is what identity pins add to an app (ML-DSA-65 and the attestation checks).
 *
 * `test/bundle-budget.test.ts` runs it against the SDK's responder with signed key documents.
 */
import { createClient } from 'zeq-keyex';
import { identityTrust } from 'zeq-keyex/identity';

/**
 * One identity-pinned first contact through the SDK.
 * @param {{ origin: string, slug: string, identity: string, fetch?: (request: Request) => Promise<Response> }} options
 * @returns {Promise<{ sessionId: string, identity: string | undefined }>} the session id and the identity.
 */
export async function handshake({ origin, slug, identity, fetch }) {
  const client = createClient({
    origin,
    identity: identityTrust({ pins: { [slug]: identity } }),
    ...(fetch === undefined ? {} : { fetch }),
  });
  const session = await client.handshake(slug);
  session.wipe();
  return { sessionId: session.sessionId, identity: session.identity };
}
