/**
 * The records endpoint under a flood of uploads to sessions that do not exist, over real loopback
 * sockets through the Node server adapter (spec revision 2, "a responder for the open internet"):
 * each upload sends a body that never ends, and each is answered `404 unknown_session` while it is
 * still being sent — the responder looks the session up before it reads a byte, so held uploads
 * cost it no buffered body. Before, each was read up to 1 MiB and answered `413`.
 */
import { request as httpRequest } from 'node:http';
import { afterEach, expect, test } from 'vitest';
import { ROUTES } from '../src/core/constants.js';
import { createResponder } from '../src/responder/responder.js';
import { type RunningServer, serve } from '../src/node/server.js';
import { FIELD_KEY } from './helpers/responder.js';

const running: RunningServer[] = [];

afterEach(async () => {
  for (const server of running.splice(0)) {
    server.server.closeAllConnections();
    await server.close();
  }
});

/**
 * Posts a body that never ends: a 16 KiB chunk now and one more each time the socket drains, up to
 * 2 MiB, never ended. Resolves with the status and `error` code of the answer, once it comes.
 */
function endlessUpload(server: RunningServer, path: string): Promise<[number, unknown]> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    let answered = false;
    let sent = 0;
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/octet-stream' },
        agent: false,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: unknown };
          resolve([res.statusCode ?? 0, body.error]);
          req.destroy();
        });
      },
    );
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const chunk = new Uint8Array(16 * 1024);
    const more = (): void => {
      while (!answered && sent < 2 * 1024 * 1024) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', more);
          return;
        }
      }
    };
    more();
  });
}

test('150 held uploads to unknown sessions are each answered 404 unknown_session, unread', async () => {
  const responder = createResponder({
    fieldKey: FIELD_KEY,
    machines: { 'edge-01': 'machine:edge-01' },
    onRecord: (plaintext) => plaintext,
  });
  const server = await serve((request) => responder.fetch(request), {
    host: '127.0.0.1',
    port: 0,
  });
  running.push(server);
  const answers = await Promise.all(
    Array.from({ length: 150 }, (_, i) =>
      endlessUpload(server, ROUTES.records('edge-01', `flood${String(i).padStart(17, '0')}`)),
    ),
  );
  expect(answers.filter(([status, code]) => status !== 404 || code !== 'unknown_session')).toEqual(
    [],
  );
  responder.close();
});
