/**
 * The examples of docs/testing.md, run as tests. The first test keeps the page and this file in
 * step: each `ts` block of the page must be the code below, character for character between its
 * markers, with the same imports (the package's entry points mapped to src/).
 */
import { readFileSync } from 'node:fs';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createClient, isZeqKeyExError } from '../src/index.js';
import { createResponderHandlers } from '../src/msw.js';
import { type RunningServer, serve } from '../src/node.js';
import { createResponder } from '../src/responder.js';

/** Where each entry point of the package lives in this repository. */
const ENTRY_POINTS: Record<string, string> = {
  'zeq-keyex': '../src/index.js',
  'zeq-keyex/responder': '../src/responder.js',
  'zeq-keyex/msw': '../src/msw.js',
  'zeq-keyex/node': '../src/node.js',
};

/** `import { a, type B } from 'x';` statements → module → imported names. */
function importsOf(code: string): Map<string, Set<string>> {
  const imports = new Map<string, Set<string>>();
  for (const match of code.matchAll(/^import \{([^}]*)\} from '([^']+)';$/gm)) {
    const names = (match[1] as string)
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
    const from = match[2] as string;
    imports.set(from, new Set([...(imports.get(from) ?? []), ...names]));
  }
  return imports;
}

test('every example of docs/testing.md is in this file, unchanged', () => {
  const page = readFileSync(new URL('../docs/testing.md', import.meta.url), 'utf8');
  const self = readFileSync(new URL(import.meta.url), 'utf8');
  const blocks = [...page.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
  expect(blocks).toHaveLength(3);
  const selfImports = importsOf(self);
  blocks.forEach((block, index) => {
    const body = block
      .split('\n')
      .filter((line) => !line.startsWith('import '))
      .join('\n')
      .trim();
    const begin = `// docs/testing.md, example ${index + 1}: begin\n`;
    const end = `\n// docs/testing.md, example ${index + 1}: end`;
    const start = self.indexOf(begin);
    const stop = self.indexOf(end);
    expect(start, `example ${index + 1} has its markers`).toBeGreaterThanOrEqual(0);
    expect(self.slice(start + begin.length, stop).trim(), `example ${index + 1}`).toBe(body);
    for (const [from, names] of importsOf(block)) {
      const mapped = ENTRY_POINTS[from] ?? from;
      for (const name of names)
        expect(
          selfImports.get(mapped)?.has(name),
          `example ${index + 1} imports ${name} from ${from}`,
        ).toBe(true);
    }
  });
});

// docs/testing.md, example 1: begin
describe('my app, against an in-process responder (msw)', () => {
  const origin = 'https://edge.example';
  const responder = createResponder({
    fieldKey: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', // a test key
    machines: { 'edge-01': 'machine:edge-01' },
  });
  const server = setupServer(...createResponderHandlers(responder, origin));

  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => server.resetHandlers());
  afterAll(() => {
    server.close();
    responder.close();
  });

  test('gets a pinned, confirmed session', async () => {
    // The responder made its key on first use: pin exactly that one.
    const { fingerprint } = await responder.keyDocument('edge-01');
    const client = createClient({ origin, pins: { 'edge-01': fingerprint }, retry: 0 });

    const session = await client.handshake('edge-01');
    expect(session.authenticated).toBe(true);
    expect(session.machineId).toBe('machine:edge-01');
    session.wipe();
  });

  test('refuses a responder whose key is not the pinned one', async () => {
    const client = createClient({ origin, pins: { 'edge-01': 'ab'.repeat(32) }, retry: 0 });
    await expect(client.handshake('edge-01')).rejects.toMatchObject({
      code: 'fingerprint_mismatch',
    });
  });
});
// docs/testing.md, example 1: end

// docs/testing.md, example 2: begin
describe('my app, against an in-process responder (fetch injection)', () => {
  const responder = createResponder({
    fieldKey: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', // a test key
    machines: { 'edge-01': 'machine:edge-01' },
  });
  afterAll(() => responder.close());

  test('gets a pinned, confirmed session', async () => {
    const { fingerprint } = await responder.keyDocument('edge-01');
    const client = createClient({
      origin: 'https://edge.example',
      pins: { 'edge-01': fingerprint },
      fetch: (request) => responder.fetch(request),
      retry: 0,
    });

    const session = await client.handshake('edge-01');
    expect(session.trust).toBe('pinned');
    expect(session.recordKey).toHaveLength(32);
    session.wipe();
  });

  test('reports a responder that is down', async () => {
    const client = createClient({
      origin: 'https://edge.example',
      pins: { 'edge-01': (await responder.keyDocument('edge-01')).fingerprint },
      // Any fetch handler will do: wrap responder.fetch, or answer by hand.
      fetch: async () =>
        new Response(JSON.stringify({ error: 'internal', message: 'down for maintenance' }), {
          status: 503,
          headers: { 'content-type': 'application/json' },
        }),
      retry: 0,
    });

    const error: unknown = await client.handshake('edge-01').catch((e: unknown) => e);
    expect(isZeqKeyExError(error, 'http_error')).toBe(true);
    expect(error).toMatchObject({ status: 503, responseCode: 'internal' });
  });
});
// docs/testing.md, example 2: end

// docs/testing.md, example 3: begin
describe('my app, against a responder on a loopback socket', () => {
  const responder = createResponder({
    fieldKey: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', // a test key
    machines: { 'edge-01': 'machine:edge-01' },
  });
  let server: RunningServer;

  beforeAll(async () => {
    server = await serve(responder.fetch, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    responder.close();
  });

  test('gets a pinned, confirmed session', async () => {
    const { fingerprint } = await responder.keyDocument('edge-01');
    const client = createClient({ origin: server.url, pins: { 'edge-01': fingerprint }, retry: 0 });
    expect((await client.handshake('edge-01')).authenticated).toBe(true);
  });
});
// docs/testing.md, example 3: end
