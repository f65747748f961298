/**
 * Per-client rate limits shared by the instances of a responder (issue #15): the admission of
 * `admission.ts` with its token buckets in a {@link RateLimitStore} (e.g. Redis), one atomic take
 * per limited request, so that a client gets its `rateLimits` once across every instance.
 *
 * When the store fails or does not answer within `storeTimeoutMs`, the request is not refused and
 * not let through unlimited: it is counted in this instance's own buckets (bounded by
 * `maxTrackedClients`, starting full), and one `error` line says that limits are per instance
 * until the store answers again, when one `warn` line says so. During such an outage a client may
 * get up to its limit from each instance, as without a shared store.
 * @module
 */
import type { Admission, AdmissionKind, RateLimits } from './admission.js';
import { resolveRateLimits } from './admission.js';
import { HttpError } from './http.js';
import type { Logger } from './logger.js';
import {
  type RateLimitStore,
  type RateLimitTake,
  createMemoryRateLimitStore,
} from './rate-limit-store.js';
import { callStoreWithin } from './store-timeouts.js';

/** What {@link shareRateLimits} needs from the responder's options. */
export interface SharedRateLimitsOptions {
  /** The shared buckets. */
  readonly store: RateLimitStore;
  /** The responder's `rateLimits` option (checked again: the same limits as the admission's). */
  readonly rateLimits: RateLimits | false | undefined;
  /** The bound of the local buckets used while the store fails, per kind of work. */
  readonly maxTrackedClients: number;
  /** The time limit of each take from the store. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** The clock, in milliseconds. */
  readonly now: () => number;
}

/**
 * Checks a rate-limit store given in the options (programmer input).
 * @param value - the option.
 * @returns the store.
 * @throws {TypeError} when it has no `take`.
 */
export function assertRateLimitStore(value: unknown): RateLimitStore {
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as Partial<RateLimitStore>).take !== 'function'
  )
    throw new TypeError('rateLimitStore must have take(bucket, limit, at)');
  return value as RateLimitStore;
}

/**
 * An admission whose per-client buckets are in a shared store; everything else (the in-flight
 * cap, `applies`, the client hook) is the given admission's.
 * @param admission - the responder's admission (`createAdmission`).
 * @param options - the store, limits, local bound, time limit, logger and clock.
 * @returns the admission with shared buckets.
 */
export function shareRateLimits(admission: Admission, options: SharedRateLimitsOptions): Admission {
  const { store, timeoutMs, logger, now } = options;
  const limits = resolveRateLimits(options.rateLimits);
  const kinds = Object.keys(limits).length;
  const local = createMemoryRateLimitStore({ maxBuckets: options.maxTrackedClients * kinds });
  let failing = false;

  async function takeToken(
    bucket: string,
    kind: AdmissionKind,
    at: number,
  ): Promise<RateLimitTake> {
    const limit = limits[kind];
    if (limit === undefined) return { allowed: true, retryAfterMs: 0 };
    try {
      const taken = await callStoreWithin(
        () => store.take(bucket, limit, at),
        timeoutMs,
        'the rate-limit store failed',
      );
      if (failing) {
        failing = false;
        logger.warn('rate limits are shared again', { code: 'rate_limits_shared' });
      }
      return taken;
    } catch {
      if (!failing) {
        failing = true;
        logger.error('the rate-limit store failed: clients are limited per instance', {
          code: 'store_error',
        });
      }
      return local.take(bucket, limit, at);
    }
  }

  return {
    ...admission,
    async take(kind: AdmissionKind, request: Request): Promise<void> {
      if (limits[kind] === undefined) return;
      const id = admission.client(request);
      if (id === undefined) return;
      const taken = await takeToken(`${kind}:${id}`, kind, now());
      if (taken.allowed) return;
      const ms = taken.retryAfterMs;
      const seconds = Number.isFinite(ms) ? Math.max(1, Math.ceil(ms / 1_000)) : 1;
      throw new HttpError('rate_limited', { 'retry-after': String(seconds) });
    },
  };
}
