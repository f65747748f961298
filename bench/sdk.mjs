/**
 * The SDK as users get it: the built package in `dist/`.
 *
 * Builds: Node resolves `zeq-keyex` to the Node build (the `node` export condition:
 * `dist/index.node.js`, node:crypto ML-KEM and AES-GCM); browsers, workers and bundlers get the
 * portable build (`dist/index.js`: WebCrypto ML-KEM, noble AES-GCM). The suite imports the Node
 * build by the package's own name, and the portable build by its file, to measure the WebCrypto
 * backend under Node 24. A build without a separate Node entry is measured once.
 *
 * KEM backends: a build with the `kem` option (`'noble' | 'native' | 'auto'`) is detected at run
 * time: an unknown value must be refused at creation, and `responder.kemBackend()` says what a
 * choice resolves to here (`kem_unavailable` when `'native'` has nothing to use). A build without
 * the option has one backend, noble.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT } from './lib.mjs';

export const SLUG = 'bench-01';
export const MACHINE_ID = 'm-bench-01';
/** The origin the in-process client talks to; nothing listens there, the fetch is injected. */
export const ORIGIN = 'http://zeq-keyex.bench';

const DIST = path.join(ROOT, 'dist');
/** The built CLI, what `npx zeq-keyex` runs. */
export const CLI = path.join(DIST, 'cli.js');

/**
 * The arguments of `node` running `zeq-keyex serve` for the bench's one machine on a free port.
 * @param host - the address to listen on.
 * @param extra - more `serve` flags.
 */
export function serveCommand(host, ...extra) {
  return [
    CLI,
    'serve',
    '--host',
    host,
    '--port',
    '0',
    '--machine',
    `${SLUG}=${MACHINE_ID}`,
    ...extra,
  ];
}

/** What `resolveBackend` names a backend (`responder.kemBackend()`), mapped to the raw bound's id. */
export const RAW_OF = { noble: 'noble', node: 'node:crypto', webcrypto: 'webcrypto' };

function describe(error) {
  return error?.code
    ? `${error.code}${error.message && error.message !== error.code ? `: ${error.message}` : ''}`
    : `${error?.name ?? 'Error'}: ${error?.message ?? String(error)}`;
}

/**
 * The builds in `dist/`: `[{ id: 'node' | 'portable' | 'single', label, sdk }]`.
 * `sdk` merges the exports of the main, protocol and responder entries.
 */
export async function loadBuilds() {
  if (!existsSync(path.join(DIST, 'index.js')))
    throw new Error('dist/ is missing: build first (npm run build)');
  const byName = {
    ...(await import('zeq-keyex')),
    ...(await import('zeq-keyex/protocol')),
    ...(await import('zeq-keyex/responder')),
  };
  const resolved = fileURLToPath(import.meta.resolve('zeq-keyex'));
  const portableFile = path.join(DIST, 'index.js');
  if (path.resolve(resolved) === path.resolve(portableFile))
    return [{ id: 'single', label: 'dist', sdk: byName }];
  const portable = {
    ...(await import(pathToFileURL(portableFile).href)),
    ...(await import(pathToFileURL(path.join(DIST, 'protocol.js')).href)),
    ...(await import(pathToFileURL(path.join(DIST, 'responder.js')).href)),
  };
  return [
    { id: 'node', label: `Node build (${path.basename(resolved)})`, sdk: byName },
    { id: 'portable', label: 'portable build (index.js)', sdk: portable },
  ];
}

/** The Node build (what `import 'zeq-keyex'` gives under Node). */
export async function loadSdk() {
  return (await loadBuilds())[0].sdk;
}

/** Whether this build has the `kem` option: an unknown value must be refused at creation. */
export function hasKemOption(sdk) {
  try {
    sdk.createClient({ origin: ORIGIN, insecureUnpinned: true, kem: '__not-a-backend__' });
    return false;
  } catch (error) {
    return error instanceof TypeError || error instanceof RangeError;
  }
}

/** What a `kem` option resolves to on this runtime: `{ backend }` or `{ unavailable }`. */
export async function resolveBackend(sdk, option) {
  const responder = sdk.createResponder({
    fieldKey: randomBytes(32).toString('hex'),
    machines: { [SLUG]: MACHINE_ID },
    ...option,
  });
  try {
    if (typeof responder.kemBackend !== 'function') return { backend: 'noble' };
    return { backend: await responder.kemBackend() };
  } catch (error) {
    return { unavailable: `kem '${option.kem}' fails here with ${error?.code ?? describe(error)}` };
  } finally {
    responder.close();
  }
}

/**
 * The SDK backends to measure on this runtime, each once: noble and native from the Node build,
 * native from the portable build (WebCrypto). Also what the default (`'auto'`) picks.
 * @returns `{ hasOption, note, defaultBackend, backends: [{ id, label, build, sdk, option, backend?, unavailable? }] }`.
 */
export async function sdkBackends() {
  const builds = await loadBuilds();
  const main = builds[0];
  if (!hasKemOption(main.sdk)) {
    return {
      hasOption: false,
      note: 'this build of zeq-keyex has no `kem` option: the SDK always uses @noble/post-quantum',
      defaultBackend: 'noble',
      backends: [
        {
          id: 'noble',
          label: 'noble (built in)',
          build: main.id,
          sdk: main.sdk,
          option: {},
          backend: 'noble',
        },
        {
          id: 'native',
          label: 'native',
          build: main.id,
          sdk: main.sdk,
          unavailable: 'this build has no `kem` option (native backends not landed)',
        },
      ],
    };
  }
  const wanted = [
    { id: 'noble', build: main, option: { kem: 'noble' } },
    { id: 'native', build: main, option: { kem: 'native' } },
    ...builds
      .filter((b) => b.id === 'portable')
      .map((b) => ({ id: 'native-portable', build: b, option: { kem: 'native' } })),
  ];
  const backends = [];
  for (const w of wanted) {
    const found = await resolveBackend(w.build.sdk, w.option);
    const where = w.build.id === 'portable' ? ', portable build' : '';
    backends.push({
      id: w.id,
      label:
        found.backend === undefined
          ? `${w.option.kem}${where}`
          : w.option.kem === 'noble'
            ? `noble${where}`
            : `native → ${found.backend}${where}`,
      build: w.build.id,
      sdk: w.build.sdk,
      option: w.option,
      ...found,
    });
  }
  const auto = await resolveBackend(main.sdk, {});
  return { hasOption: true, defaultBackend: auto.backend ?? 'unavailable', backends };
}

/**
 * A responder and a pinned client talking through fetch injection (no sockets).
 * @returns `{ responder, client, doc, close }`.
 */
export async function inProcessPair(sdk, option, extra = {}) {
  const responder = sdk.createResponder({
    fieldKey: randomBytes(32).toString('hex'),
    machines: { [SLUG]: MACHINE_ID },
    ...option,
    ...extra.responder,
  });
  const doc = await responder.keyDocument(SLUG);
  const client = sdk.createClient({
    origin: ORIGIN,
    pins: { [SLUG]: doc.fingerprint },
    fetch: (request) => responder.fetch(request),
    retry: 0,
    ...option,
    ...extra.client,
  });
  return { responder, client, doc, close: () => responder.close() };
}
