/**
 * The responder's key-document route, spec §2.1: `GET /api/keyex/{slug}/pubkey` answers the
 * machine's key document `{ alg, public_key, fingerprint, machine_id }`, generating the machine's
 * key on the first request that asks for it (`key-manager.ts`).
 *
 * Checks, in order: slug grammar, machine, then the key; a machine without a key yet costs the
 * client a key-generation token first (`429 rate_limited` when it has none, `admission.ts`). The document is served as the JSON text
 * the key manager serialised when it opened the key.
 *
 * With an identity (`identity.ts`), the document carries its `attestation` (§8.1), signed once per
 * period and slug and served from the signer's cache; an identity that is missing or does not open
 * makes every document unavailable (`500`), never unsigned.
 *
 * Security caveat: the document is public; it is what initiators pin (spec §6). A stored key that
 * does not open makes the machine unavailable (`500`), never a reason to make a new key.
 * @module
 */
import type { Admission } from './admission.js';
import { jsonTextResponse } from './http.js';
import type { IdentitySigner } from './identity.js';
import type { KeyManager } from './key-manager.js';
import type { RequestContext, RouteHandler } from './router.js';

/** What the route needs from the responder. */
export interface KeyDocumentRouteDeps {
  /** Resolves a slug to its machine id, throwing `invalid_slug` / `unknown_machine` as HTTP errors. */
  readonly machineFor: (slug: string) => Promise<string>;
  readonly keys: KeyManager;
  /** Per-client key-generation buckets (`admission.ts`). */
  readonly admission: Admission;
  /** Signs the document with the deployment's identity (§8.1), when one is configured. */
  readonly signer?: IdentitySigner | undefined;
}

/**
 * Builds the §2.1 route handler.
 * @param deps - the responder's machine lookup and key manager.
 * @returns the handler for `GET`.
 */
export function createKeyDocumentRoute(deps: KeyDocumentRouteDeps): RouteHandler<RequestContext> {
  const { machineFor, keys, admission, signer } = deps;
  return async function serveKeyDocument({ request, params }: RequestContext): Promise<Response> {
    const slug = params.get('slug') ?? '';
    const machineId = await machineFor(slug);
    // Serving a key that exists costs nothing; making one costs a limited client a token.
    let key = admission.applies('keyGeneration', request)
      ? await keys.find(slug, machineId)
      : undefined;
    if (key === undefined) {
      await admission.take('keyGeneration', request);
      key = await keys.obtain(slug, machineId);
    }
    return jsonTextResponse(
      200,
      signer === undefined ? key.documentJson : (await signer.document(key)).json,
    );
  };
}
