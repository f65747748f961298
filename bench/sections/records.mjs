/**
 * Section 4: records (spec §3). One record sealed by the initiator's channel (`sessionRecords(session).seal`)
 * and opened by the responder's (`ResponderSession.open`), per size, and the same through the
 * asynchronous calls (`sealAsync` / `openAsync`: WebCrypto's AES-GCM in the portable build), against
 * raw AES-256-GCM on the same buffers: `@noble/ciphers` (what the SDK is built on), `node:crypto`
 * and WebCrypto.
 *
 * MB/s counts each plaintext byte once per seal+open pair (MB = 10^6 bytes). The raw rows use a
 * fresh counter nonce per record, associated data of the SDK's size for these records (13-byte
 * header, LP(22-character session id), LP(empty)) = 43 bytes, and each API at its fastest: one key
 * object made once (node:crypto `KeyObject`, WebCrypto `CryptoKey`), no extra copies.
 */
import crypto from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import { check, loopFor, measureRates, pairedRatio } from '../lib.mjs';
import { SLUG, hasKemOption, inProcessPair, loadBuilds } from '../sdk.mjs';

export const SIZES = [64, 1024, 16 * 1024, 1024 * 1024];
const AAD_BYTES = 43;
const TAG = { authTagLength: 16 };

function nonceAt(counter) {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(Math.floor(counter / 2 ** 32), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
  return nonce;
}

function rawAeads() {
  const key = crypto.randomBytes(32);
  const keyObject = crypto.createSecretKey(key);
  const aad = crypto.randomBytes(AAD_BYTES);
  const subtle = globalThis.crypto?.subtle;
  let webKey;
  // One update and final each way, the key a KeyObject made once.
  const nodeSeal = (nonce, plaintext) => {
    const cipher = crypto.createCipheriv('aes-256-gcm', keyObject, nonce, TAG);
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    cipher.final();
    return { body, tag: cipher.getAuthTag() };
  };
  const nodeOpen = (nonce, body, tag) => {
    const decipher = crypto.createDecipheriv('aes-256-gcm', keyObject, nonce, TAG);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const opened = decipher.update(body);
    decipher.final();
    return opened;
  };
  return {
    async init() {
      if (subtle !== undefined)
        webKey = await subtle.importKey('raw', key, { name: 'AES-GCM' }, false, [
          'encrypt',
          'decrypt',
        ]);
    },
    list: [
      {
        id: 'noble',
        label: '@noble/ciphers',
        make: (plaintext) => (i) => {
          const nonce = nonceAt(i);
          const sealed = gcm(key, nonce, aad).encrypt(plaintext);
          return gcm(key, nonce, aad).decrypt(sealed);
        },
      },
      {
        id: 'node:crypto',
        label: 'node:crypto',
        // The fastest way through this API: the key made a KeyObject once (as a sender keeps one
        // key for many records; on Node 24 this is ~4× faster for small records than raw key
        // bytes), one update and final each way, no copies.
        make: (plaintext) => (i) => {
          const nonce = nonceAt(i);
          const { body, tag } = nodeSeal(nonce, plaintext);
          return nodeOpen(nonce, body, tag);
        },
      },
      {
        // A reference, not a bound the target reads: node:crypto writing the wire format of a
        // record (header ‖ ciphertext ‖ tag in one buffer, as spec §3 sends it). node:crypto's
        // cipher returns the ciphertext in a buffer of its own, so this costs one copy more.
        id: 'node:crypto-record',
        label: 'node:crypto, into one record',
        reference: true,
        make: (plaintext) => (i) => {
          const nonce = nonceAt(i);
          const { body, tag } = nodeSeal(nonce, plaintext);
          const record = new Uint8Array(13 + body.length + 16);
          record.set(body, 13);
          record.set(tag, 13 + body.length);
          return nodeOpen(
            nonce,
            record.subarray(13, record.length - 16),
            record.subarray(record.length - 16),
          );
        },
      },
      {
        id: 'webcrypto',
        label: 'WebCrypto',
        unavailable: subtle === undefined ? 'no crypto.subtle in this runtime' : undefined,
        make: (plaintext) => async (i) => {
          const params = { name: 'AES-GCM', iv: nonceAt(i), additionalData: aad };
          const sealed = await subtle.encrypt(params, webKey, plaintext);
          return subtle.decrypt(params, webKey, sealed);
        },
      },
    ],
  };
}

function sameBytes(a, b) {
  return (
    Buffer.compare(
      Buffer.from(a.buffer ?? a, a.byteOffset ?? 0, a.byteLength),
      Buffer.from(b.buffer ?? b, b.byteOffset ?? 0, b.byteLength),
    ) === 0
  );
}

export async function run({ timing, smoke, profile }) {
  const builds = await loadBuilds();
  const raw = rawAeads();
  await raw.init();
  const plaintexts = new Map(SIZES.map((size) => [size, crypto.randomBytes(size)]));

  // Records depend on the build's AES-GCM, not on the KEM: one row per build. The Node build seals
  // with node:crypto, the portable build with @noble/ciphers.
  const sessions = [];
  // A profile (`sdk:<build>:<size>`) sets up only what it runs, so that the profile shows it alone.
  const [, profiledCase, profiledSize] = profile?.case.split(':') ?? [];
  const profiledBuild = profiledCase?.replace(/-async$/, '');
  for (const build of builds.filter((b) => profiledBuild === undefined || b.id === profiledBuild)) {
    const backend = {
      id: build.id,
      label:
        build.id === 'node'
          ? `${build.label}: node:crypto AES-GCM`
          : `${build.label}: noble AES-GCM`,
    };
    const pair = await inProcessPair(build.sdk, hasKemOption(build.sdk) ? { kem: 'noble' } : {});
    const session = await pair.client.handshake(SLUG);
    const client = build.sdk.sessionRecords(session);
    const server = await pair.responder.recordSession(session.sessionId);
    check(
      server !== undefined,
      `${backend.id}: the responder has no record session for a fresh handshake`,
    );
    const asyncAead =
      typeof build.sdk.aeadBackendAsync === 'function' ? await build.sdk.aeadBackendAsync() : 'n/a';
    sessions.push({ backend, build, pair, session, client, server, asyncAead });
  }

  const sdkCase = (s, plaintext) => () => s.server.open(s.client.seal(plaintext));
  // The asynchronous calls: WebCrypto's AES-GCM in the portable build, node:crypto in the Node build.
  const sdkAsyncCase = (s, plaintext) => async () =>
    s.server.openAsync(await s.client.sealAsync(plaintext));
  const hasAsync = (s) => typeof s.client.sealAsync === 'function';
  // Rows: each build's synchronous calls, and its asynchronous ones. The target is read on each
  // build's fastest path: the Node build's `seal`/`open` (node:crypto), the portable build's
  // `sealAsync`/`openAsync` (WebCrypto; its `seal`/`open` are noble's JavaScript).
  const cases = sessions.flatMap((s) => [
    {
      s,
      id: s.backend.id,
      label: `${s.backend.label}, seal/open`,
      fn: sdkCase,
      targeted: s.backend.id === 'node',
    },
    ...(hasAsync(s)
      ? [
          {
            s,
            id: `${s.backend.id}-async`,
            label: `${s.build.label}: ${s.asyncAead === 'node' ? 'node:crypto' : s.asyncAead} AES-GCM, sealAsync/openAsync`,
            fn: sdkAsyncCase,
            targeted: s.backend.id !== 'node',
          },
        ]
      : []),
  ]);

  // Every path must give the plaintext back before any of it is timed.
  for (const [size, plaintext] of plaintexts) {
    if (profiledSize !== undefined && size !== Number(profiledSize)) continue;
    for (const c of cases)
      check(
        sameBytes(await c.fn(c.s, plaintext)(), plaintext),
        `SDK ${c.id}: a ${size}-byte record does not round-trip`,
      );
    for (const r of raw.list.filter((x) => x.unavailable === undefined)) {
      check(
        sameBytes(new Uint8Array(await r.make(plaintext)(0)), plaintext),
        `${r.label}: a ${size}-byte record does not round-trip`,
      );
    }
  }

  if (profile !== undefined) {
    const c = cases.find((x) => x.id === profiledCase);
    check(c !== undefined, `no case ${profiledCase} to profile`);
    await loopFor(c.fn(c.s, plaintexts.get(Number(profiledSize))), profile.ms);
    return [];
  }

  // Records need far less warm-up than the KEM; 1 MiB records need a longer sample to hold a few.
  const recordTiming = smoke ? timing : { ...timing, warmupMs: 300, sampleMs: 110 };
  const results = [];
  for (const [size, plaintext] of plaintexts) {
    // After the first size the code is warm: a shorter warm-up.
    const warmed = size === SIZES[0] || smoke ? recordTiming : { ...recordTiming, warmupMs: 150 };
    const rates = await measureRates(
      [
        ...cases.map((c) => ({ name: `sdk:${c.id}`, fn: c.fn(c.s, plaintext) })),
        ...raw.list
          .filter((r) => r.unavailable === undefined)
          .map((r) => ({ name: `raw:${r.id}`, fn: r.make(plaintext) })),
      ],
      size >= 2 ** 20 && !smoke ? { ...warmed, sampleMs: 220 } : warmed,
    );
    const mbps = (name) =>
      rates[name] === undefined ? Number.NaN : (rates[name].opsPerSec * size) / 1e6;
    const rawMbps = Object.fromEntries(raw.list.map((r) => [r.id, mbps(`raw:${r.id}`)]));
    // The target compares with the runtime's fastest API: for the Node build, node:crypto or
    // WebCrypto; for the portable build (browsers, workers), WebCrypto, the only one it could use.
    const nativeIds = ['node:crypto', 'webcrypto'].filter((id) => Number.isFinite(rawMbps[id]));
    const fastestOf = (ids) =>
      ids.filter((id) => nativeIds.includes(id)).sort((a, b) => rawMbps[b] - rawMbps[a])[0];
    for (const c of cases) {
      const fastest = c.s.backend.id === 'node' ? fastestOf(nativeIds) : fastestOf(['webcrypto']);
      const value = mbps(`sdk:${c.id}`);
      results.push({
        section: 'records',
        size,
        backend: c.label,
        sdkBackend: c.id,
        targeted: c.targeted,
        sdkMBps: value,
        rawMBps: rawMbps,
        fastest,
        ratio:
          fastest === undefined
            ? Number.NaN
            : pairedRatio(rates[`sdk:${c.id}`].samples, rates[`raw:${fastest}`].samples),
        ratioNoble: pairedRatio(rates[`sdk:${c.id}`].samples, rates['raw:noble'].samples),
      });
    }
  }
  for (const s of sessions) {
    s.session.wipe();
    s.pair.close();
  }
  return results;
}
