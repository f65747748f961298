/**
 * The HTTP baseline of section 3: a bare `node:http` server that reads each request's body and
 * answers `200` with a fixed JSON body the size of a handshake answer. No routing, no parsing, no
 * cryptography: the most one Node process of this runtime serves on this machine, under the same
 * load as `zeq-keyex serve`. Prints `listening on http://…` as the CLI does.
 */
import http from 'node:http';

const answer = JSON.stringify({
  session_id: 'A'.repeat(22),
  key_confirmation: 'B'.repeat(84),
  fingerprint: '0'.repeat(64),
  expires_at: '2026-01-01T00:00:00.000Z',
});
const headers = {
  'content-type': 'application/json',
  'content-length': String(Buffer.byteLength(answer)),
  'cache-control': 'no-store',
};

const server = http.createServer((request, response) => {
  request.on('data', () => undefined);
  request.on('end', () => {
    response.writeHead(200, headers);
    response.end(answer);
  });
});
server.listen(0, process.argv[2] ?? '127.0.0.1', () => {
  console.log(`listening on http://${server.address().address}:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
