/**
 * Page-side fixtures for the browser suite: a responder and clients wired together by fetch
 * injection (the responder's handler is the client's `fetch`, no sockets), a request log, and a
 * hostile handler that rewrites handshake responses. Nothing here imports `node:*`.
 */
import { expect } from 'vitest';
import { type Client, type ClientOptions, createClient } from '../../src/initiator/client.js';
import { base64Decode, base64Encode } from '../../src/core/encoding.js';
import { type Responder, type ResponderOptions, createResponder } from '../../src/responder.js';

export const ORIGIN = 'https://responder.test';
export const FIELD_KEY = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
export const OTHER_FIELD_KEY = 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';
export const MACHINES: Readonly<Record<string, string>> = {
  'edge-01': 'machine:edge-01',
  'edge-02': 'machine:edge-02',
};

/** A fetch handler. */
export type FetchLike = (request: Request) => Promise<Response>;

/** What went over the injected fetch. */
export interface RequestLog {
  readonly entries: { method: string; path: string }[];
  count(method: string): number;
}

/** Wraps a handler so every request it sees is logged (method and path). */
export function logged(handler: FetchLike): { fetch: FetchLike; log: RequestLog } {
  const entries: { method: string; path: string }[] = [];
  return {
    fetch(request) {
      entries.push({ method: request.method, path: new URL(request.url).pathname });
      return handler(request);
    },
    log: { entries, count: (method) => entries.filter((e) => e.method === method).length },
  };
}

/** A responder for the test machines, with overridable options. */
export function makeResponder(options: Partial<ResponderOptions> = {}): Responder {
  return createResponder({ fieldKey: FIELD_KEY, machines: MACHINES, ...options });
}

/** A client talking to `handler` by fetch injection, never retrying (tests are not about retries). */
export function makeClient(
  handler: FetchLike,
  options: Omit<ClientOptions, 'origin' | 'fetch'> = {},
): Client {
  return createClient({
    origin: ORIGIN,
    retry: 0,
    ...options,
    fetch: (request) => handler(request),
  });
}

/**
 * A hostile responder: passes requests to `handler`, then lets `rewrite` change the JSON body of a
 * successful handshake response before the client sees it.
 */
export function hostile(
  handler: FetchLike,
  rewrite: (body: Record<string, unknown>) => void,
): FetchLike {
  return async (request) => {
    const response = await handler(request);
    if (
      request.method !== 'POST' ||
      !new URL(request.url).pathname.endsWith('/handshake') ||
      response.status !== 200
    )
      return response;
    const body = (await response.json()) as Record<string, unknown>;
    rewrite(body);
    return new Response(JSON.stringify(body), {
      status: response.status,
      headers: response.headers,
    });
  };
}

/** Flips one bit of a canonical base64 value (the confirmation stays well formed). */
export function flipBit(value: unknown, byte: number, bit: number): string {
  expect(typeof value).toBe('string');
  const bytes = base64Decode(value);
  bytes[byte] = (bytes[byte] as number) ^ (1 << bit);
  return base64Encode(bytes);
}
