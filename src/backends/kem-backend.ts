/**
 * The asynchronous KEM API, `loadKem()` → {@link Kem}: ML-KEM-768 (FIPS 203) from the runtime
 * when it has it, from noble otherwise, chosen at run time with the same results byte for byte.
 * This is the KEM apps use (spec §1, §2.1, §4); the synchronous noble layer under it
 * (`core/kem.ts`) is internal.
 *
 * - `node`: `node:crypto`'s `encapsulate`/`decapsulate` (OpenSSL, Node ≥ 24.7), in the Node build.
 * - `webcrypto`: `crypto.subtle.encapsulateBits`/`decapsulateBits` (Chromium, Deno, Bun).
 * - `noble`: `@noble/post-quantum` (`core/kem.ts`), everywhere.
 *
 * A native backend is used only after it passes a probe against noble on a fresh random key: the
 * same public key from the seed, a shared secret noble decapsulates to, the same secret from its
 * own decapsulation, and the same implicit-rejection secret for a modified ciphertext. A runtime
 * that exposes the API but gets any of it wrong is treated as having none. The probe runs once per
 * process, on first use; nothing happens at import time.
 *
 * Key form: every backend takes secret keys as the **64-byte seed** `d‖z` (native APIs import
 * nothing else; keys are stored at rest as seeds), never the expanded 2400-byte key of
 * `core/kem.ts`. Every backend maps bad inputs to the SDK's codes: `invalid_public_key` (length, §7.2 modulus check),
 * `invalid_cipher_text`, `invalid_secret_key`.
 *
 * Security caveats:
 * - A native secret key lives inside the runtime (a `KeyObject` or non-extractable `CryptoKey`):
 *   {@link KemSecretKey.dispose} drops the reference, but only noble's key bytes can be zeroed.
 * - Fixed encapsulation randomness (the known-answer seam) exists for noble only (`core/kem.ts`).
 * @module
 */
import { ALG, ALG_SIZES, ALG_XWING, type Alg } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import {
  type Encapsulation,
  assertLength,
  kemDecapsulator,
  kemEncapsulate,
  kemKeygen,
  nobleMlKem768,
} from '../core/kem.js';
import { kemDrivers } from './platform.js';
import { constantTimeEqual, randomBytes, wipe } from '../core/primitives.js';

/** Which KEM backend to use: `'auto'` picks a native one when the runtime has one that passes the probe. */
export type KemChoice = 'noble' | 'native' | 'auto';

/** The KEM backend in use: noble's pure JS, `node:crypto`, or WebCrypto. */
export type KemBackendName = 'noble' | 'node' | 'webcrypto';

/** A secret key imported into a backend once, for any number of decapsulations. */
export interface KemSecretKey {
  /** The backend holding it. */
  readonly backend: KemBackendName;
  /** Its public key (1184 bytes for ML-KEM-768, 1216 for X-Wing), derived by the backend. */
  readonly publicKey: Uint8Array;
  /**
   * Decapsulates (implicit rejection: a ciphertext made for another key gives an unrelated secret).
   * @param cipherText - 1088 bytes (1120 for X-Wing).
   * @returns the 32-byte shared secret. Wipe after use.
   * @throws {ZeqKeyExError} `invalid_cipher_text`; `invalid_secret_key` after {@link KemSecretKey.dispose}.
   */
  decapsulate(cipherText: Uint8Array): Promise<Uint8Array>;
  /** Drops the key: noble's bytes are zeroed, a native key is released to the runtime. */
  dispose(): void;
}

/**
 * One alg's KEM through one backend: ML-KEM-768 ({@link loadKem}) or X-Wing (spec §9,
 * {@link loadKemFor}). Every method gives the same bytes whatever the backend. A seed is the
 * 64-byte `d‖z` for ML-KEM-768, the 32-byte X-Wing seed for X-Wing.
 */
