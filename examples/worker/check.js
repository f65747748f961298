// Bundles worker.js with esbuild, serves it with workerd (`ZEQ_WORKERD`, else `workerd` on the
// PATH), then a pinned handshake from Node over real HTTP and one encrypted record.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { build } from 'esbuild';
import { createClient, sessionRecords } from 'zeq-keyex';

await build({
  entryPoints: ['worker.js'],
  outfile: 'dist/worker.js',
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['browser', 'module', 'main'],
  logLevel: 'warning',
});
await writeFile(
  'dist/config.capnp',
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .edge) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);
const edge :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.js") ],
  bindings = [ (name = "ZEQ_FIELD_KEY", text = "${randomBytes(32).toString('hex')}") ],
  compatibilityDate = "2025-09-01",
);
`,
);

const port = await new Promise((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const workerd = spawn(
  process.env.ZEQ_WORKERD ?? 'workerd',
  ['serve', 'dist/config.capnp', '--socket-addr', `http=127.0.0.1:${port}`],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
const origin = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; ; i++) {
    const up = await fetch(`${origin}/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (i === 300 || workerd.exitCode !== null) throw new Error('workerd did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  // The worker's keys are made in memory on its first request, so the pin is read from its key
  // document here; a deployment pins what `zeq-keyex fingerprint` gives for its stored key.
  const probe = createClient({ origin, insecureUnpinned: true });
  const { fingerprint } = await probe.fetchKeyDocument('edge-01');
  const client = createClient({ origin, pins: { 'edge-01': fingerprint } });
  const session = await client.handshake('edge-01');
  assert.equal(session.fingerprint, fingerprint);
  const reply = await sessionRecords(session).request(new TextEncoder().encode('ping'));
  assert.equal(new TextDecoder().decode(reply), 'pong: ping');
  session.wipe();
  console.log('worker: pinned handshake and one record with workerd: ok');
} finally {
  workerd.kill();
}
