// Builds the app (`next build`), serves it (`next start`) on a free port, and completes a pinned
// handshake and one encrypted record round trip through its route handlers over real HTTP.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, sessionRecords } from 'zeq-keyex';
import { createFileKeyStore } from 'zeq-keyex/node';
import { createResponder } from 'zeq-keyex/responder';

const here = path.dirname(fileURLToPath(import.meta.url));
const nextBin = path.join(here, 'node_modules', 'next', 'dist', 'bin', 'next');
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };

/** Runs `next <args>`; `wait` resolves to its exit code. */
function next(args, extraEnv = {}) {
  const child = spawn(process.execPath, [nextBin, ...args], {
    cwd: here,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (output += d));
  const wait = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  // In this process's group: whoever stops the check (a time limit) stops the server too.
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await wait;
  };
  return { child, wait, stop, output: () => output };
}

const freePort = () =>
  new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });

const build = next(['build']);
const built = await build.wait;
if (built !== 0) {
  console.error(build.output());
  throw new Error(`next build exited ${built}`);
}

// The operator's step: the machine's key is made and stored first, and its fingerprint pinned.
const fieldKey = randomBytes(32).toString('hex');
const keyDir = path.join(await mkdtemp(path.join(tmpdir(), 'zeq-nextjs-')), 'keys');
const provisioner = createResponder({
  fieldKey,
  keyStore: createFileKeyStore(keyDir),
  machines: { 'edge-01': 'machine:edge-01' },
});
const { fingerprint } = await provisioner.keyDocument('edge-01');
provisioner.close();

const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const server = next(['start', '--hostname', '127.0.0.1', '--port', String(port)], {
  ZEQ_FIELD_KEY: fieldKey,
  ZEQ_KEY_DIR: keyDir,
});
try {
  // Ready when the server answers (any status); give up if it exits first.
  let exited = false;
  void server.wait.then(() => (exited = true));
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`next start exited:\n${server.output()}`);
    if (i > 300) throw new Error(`next start did not answer:\n${server.output()}`);
    try {
      await fetch(`${origin}/`);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const client = createClient({ origin, pins: { 'edge-01': fingerprint } });
  const session = await client.handshake('edge-01');
  assert.equal(session.fingerprint, fingerprint);
  const reply = await sessionRecords(session).request(new TextEncoder().encode('ping'));
  assert.equal(new TextDecoder().decode(reply), 'pong: ping');
  session.wipe();
  console.log('nextjs: pinned handshake and one record through next start: ok');
} catch (error) {
  console.error(server.output());
  throw error;
} finally {
  await server.stop();
  await rm(path.dirname(keyDir), { recursive: true, force: true });
}
