// Starts server.js under deno (`ZEQ_DENO`, else `deno` on the PATH), reads the origin and the
// pin it prints, then a pinned handshake from Node over real HTTP and one encrypted record.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createClient, sessionRecords } from 'zeq-keyex';

const ARGS = [
  'run',
  '--quiet',
  '--no-prompt',
  '--no-lock',
  '--allow-net=127.0.0.1',
  '--allow-env',
  'server.js',
];
const child = spawn(process.env.ZEQ_DENO ?? 'deno', ARGS, {
  env: { ...process.env, ZEQ_FIELD_KEY: randomBytes(32).toString('hex'), PORT: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  const ready = await new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`server.js exited (${code}) before it was ready`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^ready (\S+) ([0-9a-f]{64})$/.exec(line);
      if (match) resolve({ origin: match[1], fingerprint: match[2] });
    });
  });
  const client = createClient({ origin: ready.origin, pins: { 'edge-01': ready.fingerprint } });
  const session = await client.handshake('edge-01');
  assert.equal(session.fingerprint, ready.fingerprint);
  const reply = await sessionRecords(session).request(new TextEncoder().encode('ping'));
  assert.equal(new TextDecoder().decode(reply), 'pong: ping');
  session.wipe();
  console.log('deno-server: pinned handshake and one record: ok');
} finally {
  child.kill();
}
