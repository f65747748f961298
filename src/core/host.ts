/**
 * Hosts as the SDK compares and classifies them: the canonical form of a host name or IP address
 * (for allow-lists given by the operator), whether a host is loopback (where credentials may go
 * over plain http), and whether it is loopback, private or link-local (where a Mode-B `initiate`,
 * spec §4.1, may not fetch a peer's key document unless the host is named).
 *
 * Security caveat: only IP literals and `localhost` names are classified; nothing is resolved. A
 * DNS name that resolves to a private address is not caught here, so a deployment that must never
 * reach its own network from `initiate` also needs an egress rule.
 * @module
 */

/**
 * The canonical form of a host name or IP address as a URL's `hostname` writes it (lower case,
 * IPv4 in dotted decimal, IPv6 compressed in brackets), for allow-lists of hosts.
 * @param entry - a host name or IP address (IPv6 with or without brackets), no port.
 * @returns the canonical host, or `undefined` for anything but a bare host.
 */
export function canonicalHost(entry: unknown): string | undefined {
  if (typeof entry !== 'string' || entry.length === 0 || /[\s/?#@\\]/.test(entry)) return undefined;
  // `[::1]:80` would parse with its default port dropped: a bracketed host must end there.
  if (entry.startsWith('[') && !entry.endsWith(']')) return undefined;
  const bracketed = entry.includes(':') && !entry.startsWith('[') ? `[${entry}]` : entry;
  const url = URL.parse(`http://${bracketed}/`);
  if (url === null || url.port !== '' || url.username !== '' || url.password !== '')
    return undefined;
  return url.hostname;
}

/**
 * A list of hosts, each canonical ({@link canonicalHost}).
 * @param value - the option's value (`undefined` is the empty list).
 * @param name - the option's name, for the message.
 * @returns the hosts.
 * @throws {TypeError} for anything but an array of bare hosts.
 */
export function parseHostList(value: unknown, name: string): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of host names`);
  const hosts = new Set<string>();
  for (const entry of value as unknown[]) {
    const host = canonicalHost(entry);
    if (host === undefined) {
      throw new TypeError(
        `${name}: "${String(entry)}" is not a host name or IP address without port or credentials`,
      );
    }
    hosts.add(host);
  }
  return hosts;
}

/**
 * Whether a canonical host is loopback: `localhost` and names under it (RFC 6761), `127.0.0.0/8`
 * and `[::1]`. Only IP literals and these names; nothing is resolved.
 * @param host - a URL's `hostname`.
 * @returns whether credentials may go to it over plain http without being named.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    name === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
  );
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
