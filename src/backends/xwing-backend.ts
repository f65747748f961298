/**
 * X-Wing (spec §9) behind the SDK's asynchronous {@link Kem} interface, chosen at run time like
 * ML-KEM-768's backends (`kem-backend.ts`), with the same results byte for byte:
 *
 * - native (`node` or `webcrypto`): the runtime's ML-KEM-768 (the driver `kem-backend.ts` probed)
 *   and its X25519 (`node:crypto`'s `diffieHellman` in the Node build, WebCrypto's `X25519`
 *   elsewhere), composed here with the draft's SHAKE256 key expansion (`@noble/hashes`,
 *   `core/xwing.ts`) and SHA3-256 combiner (the platform's SHA3-256: `node:crypto` in the Node
 *   build, `@noble/hashes` elsewhere);
 * - `noble`: `@noble/post-quantum`'s `ml_kem768_x25519`, everywhere.
 *
 * A native composition is used only after it passes a probe against noble's X-Wing on a fresh
 * random seed: the same public key, an encapsulation noble decapsulates to the same secret, the
 * same secret from its own decapsulation, and the same secrets for a ciphertext modified in its
 * ML-KEM part and in its X25519 part. It runs once per process, on the first use of X-Wing.
 *
 * This module is reached only through `loadKemFor` by a dynamic `import()`, so that an app that
 * never accepts X-Wing never ships it (`npm run size` shows the chunk).
 *
 * Security caveats: as `core/xwing.ts` (all-zero X25519 results refused on every backend, clamping
 * left to the primitive), and as `kem-backend.ts` (native keys live inside the runtime; only the
 * SDK's own copies are wiped). The expanded seed (`d‖z`, `sk_X`) is wiped once imported.
 * @module
 */
import { ALG_SIZES, ALG_XWING } from '../core/constants.js';
import { ZeqKeyExError } from '../core/errors.js';
import { type Encapsulation, assertLength } from '../core/kem.js';
import { constantTimeEqual, randomBytes, wipe } from '../core/primitives.js';
import {
  XWING_SPLIT,
  combineXWing,
  expandXWingSeed,
  nobleXWing,
  xwingDecapsulate,
  xwingEncapsulate,
  xwingPublicKey,
} from '../core/xwing.js';
import {
  type Kem,
  type KemBackendName,
  type KemCandidate,
  type KemChoice,
  assertKemChoice,
  findNativeDriver,
  kemOf,
  secretKeyOf,
} from './kem-backend.js';
import { sha3_256, x25519Drivers } from './platform.js';

/** What a platform's native X25519 provides (RFC 7748 §5, clamping included); the SDK adds the checks. */
export interface X25519Driver {
  readonly name: Exclude<KemBackendName, 'noble'>;
  /**
   * Imports a 32-byte secret key.
   * @returns its public key `X25519(sk, 9)`, and the shared secret with a peer's public value
   *   (which throws for an all-zero result).
   */
  importSecretKey(secretKey: Uint8Array): Promise<{
    readonly publicKey: Uint8Array;
    sharedSecret(peer: Uint8Array): Promise<Uint8Array>;
  }>;
  /**
   * A fresh ephemeral key pair's public key and its shared secret with `peer` (throws for an
   * all-zero result).
   */
  ephemeral(peer: Uint8Array): Promise<{ publicKey: Uint8Array; sharedSecret: Uint8Array }>;
}

/** Gives one native X25519 driver when the runtime has it, `undefined` otherwise (`platform.ts` lists them). */
export type X25519DriverProbe = () => Promise<X25519Driver | undefined>;

/** The ML-KEM-768 part of a composition: a native driver, or (in tests) noble behind the same shape. */
export type MlKemPart = Pick<KemCandidate, 'importSecretKey' | 'encapsulate'>;

