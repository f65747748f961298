/**
 * Which machines `zeq-keyex serve` serves: exactly those of `--machine SLUG=MACHINE_ID`, or, with
 * `--auto-provision N`, any valid slug as its own machine_id until N slugs hold a key.
 * @module
 */
import { ZeqKeyExError } from '../../core/errors.js';
import { isMachineId, isSlug } from '../../core/identifiers.js';
import type { ResponderOptions } from '../../responder/options.js';
import type { KeyStore, StoredKey } from '../../responder/stores.js';
import { UsageError } from './args.js';

/**
 * The `--machine` values as a table of slug → machine_id.
 * @param values - each `SLUG=MACHINE_ID`.
 * @returns the table, or `undefined` when none was given.
 * @throws {UsageError} for a malformed value or a slug given twice.
 */
export function parseMachines(values: readonly string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const machines: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const slug = value.slice(0, at);
    const machineId = value.slice(at + 1);
    if (at < 0 || !isSlug(slug) || !isMachineId(machineId))
      throw new UsageError(`--machine expects SLUG=MACHINE_ID, got "${value}"`);
    if (Object.hasOwn(machines, slug)) throw new UsageError(`--machine names "${slug}" twice`);
    machines[slug] = machineId;
  }
  return machines;
}

/**
 * Auto-provisioning by name, bounded: any slug is its own machine_id until `limit` slugs hold a
 * key. The count is kept where keys are made — the key store's `putIfAbsent`, reached only when a
 * slug obtains its first key — and starts from the slugs already stored, so neither requests that
 * never make a key nor restarts add to what a stranger can provision.
 * @param limit - how many slugs may hold a key.
 * @param keyStore - the store keys go to.
 * @param stored - the slugs that already have a key there.
 * @returns the resolver and the counting store.
 */
export function autoProvisioned(
  limit: number,
  keyStore: KeyStore,
  stored: readonly string[],
): Pick<ResponderOptions, 'machines' | 'keyStore'> {
  const provisioned = new Set(stored);
  const counting: KeyStore & { slugs(): Promise<string[]> } = {
    // The store's other methods (key rotation, the identity) as they are.
    ...keyStore,
    get: (slug) => keyStore.get(slug),
    // For `Responder.ready`: the keys to check at start.
    slugs: () => Promise.resolve([...provisioned]),
    async putIfAbsent(key: StoredKey): Promise<StoredKey> {
      if (provisioned.has(key.slug)) return keyStore.putIfAbsent(key);
      // Requests for new slugs that raced past the resolver: the bound still holds.
      if (provisioned.size >= limit)
        throw new ZeqKeyExError('unknown_machine', 'the auto-provisioning limit is reached');
      provisioned.add(key.slug);
      try {
        return await keyStore.putIfAbsent(key);
      } catch (error) {
        provisioned.delete(key.slug);
        throw error;
      }
    },
  };
  return {
    machines: (slug) => (provisioned.has(slug) || provisioned.size < limit ? slug : undefined),
    keyStore: counting,
  };
}
