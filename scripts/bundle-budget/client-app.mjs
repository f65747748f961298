/**
 * The app the bundle budget measures (`scripts/bundle-budget.mjs`): it imports only the client
 * from `zeq-keyex` and does one pinned handshake. Everything a bundler keeps of the package for
 * this counts against the budget.
 *
 * `test/bundle-budget.test.ts` runs it against the SDK's responder.
 */
import { createClient } from 'zeq-keyex';

/**
 * One pinned first contact through the SDK.
 * @param {{ origin: string, slug: string, pin: string, fetch?: (request: Request) => Promise<Response> }} options
 * @returns {Promise<{ sessionId: string, recordKey: Uint8Array }>} the session id and record key.
 */
export async function handshake({ origin, slug, pin, fetch }) {
  const client = createClient({
    origin,
    pins: { [slug]: pin },
    ...(fetch === undefined ? {} : { fetch }),
  });
  const session = await client.handshake(slug);
  return { sessionId: session.sessionId, recordKey: session.recordKey };
}
