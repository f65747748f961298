/**
 * A page on one origin against a responder on another, in Chromium: with CORS the browser's own
 * preflight passes and a pinned handshake and a record succeed; without it the browser blocks the
 * answer and the client reports `network_error` naming the request.
 */
import { expect, inject, test } from 'vitest';
import { isZeqKeyExError } from '../../src/core/errors.js';
import { createClient, sessionRecords } from '../../src/index.js';

test('the page and the responder are on different origins', () => {
  expect(new URL(inject('corsResponderUrl')).origin).not.toBe(location.origin);
});

test('with CORS: a confirmed session and a record reply', async () => {
  const client = createClient({
    origin: inject('corsResponderUrl'),
    pins: { 'edge-01': inject('corsFingerprint') },
    retry: 0,
  });
  const session = await client.handshake('edge-01');
  expect(session.authenticated).toBe(true);
  const reply = await sessionRecords(session).request(new TextEncoder().encode('from the page'));
  expect(new TextDecoder().decode(reply)).toBe('from the page');
  session.wipe();
});

test('without CORS: the browser blocks it, network_error naming the request', async () => {
  const origin = inject('closedResponderUrl');
  const client = createClient({ origin, insecureUnpinned: true, retry: 0 });
  const error = await client.handshake('edge-01').catch((e: unknown) => e);
  expect(isZeqKeyExError(error, 'network_error')).toBe(true);
  expect((error as { url?: string }).url).toBe(`${origin}/api/keyex/edge-01/pubkey`);
});
