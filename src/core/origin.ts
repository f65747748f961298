/**
 * Where a responder lives: an origin, optionally with a base path (`https://edge.example/zeq`),
 * as the initiator client, the Mode-B admin client, the msw kit and the CLI all take it.
 *
 * One grammar everywhere: an absolute `http:` or `https:` URL without query, fragment or
 * credentials (userinfo would end up in logs and `Referer`s, and a query or fragment has no
 * meaning under the spec's fixed routes). The normal form is the URL's origin and path with any
 * trailing slashes removed, so `https://Edge.example/` and `https://edge.example` name the same
 * responder — which matters where the origin is part of a key, as in a TOFU store (spec §6).
 * @module
 */

/**
 * Normalises a responder's origin.
 * @param origin - the origin, a string or a `URL`.
 * @returns the normal form (`https://edge.example`, `https://edge.example/zeq`), or `undefined`
 *   when it is not an http(s) URL without query, fragment or credentials.
 */
export function parseOrigin(origin: unknown): string | undefined {
  if (typeof origin !== 'string' && !(origin instanceof URL)) return undefined;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
    return undefined;
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

/**
 * {@link parseOrigin} for programmer input: a malformed origin is a mistake in configuration.
 * @param origin - the origin.
 * @param name - the option's name, for the message.
 * @returns the normal form.
 * @throws {TypeError} when it is not an http(s) URL without query, fragment or credentials.
 */
export function normaliseOrigin(origin: unknown, name = 'origin'): string {
  const normal = parseOrigin(origin);
  if (normal === undefined)
    throw new TypeError(`${name} must be an http(s) URL without query, fragment or credentials`);
  return normal;
}