export interface Kem {
  /** The alg this KEM speaks. */
  readonly alg: Alg;
  /** Which backend this is (for X-Wing: the backend of both its parts). */
  readonly backend: KemBackendName;
  /**
   * The public key of a seed (ML-KEM.KeyGen_internal; X-Wing's KeyGen).
   * @throws {ZeqKeyExError} `invalid_secret_key` when the seed has the wrong length.
   */
  publicKey(seed: Uint8Array): Promise<Uint8Array>;
  /**
   * Encapsulates to a public key with fresh randomness.
   * @throws {ZeqKeyExError} `invalid_public_key` (wrong length or FIPS 203 §7.2 modulus check).
   */
  encapsulate(publicKey: Uint8Array): Promise<Encapsulation>;
  /**
   * Decapsulates with the 64-byte seed (imports it, decapsulates once, drops it).
   * @throws {ZeqKeyExError} `invalid_secret_key`, `invalid_cipher_text`.
   */
  decapsulate(seed: Uint8Array, cipherText: Uint8Array): Promise<Uint8Array>;
  /**
   * Imports a 64-byte seed for repeated decapsulation (what a responder keeps per machine).
   * @throws {ZeqKeyExError} `invalid_secret_key`.
   */
  importSecretKey(seed: Uint8Array): Promise<KemSecretKey>;
}

/** What a platform's native ML-KEM provides; {@link nativeKem} adds the checks around it. */
export interface KemDriver {
  readonly name: Exclude<KemBackendName, 'noble'>;
  /** Imports a 64-byte seed (length checked by the caller). */
  importSecretKey(
    seed: Uint8Array,
  ): Promise<{ publicKey: Uint8Array; decapsulate(cipherText: Uint8Array): Promise<Uint8Array> }>;
  /** Encapsulates to a 1184-byte public key; throws `invalid_public_key` when the key is refused. */
  encapsulate(publicKey: Uint8Array): Promise<Encapsulation>;
}

/** Gives one native ML-KEM driver when the runtime has it, `undefined` otherwise (`platform.ts` lists them). */
export type KemDriverProbe = () => Promise<KemDriver | undefined>;

/**
 * The expanded key bytes behind each noble {@link KemSecretKey}: the one way in to them, for
 * {@link nobleSecretKeyBytes}. Weak, so it keeps no key alive.
 */
const nobleKeyBytes = new WeakMap<KemSecretKey, Uint8Array>();

/**
 * Test seam (tests import it from `src/internal/testing.ts`): the expanded decapsulation key held
 * by a noble secret key, by reference, so a test can see `dispose` zero it.
 * @param key - a key from {@link nobleKem}.
 * @returns its bytes, or `undefined` for another backend's key.
 * @internal
 */
export function nobleSecretKeyBytes(key: KemSecretKey): Uint8Array | undefined {
  return nobleKeyBytes.get(key);
}

/**
 * A {@link KemSecretKey} of `alg` over `held`, which `dispose` lets go of (and `drop` wipes, for noble).
 * @internal
 */
export function secretKeyOf(
  alg: Alg,
  backend: KemBackendName,
  publicKey: Uint8Array,
  held: { decapsulate(cipherText: Uint8Array): Promise<Uint8Array> | Uint8Array },
  drop?: () => void,
): KemSecretKey {
  let live: typeof held | undefined = held;
  return Object.freeze({
    backend,
    publicKey,
    async decapsulate(cipherText: Uint8Array): Promise<Uint8Array> {
      assertLength(cipherText, ALG_SIZES[alg].cipherText, 'invalid_cipher_text');
      if (live === undefined) throw new ZeqKeyExError('invalid_secret_key', 'secret key disposed');
      return live.decapsulate(cipherText);
    },
    dispose(): void {
      live = undefined;
      drop?.();
    },
  });
}

/** What first contact needs of a backend: its alg, name and encapsulation (all the client loads). */
export type KemEncapsulator = Pick<Kem, 'alg' | 'backend' | 'encapsulate'>;

/** A backend without the operations on a seed, which {@link kemOf} adds. */
export type KemCore = Pick<Kem, 'alg' | 'backend' | 'encapsulate' | 'importSecretKey'>;

