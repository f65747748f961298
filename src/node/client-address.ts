/**
 * Who a request to `serve` comes from, for the responder's per-client limits
 * (`responder/admission.ts`): the socket's remote address, or, behind proxies the operator trusts
 * (`trustProxy`), the right-most `X-Forwarded-For` address that is not one of them. `serve` attaches
 * it to the request it passes to the fetch handler (`setClientAddress`), out of any client's reach.
 *
 * Security caveat: `X-Forwarded-For` is believed only from a trusted proxy's own address; from any
 * other peer the header is ignored, so a client cannot name itself someone else.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** An address as it is compared and passed on: IPv4-mapped IPv6 as plain IPv4, lower case. */
function normaliseAddress(address: string): string {
  const lower = address.trim().toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/**
 * The client's address: the socket's remote address, or, for a request from a trusted proxy, the
 * right-most `X-Forwarded-For` address that is not a trusted proxy (the left-most when all are;
 * the proxy's own when the header is missing or that entry is not an IP address).
 */
export function clientAddressOf(
  req: IncomingMessage,
  trusted: ReadonlySet<string>,
): string | undefined {
  const remote = req.socket.remoteAddress;
  if (remote === undefined) return undefined;
  const peer = normaliseAddress(remote);
  if (!trusted.has(peer)) return peer;
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded !== 'string') return peer;
  const hops = forwarded.split(',').map(normaliseAddress);
  let chosen = hops[0];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!trusted.has(hop)) {
      chosen = hop;
      break;
    }
  }
  return chosen !== undefined && isIP(chosen) !== 0 ? chosen : peer;
}

/** The trusted proxies' addresses, normalised. */
export function parseTrustProxy(value: unknown): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw new TypeError('trustProxy must be an array of IP addresses');
  return new Set(
    value.map((address: unknown) => {
      if (typeof address !== 'string' || isIP(address.trim()) === 0)
        throw new TypeError('trustProxy must be an array of IP addresses');
      return normaliseAddress(address);
    }),
  );
}
