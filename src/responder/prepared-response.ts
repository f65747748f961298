/**
 * The responder's JSON answers as responses that keep their status, headers and body text at hand,
 * so that a server adapter (`src/node/server.ts`) writes them to the socket in one go, with no
 * fetch `Response` made and no web stream read back.
 *
 * A prepared response is a `Response` to everyone else (`instanceof Response`, every property and
 * method): the first use of anything but `status`, `ok` and `statusText` makes the real `Response`
 * from the same status, headers and text, and from then on everything is that response's — its
 * headers can be changed (CORS adds its own), its body read. The adapter's shortcut
 * ({@link preparedAnswerOf}) holds only while nothing made the real one: a response whose headers
 * someone may have changed is written the ordinary way.
 *
 * Only an adapter that asked for them ({@link allowPreparedAnswers}) is handed prepared responses;
 * every other caller gets the real `Response` ({@link responseFor}): a runtime's own server (workerd
 * for one) accepts nothing but its native `Response`, whatever its prototype says.
 *
 * The bytes on the wire are the same either way: the header names lowercase, in the order a
 * `Headers` object lists them (sorted), the body the UTF-8 of the JSON text.
 * @module
 */

/** What an adapter writes for a prepared response: status, header pairs and body text. */
export interface PreparedAnswer {
  readonly status: number;
  /** Name, value, name, value, …: lowercase names, sorted, as `Headers` iterates them. */
  readonly headers: readonly string[];
  /** The body, JSON text. */
  readonly body: string;
}

/**
 * The header pairs of a header record as a `Headers` object would list them: names lowercased and
 * sorted, the values of a name given twice joined with `", "`.
 * @param record - the headers.
 * @returns name, value, name, value, …
 */
export function headerPairs(record: Readonly<Record<string, string>>): readonly string[] {
  const merged = new Map<string, string>();
  for (const [name, value] of Object.entries(record)) {
    const key = name.toLowerCase();
    const known = merged.get(key);
    // `Headers` strips leading and trailing HTTP whitespace from values.
    const trimmed = value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    merged.set(key, known === undefined ? trimmed : `${known}, ${trimmed}`);
  }
  const pairs: string[] = [];
  for (const name of [...merged.keys()].sort()) pairs.push(name, merged.get(name) as string);
  return Object.freeze(pairs);
}

/** A response made on first use; its prototype is `Response.prototype`'s (below). */
class PreparedResponse {
  /** The answer, until the real response is made. */
  #answer: PreparedAnswer | undefined;
  #response: Response | undefined;
  readonly #status: number;

  constructor(answer: PreparedAnswer) {
    this.#answer = answer;
    this.#status = answer.status;
  }

  /** The status, which no use of the response can change. */
  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText(): string {
    return '';
  }

  /** The answer, while no real response was made from it. */
  static answerOf(prepared: PreparedResponse): PreparedAnswer | undefined {
    return prepared.#answer;
  }

  /** The real response, made on first use from the answer. */
  static real(prepared: PreparedResponse): Response {
    const answer = prepared.#answer;
    if (answer !== undefined) {
      const headers: [string, string][] = [];
      for (let i = 0; i < answer.headers.length; i += 2)
        headers.push([answer.headers[i] as string, answer.headers[i + 1] as string]);
      prepared.#response = new Response(answer.body, { status: answer.status, headers });
      prepared.#answer = undefined;
    }
    return prepared.#response as Response;
  }
}

// Everything else of `Response.prototype` is the real response's: each getter and method made to
// forward to it, so that a prepared response behaves as one everywhere.
for (const name of Object.getOwnPropertyNames(Response.prototype)) {
  if (name === 'constructor' || Object.hasOwn(PreparedResponse.prototype, name)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(Response.prototype, name);
  if (descriptor?.get !== undefined) {
    const get = descriptor.get;
    Object.defineProperty(PreparedResponse.prototype, name, {
      configurable: true,
      get(this: PreparedResponse): unknown {
        return get.call(PreparedResponse.real(this));
      },
    });
  } else if (typeof descriptor?.value === 'function') {
    const method = descriptor.value as (...args: unknown[]) => unknown;
    Object.defineProperty(PreparedResponse.prototype, name, {
      configurable: true,
      writable: true,
      value(this: PreparedResponse, ...args: unknown[]): unknown {
        return method.apply(PreparedResponse.real(this), args);
      },
    });
  }
}
Object.setPrototypeOf(PreparedResponse.prototype, Response.prototype);

/**
 * A response for a JSON answer, made on first use (see the module's notes).
 * @param answer - its status, header pairs ({@link headerPairs}) and JSON text.
 * @returns the response.
 */
export function preparedResponse(answer: PreparedAnswer): Response {
  return new PreparedResponse(answer) as unknown as Response;
}

/**
 * The requests whose answers may stay prepared: those a server adapter that writes prepared
 * answers itself made (`src/node/request.ts`). Held weakly, so they go with the request.
 */
const preparedAllowed = new WeakSet<Request>();

/**
 * Lets the responder answer `request` with prepared responses: what an adapter that writes them
 * itself ({@link preparedAnswerOf}) says of the requests it makes.
 * @param request - the request.
 */
export function allowPreparedAnswers(request: Request): void {
  preparedAllowed.add(request);
}

/**
 * The response the responder hands back for `request`: a prepared one only to an adapter that
 * asked for them ({@link allowPreparedAnswers}), a real `Response` to every other caller — a
 * runtime's own server (workerd, Deno, Bun) takes nothing but its native `Response`.
 * @param request - the request answered.
 * @param response - the answer.
 * @returns the answer, made real unless the adapter asked for prepared ones.
 */
export function responseFor(request: Request, response: Response): Response {
  return response instanceof PreparedResponse && !preparedAllowed.has(request)
    ? PreparedResponse.real(response)
    : response;
}

/**
 * The answer of a prepared response that nothing has made a real response of yet: what an adapter
 * may write as it is.
 * @param response - any response.
 * @returns the answer, or `undefined` for any other response, or one already made real.
 */
export function preparedAnswerOf(response: Response): PreparedAnswer | undefined {
  return response instanceof PreparedResponse ? PreparedResponse.answerOf(response) : undefined;
}