/**
 * A {@link Kem} over a core: an operation on a seed imports it, uses it once and drops it.
 * @internal
 */
export function kemOf({ alg, backend, importSecretKey, encapsulate }: KemCore): Kem {
  return Object.freeze({
    alg,
    backend,
    importSecretKey,
    encapsulate,
    async publicKey(seed: Uint8Array): Promise<Uint8Array> {
      const key = await importSecretKey(seed);
      key.dispose();
      return key.publicKey;
    },
    async decapsulate(seed: Uint8Array, cipherText: Uint8Array): Promise<Uint8Array> {
      assertLength(cipherText, ALG_SIZES[alg].cipherText, 'invalid_cipher_text');
      const key = await importSecretKey(seed);
      try {
        return await key.decapsulate(cipherText);
      } finally {
        key.dispose();
      }
    },
  });
}

// The client loads encapsulation only ({@link encapsulatorLoader}), never a whole Kem: this keeps
// secret-key import and seed decapsulation out of the client app, 331 B gzip (`npm run size`).
/** noble's encapsulation alone (`kemEncapsulate` checks the key): the client's fallback. */
const nobleEncapsulator: KemEncapsulator = {
  alg: ALG,
  backend: 'noble',
  encapsulate: async (publicKey) => kemEncapsulate(publicKey),
};

// Module-level calls in the modules the entries share are marked pure, and no module-level code
// there reads a property: the build puts those modules into one chunk, so a statement a bundler
// cannot drop would keep its dependencies — here ML-KEM — in every app that imports anything from
// the package (`scripts/bundle-budget.mjs` checks this).
/** The noble backend: the SDK's synchronous KEM layer (`core/kem.ts`) behind the async interface. */
export const nobleKem: Kem = /* @__PURE__ */ kemOf({
  alg: ALG,
  backend: 'noble',
  async importSecretKey(seed) {
    const pair = kemKeygen(seed);
    const decapsulator = kemDecapsulator(pair);
    const key = secretKeyOf(ALG, 'noble', pair.publicKey, decapsulator, () => {
      wipe(pair.secretKey);
      decapsulator.forget();
    });
    nobleKeyBytes.set(key, pair.secretKey);
    return key;
  },
  encapsulate: async (publicKey) => kemEncapsulate(publicKey),
});

/** A driver's encapsulation, behind the SDK's check of the key's length. */
function encapsulatorOf(driver: KemDriver): KemEncapsulator {
  return {
    alg: ALG,
    backend: driver.name,
    async encapsulate(publicKey) {
      assertLength(publicKey, ALG_SIZES[ALG].publicKey, 'invalid_public_key');
      return driver.encapsulate(publicKey);
    },
  };
}

/**
 * Wraps a platform driver with the SDK's input checks and error codes.
 * @param driver - the native operations.
 * @returns the backend (not yet probed: see {@link agreesWithNoble}).
 */
export function nativeKem(driver: KemDriver): Kem {
  return kemOf({
    ...encapsulatorOf(driver),
    async importSecretKey(seed) {
      assertLength(seed, ALG_SIZES[ALG].seed, 'invalid_secret_key');
      let imported: Awaited<ReturnType<KemDriver['importSecretKey']>>;
      try {
        imported = await driver.importSecretKey(seed);
      } catch (cause) {
        throw new ZeqKeyExError('invalid_secret_key', undefined, { cause });
      }
      return secretKeyOf(ALG, driver.name, imported.publicKey, imported);
    },
  });
}

/** What the probe asks of a candidate: a {@link KemDriver} as it is, or a whole {@link Kem}. */
export interface KemCandidate {
  importSecretKey(seed: Uint8Array): Promise<{
    readonly publicKey: Uint8Array;
    decapsulate(cipherText: Uint8Array): Promise<Uint8Array>;
    dispose?(): void;
  }>;
  encapsulate(publicKey: Uint8Array): Promise<Encapsulation>;
}

