/**
 * The protocol's floor in section 3: the least a one-process `node:http` server can do and still
 * answer keyex-v1 handshakes correctly (spec §2.1, §2.3) — with the built SDK's own functions and
 * its default KEM backend, as `zeq-keyex serve` on the same runtime uses them.
 *
 * Per handshake it reads the body, parses it, decodes the ciphertext, decapsulates, hashes the
 * transcript, derives the record key, seals the key confirmation under a fresh session id, keeps
 * the session in a `Map` and answers. Nothing else: no routing beyond the method, no checks of the
 * request beyond what parsing does, no admission, no replay memory, no time limits, no logging, no
 * fetch `Request`/`Response`. It is not a server to deploy (`serve` is): it shows what the protocol
 * itself costs one Node process on this machine, so that `serve` can be read against it and the
 * bare server against both. The session map holds as many sessions as `serve` does by default, the
 * oldest dropped first.
 *
 * `GET` answers the machine's key document, so that the benchmark's pinned SDK handshake (key
 * confirmation checked) runs against this server as it does against `serve`, before and after the
 * load. Prints `listening on http://…` as the CLI does.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import {
  ALG,
  base64Decode,
  base64Encode,
  computeFingerprint,
  deriveRecordKey,
  firstContactTranscript,
  loadKem,
  sealKeyConfirmation,
} from 'zeq-keyex/protocol';

const SLUG = 'bench-01';
const MACHINE_ID = 'm-bench-01';
const SESSION_TTL_MS = 10 * 60_000;
/** `serve`'s default bound on sessions held. */
const MAX_SESSIONS = 10_000;

const kem = await loadKem();
const secretKey = await kem.importSecretKey(randomBytes(64));
const publicKey = secretKey.publicKey;
const fingerprint = computeFingerprint(publicKey);
const keyDocument = JSON.stringify({
  alg: ALG,
  public_key: base64Encode(publicKey),
  fingerprint,
  machine_id: MACHINE_ID,
});
const sessions = new Map();
/**
 * Session ids in the order they were made, read from `head`. Not `sessions.keys().next()`: V8
 * keeps a deleted entry's slot until the `Map` is rehashed, and iterating from the start walks
 * over every one of them, thousands per handshake once the map is full.
 */
let order = [];
let head = 0;

function dropOldest() {
  sessions.delete(order[head]);
  head += 1;
  if (head > MAX_SESSIONS) {
    order = order.slice(head);
    head = 0;
  }
}

/** Session ids cut from one CSPRNG draw per 64, as `serve` does (a draw per id costs more than the id). */
let pool = Buffer.alloc(0);
function sessionId() {
  if (pool.length < 16) pool = randomBytes(16 * 64);
  const id = pool.subarray(0, 16).toString('base64url');
  pool = pool.subarray(16);
  return id;
}

async function handshake(body) {
  const cipherText = base64Decode(JSON.parse(body).cipher_text);
  const transcript = firstContactTranscript({
    alg: ALG,
    slug: SLUG,
    machineId: MACHINE_ID,
    publicKey,
    cipherText,
  });
  const sharedSecret = await secretKey.decapsulate(cipherText);
  const recordKey = deriveRecordKey(sharedSecret, transcript);
  sharedSecret.fill(0);
  const id = sessionId();
  const keyConfirmation = sealKeyConfirmation(recordKey, transcript, id);
  const expiresAt = Date.now() + SESSION_TTL_MS;
  sessions.set(id, { recordKey, expiresAt });
  order.push(id);
  if (sessions.size > MAX_SESSIONS) dropOldest();
  return JSON.stringify({
    session_id: id,
    key_confirmation: keyConfirmation,
    machine_id: MACHINE_ID,
    fingerprint,
    alg: ALG,
    expires_at: new Date(expiresAt).toISOString(),
  });
}

function answer(response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(body);
}

const server = http.createServer((request, response) => {
  if (request.method === 'GET') return answer(response, 200, keyDocument);
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    handshake(Buffer.concat(chunks).toString('utf8')).then(
      (body) => answer(response, 200, body),
      () => answer(response, 400, '{"error":"invalid_request"}'),
    );
  });
});
server.listen(0, process.argv[2] ?? '127.0.0.1', () => {
  console.log(`listening on http://${server.address().address}:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