/** The noble backend: `core/xwing.ts` behind the asynchronous interface. */
export const nobleXWingKem: Kem = /* @__PURE__ */ kemOf({
  alg: ALG_XWING,
  backend: 'noble',
  async importSecretKey(seed) {
    assertLength(seed, ALG_SIZES[ALG_XWING].seed, 'invalid_secret_key');
    const held = seed.slice();
    return secretKeyOf(
      ALG_XWING,
      'noble',
      xwingPublicKey(held),
      { decapsulate: (cipherText) => xwingDecapsulate(held, cipherText) },
      () => wipe(held),
    );
  },
  encapsulate: async (publicKey) => xwingEncapsulate(publicKey),
});

/** `a ‖ b`, fresh. */
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * X-Wing composed of an ML-KEM-768 backend and an X25519 one, with the draft's expansion and
 * combiner and the SDK's input checks and codes.
 * @param backend - the name the composition reports.
 * @param mlKem - ML-KEM-768 (it refuses a key failing the FIPS 203 §7.2 check with `invalid_public_key`).
 * @param x25519 - X25519.
 * @returns the backend (not yet probed: see {@link agreesWithNobleXWing}).
 * @internal
 */
export function composeXWing(
  backend: KemBackendName,
  mlKem: MlKemPart,
  x25519: Pick<X25519Driver, 'importSecretKey' | 'ephemeral'>,
): Kem {
  return kemOf({
    alg: ALG_XWING,
    backend,
    async importSecretKey(seed) {
      const { mlKemSeed, x25519SecretKey } = expandXWingSeed(seed);
      let parts: [
        Awaited<ReturnType<MlKemPart['importSecretKey']>>,
        Awaited<ReturnType<X25519Driver['importSecretKey']>>,
      ];
      try {
        parts = [
          await mlKem.importSecretKey(mlKemSeed),
          await x25519.importSecretKey(x25519SecretKey),
        ];
      } catch (cause) {
        throw new ZeqKeyExError('invalid_secret_key', undefined, { cause });
      } finally {
        wipe(mlKemSeed, x25519SecretKey);
      }
      const [mlKemKey, x25519Key] = parts;
      const x25519PublicKey = x25519Key.publicKey;
      return secretKeyOf(
        ALG_XWING,
        backend,
        concat(mlKemKey.publicKey, x25519PublicKey),
        {
          async decapsulate(cipherText) {
            const x25519CipherText = cipherText.slice(XWING_SPLIT.cipherText);
            const mlKemSecret = await mlKemKey.decapsulate(
              cipherText.subarray(0, XWING_SPLIT.cipherText),
            );
            let x25519Secret: Uint8Array;
            try {
              x25519Secret = await x25519Key.sharedSecret(x25519CipherText);
            } catch (cause) {
              wipe(mlKemSecret);
              // An X25519 part of low order (all-zero secret): refused on every backend alike.
              throw new ZeqKeyExError('invalid_cipher_text', undefined, { cause });
            }
            try {
              return combineXWing(
                mlKemSecret,
                x25519Secret,
                x25519CipherText,
                x25519PublicKey,
                sha3_256,
              );
            } finally {
              wipe(mlKemSecret, x25519Secret);
            }
          },
        },
        () => mlKemKey.dispose?.(),
      );
    },
    async encapsulate(publicKey) {
      assertLength(publicKey, ALG_SIZES[ALG_XWING].publicKey, 'invalid_public_key');
      const x25519PublicKey = publicKey.slice(XWING_SPLIT.publicKey);
      const mlKem768 = await mlKem.encapsulate(publicKey.subarray(0, XWING_SPLIT.publicKey));
      let ephemeral: { publicKey: Uint8Array; sharedSecret: Uint8Array };
      try {
        ephemeral = await x25519.ephemeral(x25519PublicKey);
      } catch (cause) {
        wipe(mlKem768.sharedSecret);
        // An X25519 key of low order (all-zero secret): refused on every backend alike.
        throw new ZeqKeyExError('invalid_public_key', undefined, { cause });
      }
      try {
        return {
          cipherText: concat(mlKem768.cipherText, ephemeral.publicKey),
          sharedSecret: combineXWing(
            mlKem768.sharedSecret,
            ephemeral.sharedSecret,
            ephemeral.publicKey,
            x25519PublicKey,
            sha3_256,
          ),
        } satisfies Encapsulation;
      } finally {
        wipe(mlKem768.sharedSecret, ephemeral.sharedSecret);
      }
    },
  });
}