/**
 * The probe a native backend must pass before it is used: on a fresh random seed it must agree
 * with noble on the public key, on an encapsulation noble decapsulates, on its own decapsulation,
 * and on the implicit-rejection secret of a modified ciphertext.
 * @param kem - the candidate.
 * @returns whether it agrees; any error is a disagreement.
 */
export async function agreesWithNoble(kem: KemCandidate): Promise<boolean> {
  const seed = randomBytes(ALG_SIZES[ALG].seed);
  const reference = nobleMlKem768.keygen(seed);
  const secrets: Uint8Array[] = [reference.secretKey];
  let key: Awaited<ReturnType<KemCandidate['importSecretKey']>> | undefined;
  try {
    key = await kem.importSecretKey(seed);
    if (!constantTimeEqual(key.publicKey, reference.publicKey)) return false;
    const { cipherText, sharedSecret } = await kem.encapsulate(reference.publicKey);
    secrets.push(sharedSecret);
    const viaNoble = nobleMlKem768.decapsulate(cipherText, reference.secretKey);
    const viaNative = await key.decapsulate(cipherText);
    secrets.push(viaNoble, viaNative);
    if (!constantTimeEqual(viaNoble, sharedSecret) || !constantTimeEqual(viaNative, sharedSecret))
      return false;
    cipherText[0] = (cipherText[0] as number) ^ 1;
    const rejectedByNoble = nobleMlKem768.decapsulate(cipherText, reference.secretKey);
    const rejectedByNative = await key.decapsulate(cipherText);
    secrets.push(rejectedByNoble, rejectedByNative);
    return (
      constantTimeEqual(rejectedByNoble, rejectedByNative) &&
      !constantTimeEqual(rejectedByNoble, sharedSecret)
    );
  } catch {
    return false;
  } finally {
    key?.dispose?.();
    wipe(seed, ...secrets);
  }
}

/** The probe's answer, kept for the process: a probe costs a key pair and four KEM operations. */
let nativeDriver: Promise<KemDriver | undefined> | undefined;
/** The {@link Kem} over {@link nativeDriver}, made once. */
let nativeKemObject: Kem | undefined;

/**
 * The first native driver of this platform that passes the probe; probed once per process. The
 * driver is probed as it is: the probe's inputs are well-formed, so the SDK's checks around a
 * driver would change nothing. X-Wing's native backend (`xwing-backend.ts`) is built on it.
 * @internal
 */
export function findNativeDriver(): Promise<KemDriver | undefined> {
  nativeDriver ??= (async () => {
    for (const probe of kemDrivers) {
      let driver: KemDriver | undefined;
      try {
        driver = await probe();
      } catch {
        continue;
      }
      if (driver !== undefined && (await agreesWithNoble(driver))) return driver;
    }
    return undefined;
  })();
  return nativeDriver;
}

/**
 * Checks a `kem` option (programmer input).
 * @param value - the option.
 * @throws {TypeError} for anything but `'noble'`, `'native'` or `'auto'`.
 */
export function assertKemChoice(value: unknown): asserts value is KemChoice {
  if (value !== 'noble' && value !== 'native' && value !== 'auto')
    throw new TypeError("kem must be 'noble', 'native' or 'auto'");
}

/**
 * The backend a checked `choice` selects, in either form: a whole {@link Kem} ({@link loadKem}) or
 * encapsulation alone ({@link encapsulatorLoader}).
 */
async function selectBackend<T>(
  choice: KemChoice,
  noble: T,
  native: (driver: KemDriver) => T,
): Promise<T> {
  const driver = choice === 'noble' ? undefined : await findNativeDriver();
  if (driver !== undefined) return native(driver);
  if (choice === 'native') throw new ZeqKeyExError('kem_unavailable');
  return noble;
}

