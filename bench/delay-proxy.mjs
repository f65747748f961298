/**
 * An emulated network link for section 8: a TCP proxy on loopback that holds every chunk it
 * relays for half a fixed round-trip time, in each direction, so that a request and its response
 * together take one RTT more than on loopback. Bytes are relayed unchanged and in order (every
 * chunk waits the same time); bandwidth is not limited and nothing is lost.
 *
 * `node bench/delay-proxy.mjs UPSTREAM_URL RTT_MS` — prints `listening on http://127.0.0.1:PORT`
 * (as `zeq-keyex serve` does) and relays every connection to UPSTREAM_URL's host and port.
 *
 * The TCP connection set-up itself is not delayed: a client that keeps its connections alive (as
 * undici's fetch does) pays it once, and every measured request after the first reuses one.
 */
import net from 'node:net';

const [upstreamArg, rttArg] = process.argv.slice(2);
const upstream = new URL(upstreamArg ?? '');
const rttMs = Number(rttArg);
if (!Number.isFinite(rttMs) || rttMs < 0) throw new RangeError('RTT_MS must be a number >= 0');
const halfMs = rttMs / 2;

/** Writes each chunk of `from` to `to` `halfMs` after it arrived; ends `to` after the last. */
function relay(from, to) {
  let pending = 0;
  let ended = false;
  from.on('data', (chunk) => {
    pending++;
    setTimeout(() => {
      pending--;
      if (!to.destroyed) to.write(chunk);
      if (ended && pending === 0) to.end();
    }, halfMs);
  });
  from.on('end', () => {
    ended = true;
    if (pending === 0) setTimeout(() => to.end(), halfMs);
  });
}

const server = net.createServer((client) => {
  client.setNoDelay(true);
  const target = net.connect({ host: upstream.hostname, port: Number(upstream.port) });
  target.setNoDelay(true);
  relay(client, target);
  relay(target, client);
  const close = () => {
    client.destroy();
    target.destroy();
  };
  client.on('error', close);
  target.on('error', close);
  client.on('close', () => setTimeout(() => target.destroy(), halfMs));
  target.on('close', () => setTimeout(() => client.destroy(), halfMs));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
