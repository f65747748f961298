/**
 * The Mode-B initiator's fetch of its peer's key document (spec §4.1): the SDK's own client code —
 * the transport (time limit, 64 KiB size limit, error mapping) and {@link parseKeyDocument} (the
 * checks of §2.1) — with no retries and no redirects.
 *
 * Security caveats: nothing of the incoming admin request (its credentials in particular) is sent
 * to the peer; the request carries only `accept: application/json`. Redirects are not followed: a
 * peer that answers with one has not answered with a key document, and following it could move
 * the fetch to another host or from https to plain http.
 * - {@link isPrivatePeerHost} classifies IP literals and `localhost` only: a DNS name that resolves
 *   to a private address is not caught here (the fetch resolves it), so a deployment that must
 *   never reach its own network from `initiate` also needs an egress rule.
 * @module
 */
import { ALG, ROUTES } from '../core/constants.js';
import { type KeyDocument, parseKeyDocument } from '../core/document.js';
import { type FetchFunction, createTransport, refuseRedirects } from '../initiator/transport.js';

/** Options of {@link fetchPeerKeyDocument}. */
export interface PeerFetchOptions {
  /** The fetch to use (the global one by default). */
  fetch?: FetchFunction;
  /** Time limit, headers and body included. */
  timeoutMs: number;
  /** Aborts the fetch (e.g. when the admin request is abandoned). */
  signal?: AbortSignal;
}

/**
 * Fetches and validates `{peerOrigin}/api/keyex/{peerSlug}/pubkey`.
 * @param peerOrigin - the peer's origin (with optional base path, no trailing slash), already
 *   checked against the deployment's scheme policy.
 * @param peerSlug - the peer machine's slug, already validated.
 * @param options - fetch, time limit, signal.
 * @returns the validated document.
 * @throws {ZeqKeyExError} transport codes (`network_error`, `timeout`, `aborted`, `http_error`,
 *   `response_too_large`, `malformed_response`) and the §2.1 codes of {@link parseKeyDocument}.
 */
export async function fetchPeerKeyDocument(
  peerOrigin: string,
  peerSlug: string,
  options: PeerFetchOptions,
): Promise<KeyDocument> {
  const transport = createTransport({
    fetch: refuseRedirects(options.fetch),
    timeoutMs: options.timeoutMs,
    retry: 0,
  });
  const { body } = await transport.getJson(
    peerOrigin + ROUTES.pubkey(peerSlug),
    options.signal === undefined ? {} : { signal: options.signal },
  );
  return parseKeyDocument(body, [ALG]);
}

/** IPv4 ranges a peer may not be in unless named: `[first octets as a 32-bit prefix, length]`. */
const PRIVATE_IPV4: readonly (readonly [number, number])[] = [
  [0x00000000, 8], // 0.0.0.0/8, "this network" (0.0.0.0 reaches the local host)
  [0x0a000000, 8], // 10.0.0.0/8, private (RFC 1918)
  [0x64400000, 10], // 100.64.0.0/10, shared address space (RFC 6598)
  [0x7f000000, 8], // 127.0.0.0/8, loopback
  [0xa9fe0000, 16], // 169.254.0.0/16, link-local (cloud metadata services live here)
  [0xac100000, 12], // 172.16.0.0/12, private (RFC 1918)
  [0xc0a80000, 16], // 192.168.0.0/16, private (RFC 1918)
];

function isPrivateIpv4(address: number): boolean {
  return PRIVATE_IPV4.some(([prefix, length]) => (address ^ prefix) >>> (32 - length) === 0);
}

/** The eight 16-bit groups of a compressed IPv6 address as a URL writes it (no brackets). */
function ipv6Groups(text: string): number[] | undefined {
  const [head = '', tail, extra] = text.split('::');
  if (extra !== undefined) return undefined;
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = 8 - left.length - right.length;
  if (zeros < 0 || (tail === undefined && zeros !== 0)) return undefined;
  const groups = [...left, ...Array<number>(zeros).fill(0), ...right];
  return groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff)
    ? groups
    : undefined;
}

/**
 * Whether a peer host is one `initiate` refuses unless the operator names it
 * (`modeB.allowPrivatePeerHosts`): `localhost` and names under it; IPv4 literals in `0/8`, `10/8`,
 * `100.64/10`, `127/8`, `169.254/16`, `172.16/12`, `192.168/16`; IPv6 `::`, `::1`, `fc00::/7`
 * (unique local), `fe80::/10` (link-local), `fec0::/10` (site-local), and an IPv4 address of those
 * ranges embedded as IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible (`::/96`) or NAT64
 * (`64:ff9b::/96`).
 * @param host - a URL's `hostname` (lower case, IPv4 dotted decimal, IPv6 in brackets).
 * @returns whether the host is loopback, private or link-local. Names are not resolved.
 */
export function isPrivatePeerHost(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    return isPrivateIpv4(((a << 24) | (b << 16) | (c << 8) | d) >>> 0);
  }
  if (!name.startsWith('[') || !name.endsWith(']')) return false;
  const groups = ipv6Groups(name.slice(1, -1));
  // A bracketed host a URL accepted is IPv6; one this parser cannot read is refused, not allowed.
  if (groups === undefined) return true;
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const embedded = ((g6 << 16) | g7) >>> 0;
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (upperZero && (g5 === 0xffff || g5 === 0)) {
    // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), and :: / ::1 themselves.
    return g5 === 0 && g6 === 0 && g7 <= 1 ? true : isPrivateIpv4(embedded);
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0)
    return isPrivateIpv4(embedded);
  return (g0 & 0xfe00) === 0xfc00 || (g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0;
}