/**
 * ML-KEM-768 through the backend `choice` selects: `'noble'`, the runtime's native one
 * (`'native'`, an error when there is none), or native when available and noble otherwise
 * (`'auto'`). The native probe runs once per process, on the first call that needs it.
 * @param choice - the backend to use. @defaultValue 'auto'
 * @returns the backend.
 * @throws {ZeqKeyExError} `kem_unavailable` for `'native'` when the runtime has no native ML-KEM
 *   that passes the probe.
 * @throws {TypeError} for an unknown choice.
 * @example
 * ```ts
 * const kem = await loadKem();
 * const { cipherText, sharedSecret } = await kem.encapsulate(publicKey);
 * console.log(kem.backend); // 'node' on Node ≥ 24.7, 'webcrypto' in Chromium, Deno and Bun, else 'noble'
 * ```
 */
export async function loadKem(choice: KemChoice = 'auto'): Promise<Kem> {
  assertKemChoice(choice);
  // One native Kem object per process, as there is one native driver.
  return selectBackend(choice, nobleKem, (driver) => (nativeKemObject ??= nativeKem(driver)));
}

/**
 * The KEM of `alg` through the backend `choice` selects, as {@link loadKem} does for ML-KEM-768.
 * X-Wing (spec §9) is loaded on first use, by a dynamic `import()`: an app that never asks for it
 * never loads its code. Its native backend is the runtime's ML-KEM-768 with its X25519, probed
 * against noble's X-Wing; noble's X-Wing otherwise.
 * @param alg - `'ML-KEM-768'` or `'X-Wing'`.
 * @param choice - the backend to use. @defaultValue 'auto'
 * @returns the backend.
 * @throws {ZeqKeyExError} `kem_unavailable` for `'native'` without a native backend of that alg;
 *   `unsupported_alg` for another alg.
 * @throws {TypeError} for an unknown choice.
 */
export async function loadKemFor(alg: Alg, choice: KemChoice = 'auto'): Promise<Kem> {
  assertKemChoice(choice);
  return alg === ALG ? loadKem(choice) : loadXWing(alg, choice);
}

/** X-Wing's backend, its code loaded on first use (the one dynamic `import()` of the SDK). */
async function loadXWing(alg: Alg, choice: KemChoice): Promise<Kem> {
  if (alg !== ALG_XWING) throw new ZeqKeyExError('unsupported_alg');
  return (await import('./xwing-backend.js')).loadXWing(choice);
}

/** Memoises `load` per alg for one object's `kem` option, checked at once: the one loader behind both below. */
function memoisedLoader<T>(
  choice: unknown,
  load: (alg: Alg, choice: KemChoice) => Promise<T>,
): (alg?: Alg) => Promise<T> {
  const selected = choice ?? 'auto';
  assertKemChoice(selected);
  const loaded = new Map<Alg, Promise<T>>();
  return (alg = ALG) => {
    let kem = loaded.get(alg);
    if (kem === undefined) loaded.set(alg, (kem = load(alg, selected)));
    return kem;
  };
}

/**
 * A lazy, memoised {@link loadKemFor} for one object's `kem` option, checked at once.
 * @param choice - the option as given.
 * @returns a function giving the backend of an alg (ML-KEM-768 when none is named).
 * @throws {TypeError} for an unknown choice.
 */
export function kemLoader(choice: unknown): (alg?: Alg) => Promise<Kem> {
  return memoisedLoader(choice, loadKemFor);
}

/**
 * {@link kemLoader} for first contact: the same backend, as far as encapsulation goes, without the
 * rest of a {@link Kem} (secret keys, operations on a seed), which an initiator never needs.
 * @param choice - the option as given.
 * @returns a function giving the backend's encapsulation for an alg (ML-KEM-768 when none is named).
 * @throws {TypeError} for an unknown choice.
 * @internal
 */
export function encapsulatorLoader(choice: unknown): (alg?: Alg) => Promise<KemEncapsulator> {
  return memoisedLoader(choice, async (alg, selected) =>
    alg === ALG
      ? selectBackend(selected, nobleEncapsulator, encapsulatorOf)
      : loadXWing(alg, selected),
  );
}