/**
 * The probe a native X-Wing composition must pass before it is used (see the module comment).
 * @param kem - the candidate.
 * @returns whether it agrees with noble's X-Wing; any error is a disagreement.
 */
export async function agreesWithNobleXWing(kem: KemCandidate): Promise<boolean> {
  const seed = randomBytes(ALG_SIZES[ALG_XWING].seed);
  const secrets: Uint8Array[] = [];
  let key: Awaited<ReturnType<KemCandidate['importSecretKey']>> | undefined;
  try {
    const reference = nobleXWing.keygen(seed.slice());
    secrets.push(reference.secretKey);
    key = await kem.importSecretKey(seed);
    if (!constantTimeEqual(key.publicKey, reference.publicKey)) return false;
    const { cipherText, sharedSecret } = await kem.encapsulate(reference.publicKey);
    secrets.push(sharedSecret);
    const agree = async (): Promise<boolean> => {
      const viaNoble = nobleXWing.decapsulate(cipherText, seed);
      const viaNative = await (key as NonNullable<typeof key>).decapsulate(cipherText);
      secrets.push(viaNoble, viaNative);
      return constantTimeEqual(viaNoble, viaNative);
    };
    if (
      !(await agree()) ||
      !constantTimeEqual(secrets[secrets.length - 1] as Uint8Array, sharedSecret)
    )
      return false;
    // The ML-KEM part modified: implicit rejection, the same unrelated secret on both.
    cipherText[0] = (cipherText[0] as number) ^ 1;
    if (!(await agree())) return false;
    // The X25519 part modified (another point, of low order only with negligible probability).
    const at = XWING_SPLIT.cipherText;
    cipherText[at] = (cipherText[at] as number) ^ 2;
    return await agree();
  } catch {
    return false;
  } finally {
    key?.dispose?.();
    wipe(seed, ...secrets);
  }
}

/** The probe's answer, kept for the process. */
let nativeXWing: Promise<Kem | undefined> | undefined;

/**
 * The native composition of this platform that passes the probe: its native ML-KEM-768 driver
 * (probed by `kem-backend.ts`) with the first X25519 driver that makes the composition agree.
 */
function findNativeXWing(): Promise<Kem | undefined> {
  nativeXWing ??= (async () => {
    const mlKem = await findNativeDriver();
    if (mlKem === undefined) return undefined;
    for (const probe of x25519Drivers) {
      let x25519: X25519Driver | undefined;
      try {
        x25519 = await probe();
      } catch {
        continue;
      }
      if (x25519 === undefined) continue;
      const kem = composeXWing(mlKem.name, mlKem, x25519);
      if (await agreesWithNobleXWing(kem)) return kem;
    }
    return undefined;
  })();
  return nativeXWing;
}

/**
 * X-Wing through the backend `choice` selects, as `loadKem` does for ML-KEM-768.
 * @param choice - the backend to use. @defaultValue 'auto'
 * @returns the backend.
 * @throws {ZeqKeyExError} `kem_unavailable` for `'native'` when the runtime lacks native ML-KEM-768
 *   or X25519, or its composition fails the probe.
 * @throws {TypeError} for an unknown choice.
 */
export async function loadXWing(choice: KemChoice = 'auto'): Promise<Kem> {
  assertKemChoice(choice);
  const native = choice === 'noble' ? undefined : await findNativeXWing();
  if (native !== undefined) return native;
  if (choice === 'native') throw new ZeqKeyExError('kem_unavailable');
  return nobleXWingKem;
}
