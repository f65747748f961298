/**
 * A request body a server adapter hands over without a web stream: the bytes read straight off the
 * connection when the responder asks for them (`readBody` in `http.ts`), or dropped unread. The
 * adapter attaches it to the `Request` it makes (`src/node/request.ts`), as it attaches the client
 * address; a request without one is read through its `body` stream. The source can also answer the
 * headers the responder reads before the body (`content-type`, `content-length`) from the message
 * itself.
 *
 * Security caveat: nothing is read before the responder asks, so admission still comes before a
 * body byte is buffered, and a read stops as soon as the body passes its cap.
 * @module
 */

/** A request's body, read or dropped once. */
export interface BodySource {
  /**
   * Reads the whole body, at most `maxBytes`; past the cap the rest is dropped unread.
   * @param maxBytes - the cap.
   * @returns the bytes, or `undefined` as soon as the body passes the cap.
   * @throws when the body fails or is cut short.
   */
  read(maxBytes: number): Promise<Uint8Array | undefined>;
  /** Drops the body unread. */
  discard(): void;
  /**
   * A header of the request, as its `headers.get(name)` answers it, read without making the
   * `Headers` (building one from a Node message costs more than the rest of reading the request).
   * @param name - the header's name, lowercase.
   * @returns its value, or `null` when the request has none.
   */
  header?(name: string): string | null;
}

/** The sources adapters attached to requests; held weakly, so they go with the request. */
const sources = new WeakMap<Request, BodySource>();

/**
 * Attaches a body source to a request.
 * @param request - the request.
 * @param source - its body.
 */
export function setBodySource(request: Request, source: BodySource): void {
  sources.set(request, source);
}

/**
 * Takes a request's body source off it: it can be used once.
 * @param request - the request.
 * @returns the source, or `undefined` when the request has none (any more).
 */
export function takeBodySource(request: Request): BodySource | undefined {
  const source = sources.get(request);
  sources.delete(request);
  return source;
}

/**
 * A request header, from its body source while it has one that reads headers (the same value as
 * `request.headers.get(name)`), else from `request.headers`.
 * @param request - the request.
 * @param name - the header's name, lowercase.
 * @returns its value, or `null` when the request has none.
 */
export function requestHeader(request: Request, name: string): string | null {
  const source = sources.get(request);
  return source?.header === undefined ? request.headers.get(name) : source.header(name);
}
