/**
 * Which machine a slug names (spec §1, §2): the responder's `machines` option, a table or a
 * resolver, and the one lookup every route and `Responder.keyDocument` go through.
 *
 * A lookup answers a {@link MachineLookup}: the machine id, or why the slug names none. That
 * answer is mapped once on each side: {@link machineForRequest} for the routes (a §7 wire error)
 * and {@link machineForCaller} for the SDK API (a `ZeqKeyExError`).
 *
 * Security caveat: the slug is checked against the §1 grammar before the resolver sees it, and the
 * resolver's answer against the `machine_id` grammar; a resolver that answers a malformed id is a
 * deployment fault (`invalid_identifier`, a `500` on the wire), never a refusal of the request.
 * @module
 */
import type { ErrorCode } from '../core/errors.js';
import { ZeqKeyExError } from '../core/errors.js';
import { assertMachineId, assertSlug, isMachineId, isSlug } from '../core/identifiers.js';
import { HttpError } from './http.js';

/** Resolves a slug to the machine id it serves, or `undefined` when it serves none. */
export type MachineResolver = (slug: string) => string | undefined | Promise<string | undefined>;

/** Why a slug names no machine here, as its §7 wire code. */
export type MachineRefusal = 'invalid_slug' | 'unknown_machine';

/** The answer of a machine lookup: the machine id, or the reason there is none. */
export type MachineLookup = { readonly machineId: string } | { readonly refusal: MachineRefusal };

/** A machine lookup, as {@link parseMachines} makes it. */
export type LookupMachine = (slug: string) => Promise<MachineLookup>;

/** Each refusal as the SDK's error code, for callers of the API rather than of the wire. */
const CALLER_CODES: Readonly<Record<MachineRefusal, ErrorCode>> = {
  invalid_slug: 'invalid_identifier',
  unknown_machine: 'unknown_machine',
};

/**
 * Checks the `machines` option and makes the lookup over it.
 * @param value - a record of slug → machine_id, or a resolver function.
 * @returns the lookup. It rejects with `ZeqKeyExError('invalid_identifier')` when a resolver
 *   answers a malformed machine id, and with whatever a resolver throws.
 * @throws {TypeError} for anything else, or a table with a malformed slug or machine id.
 */
export function parseMachines(value: unknown): LookupMachine {
  const resolve = resolverOf(value);
  return async (slug) => {
    if (!isSlug(slug)) return { refusal: 'invalid_slug' };
    const machineId: unknown = await resolve(slug);
    if (machineId === undefined || machineId === null) return { refusal: 'unknown_machine' };
    if (!isMachineId(machineId))
      throw new ZeqKeyExError(
        'invalid_identifier',
        'the machine resolver returned a malformed machine_id',
      );
    return { machineId };
  };
}

function resolverOf(value: unknown): MachineResolver {
  if (typeof value === 'function') return value as MachineResolver;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('machines must be a record of slug → machine_id or a resolver function');
  }
  const table = new Map<string, string>();
  for (const [slug, machineId] of Object.entries(value)) {
    assertSlug(slug);
    assertMachineId(machineId);
    table.set(slug, machineId);
  }
  return (slug) => table.get(slug);
}

/**
 * The lookup for the routes: a refusal becomes the matching §7 error response.
 * @param lookup - the machine lookup.
 * @returns a function giving a slug's machine id.
 */
export function machineForRequest(lookup: LookupMachine): (slug: string) => Promise<string> {
  return async (slug) => {
    const found = await lookup(slug);
    if ('refusal' in found) throw new HttpError(found.refusal);
    return found.machineId;
  };
}

/**
 * The lookup for the SDK API: a refusal becomes a {@link ZeqKeyExError}.
 * @param lookup - the machine lookup.
 * @param slug - the slug.
 * @returns the machine id.
 * @throws {ZeqKeyExError} `invalid_identifier` for a malformed slug (or a resolver's malformed
 *   answer), `unknown_machine`.
 */
export async function machineForCaller(lookup: LookupMachine, slug: string): Promise<string> {
  const found = await lookup(slug);
  if ('refusal' in found) throw new ZeqKeyExError(CALLER_CODES[found.refusal]);
  return found.machineId;
}
