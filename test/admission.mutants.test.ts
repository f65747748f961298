/**
 * The responder's admission control (`src/responder/admission.ts`) at each of its lines, without
 * a responder around it: the client address attached to a request, the `rateLimits` option and its
 * defaults, the token buckets (refill, cap, a clock that goes back, `Retry-After`), the clients
 * tracked at most (least recently seen forgotten first), client ids truncated, a `clientId` hook
 * that throws, and the cap on decapsulations in flight with its observer.
 */
import { describe, expect, test } from 'vitest';
import {
  type AdmissionKind,
  type AdmissionOptions,
  DEFAULT_RATE_LIMITS,
  MAX_CLIENT_ID_LENGTH,
  clientAddressOf,
  createAdmission,
  resolveRateLimits,
  setClientAddress,
} from '../src/responder/admission.js';
import { HttpError } from '../src/responder/http.js';

const URL_ = 'https://edge.test/api/keyex/edge-01/handshake';

/** A request whose client (for the `x-client` hook below) is `client`. */
function from(client: string | undefined): Request {
  return new Request(URL_, { headers: client === undefined ? {} : { 'x-client': client } });
}

const byHeader = (request: Request): string | undefined =>
  request.headers.get('x-client') ?? undefined;

function admission(options: Partial<AdmissionOptions> & { clock?: { t: number } } = {}) {
  const clock = options.clock ?? { t: 1_000_000 };
  const inner = createAdmission({
    clientId: byHeader,
    rateLimits: undefined,
    maxTrackedClients: 100,
    maxInFlightDecapsulations: 4,
    now: () => clock.t,
    ...options,
  });
  return {
    ...inner,
    /** In-memory buckets answer at once: `undefined` (no promise), or a throw. */
    take(kind: AdmissionKind, request: Request): void {
      expect(inner.take(kind, request)).toBeUndefined();
    },
  };
}

/** The error `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Takes tokens until one is refused; returns how many were given and the refusal. */
function drain(take: () => void, most = 1_000): { given: number; refusal: HttpError } {
  for (let given = 0; given < most; given += 1) {
    const error = thrown(take);
    if (error !== undefined) {
      expect(error).toBeInstanceOf(HttpError);
      return { given, refusal: error as HttpError };
    }
  }
  throw new Error('never refused');
}

describe('the client address', () => {
  test('attached to the request object, read by clientAddressOf', () => {
    const request = from(undefined);
    expect(clientAddressOf(request)).toBeUndefined();
    expect(setClientAddress(request, '192.0.2.1')).toBe(request);
    expect(clientAddressOf(request)).toBe('192.0.2.1');
    expect(clientAddressOf(from(undefined))).toBeUndefined();
  });

  test('must be a non-empty string', () => {
    for (const address of ['', 7, undefined, null]) {
      expect(() => setClientAddress(from(undefined), address as string)).toThrow(TypeError);
      expect(() => setClientAddress(from(undefined), address as string)).toThrow(/client address/);
    }
  });
});

describe('rateLimits', () => {
  test('absent: the defaults; false: none', () => {
    expect(resolveRateLimits(undefined)).toEqual(DEFAULT_RATE_LIMITS);
    expect(resolveRateLimits({})).toEqual(DEFAULT_RATE_LIMITS);
    expect(DEFAULT_RATE_LIMITS).toEqual({
      handshake: { burst: 20, perSecond: 5 },
      records: { burst: 200, perSecond: 100 },
      keyGeneration: { burst: 5, perSecond: 1 / 60 },
    });
    expect(resolveRateLimits(false)).toStrictEqual({
      handshake: undefined,
      records: undefined,
      keyGeneration: undefined,
    });
  });

  test('each kind given, turned off, or left to its default', () => {
    expect(resolveRateLimits({ handshake: { burst: 2, perSecond: 0.5 }, records: false })).toEqual({
      handshake: { burst: 2, perSecond: 0.5 },
      records: undefined,
      keyGeneration: DEFAULT_RATE_LIMITS.keyGeneration,
    });
    expect(
      resolveRateLimits({ keyGeneration: undefined, records: { burst: 1, perSecond: 9 } }),
    ).toEqual({
      handshake: DEFAULT_RATE_LIMITS.handshake,
      records: { burst: 1, perSecond: 9 },
      keyGeneration: DEFAULT_RATE_LIMITS.keyGeneration,
    });
    // Only own properties count: an inherited `false` turns nothing off.
    const inherited = Object.create({ handshake: false }) as Record<string, unknown>;
    expect(resolveRateLimits(inherited).handshake).toEqual(DEFAULT_RATE_LIMITS.handshake);
  });

  test('malformed: a TypeError or a RangeError naming the limit', () => {
    for (const value of [null, 'off', 5, true]) {
      expect(() => resolveRateLimits(value)).toThrow(TypeError);
      expect(() => resolveRateLimits(value)).toThrow(/^rateLimits must/);
    }
    expect(() => resolveRateLimits({ handshakes: false })).toThrow(TypeError);
    expect(() => resolveRateLimits({ handshakes: false })).toThrow(/handshakes/);
    for (const limit of [null, 'x', 3, true]) {
      expect(() => resolveRateLimits({ records: limit })).toThrow(TypeError);
      expect(() => resolveRateLimits({ records: limit })).toThrow(/rateLimits\.records /);
    }
    for (const burst of [0, -1, 1.5, '2', undefined]) {
      expect(() => resolveRateLimits({ records: { burst, perSecond: 1 } })).toThrow(RangeError);
      expect(() => resolveRateLimits({ records: { burst, perSecond: 1 } })).toThrow(
        /rateLimits\.records\.burst/,
      );
    }
    for (const perSecond of [0, -0.5, Number.NaN, Infinity, '1', undefined]) {
      expect(() => resolveRateLimits({ handshake: { burst: 1, perSecond } })).toThrow(RangeError);
      expect(() => resolveRateLimits({ handshake: { burst: 1, perSecond } })).toThrow(
        /rateLimits\.handshake\.perSecond/,
      );
    }
  });
});

describe('createAdmission', () => {
  test('checks its options', () => {
    expect(() => admission({ clientId: 'x' as unknown as AdmissionOptions['clientId'] })).toThrow(
      TypeError,
    );
    expect(() => admission({ clientId: 'x' as unknown as AdmissionOptions['clientId'] })).toThrow(
      /clientId/,
    );
    expect(() => admission({ maxTrackedClients: 0 })).toThrow(/maxTrackedClients/);
    expect(() => admission({ maxInFlightDecapsulations: 0 })).toThrow(/maxInFlightDecapsulations/);
    expect(() => admission({ rateLimits: 'x' as unknown as false })).toThrow(TypeError);
  });

  test('a bucket: burst tokens, then 429 rate_limited with the whole seconds until the next', () => {
    const clock = { t: 5_000 };
    const a = admission({ clock, rateLimits: { handshake: { burst: 3, perSecond: 0.25 } } });
    const { given, refusal } = drain(() => a.take('handshake', from('alice')));
    expect(given).toBe(3);
    expect(refusal.code).toBe('rate_limited');
    expect(refusal.status).toBe(429);
    expect(refusal.headers).toEqual({ 'retry-after': '4' });
    // 1.5 s later: 0.375 of a token; the next is ceil(0.625 / 0.25) = 3 s away.
    clock.t += 1_500;
    expect((thrown(() => a.take('handshake', from('alice'))) as HttpError).headers).toEqual({
      'retry-after': '3',
    });
    // 2.5 s more: 1 token (0.375 + 0.625), taken; none left.
    clock.t += 2_500;
    a.take('handshake', from('alice'));
    expect(thrown(() => a.take('handshake', from('alice')))).toBeInstanceOf(HttpError);
    // Another client, and another kind, have buckets of their own.
    expect(drain(() => a.take('handshake', from('bob'))).given).toBe(3);
    expect(drain(() => a.take('records', from('alice'))).given).toBe(200);
  });

  test('a refill never exceeds the burst, and a clock that goes back refills nothing, then or after', () => {
    const clock = { t: 100_000 };
    const a = admission({ clock, rateLimits: { records: { burst: 2, perSecond: 10 } } });
    expect(drain(() => a.take('records', from('c'))).given).toBe(2);
    clock.t += 60_000;
    expect(drain(() => a.take('records', from('c'))).given).toBe(2);
    clock.t -= 30_000;
    expect(thrown(() => a.take('records', from('c')))).toBeInstanceOf(HttpError);
    // A bucket's time never moves back: the clock stepping forward again to where it was refills
    // nothing (else a step back and forth would refill the same interval twice)...
    clock.t += 30_000;
    expect(thrown(() => a.take('records', from('c')))).toBeInstanceOf(HttpError);
    // ...and from there, 50 ms give half a token, 100 ms a whole one.
    clock.t += 50;
    const refusal = thrown(() => a.take('records', from('c'))) as HttpError;
    expect(refusal.headers).toEqual({ 'retry-after': '1' });
    clock.t += 50;
    a.take('records', from('c'));
    expect(thrown(() => a.take('records', from('c')))).toBeInstanceOf(HttpError);
  });

  test('Retry-After is at least one second, and whole seconds rounded up', () => {
    const a = admission({ rateLimits: { records: { burst: 1, perSecond: 100 } } });
    a.take('records', from('d'));
    expect((thrown(() => a.take('records', from('d'))) as HttpError).headers).toEqual({
      'retry-after': '1',
    });
    const slow = admission({ rateLimits: { keyGeneration: { burst: 1, perSecond: 1 / 60 } } });
    slow.take('keyGeneration', from('e'));
    expect((thrown(() => slow.take('keyGeneration', from('e'))) as HttpError).headers).toEqual({
      'retry-after': '60',
    });
  });

  test('a request with no client, or a kind turned off, is not counted', () => {
    const a = admission({
      clientId: (request) =>
        request.headers.get('x-client') === 'throws'
          ? (() => {
              throw new Error('hook failure');
            })()
          : (request.headers.get('x-client') ?? undefined),
      rateLimits: { handshake: { burst: 1, perSecond: 1 }, records: false },
    });
    for (const request of [from(undefined), from(''), from('throws')]) {
      for (let i = 0; i < 5; i += 1) a.take('handshake', request);
      expect(a.applies('handshake', request)).toBe(false);
    }
    for (let i = 0; i < 5; i += 1) a.take('records', from('f'));
    expect(a.applies('records', from('f'))).toBe(false);
    expect(a.applies('handshake', from('f'))).toBe(true);
    const numbered = admission({
      clientId: () => 7 as unknown as string,
      rateLimits: { handshake: { burst: 1, perSecond: 1 } },
    });
    numbered.take('handshake', from('g'));
    numbered.take('handshake', from('g'));
    expect(numbered.applies('handshake', from('g'))).toBe(false);
  });

  test('client ids are truncated: two ids equal in their first 256 characters share a bucket', () => {
    expect(MAX_CLIENT_ID_LENGTH).toBe(256);
    const a = admission({ rateLimits: { handshake: { burst: 1, perSecond: 1 } } });
    const stem = 'x'.repeat(MAX_CLIENT_ID_LENGTH);
    a.take('handshake', from(`${stem}a`));
    expect(thrown(() => a.take('handshake', from(`${stem}b`)))).toBeInstanceOf(HttpError);
    expect(thrown(() => a.take('handshake', from(stem)))).toBeInstanceOf(HttpError);
    // One character shorter is another client.
    a.take('handshake', from(stem.slice(1)));
  });

  test('at most maxTrackedClients per kind: the least recently seen is forgotten first', () => {
    const a = admission({
      maxTrackedClients: 2,
      rateLimits: { handshake: { burst: 1, perSecond: 1e-6 } },
    });
    a.take('handshake', from('p'));
    a.take('handshake', from('q'));
    // p is seen again (refused), so q is now the least recently seen.
    expect(thrown(() => a.take('handshake', from('p')))).toBeInstanceOf(HttpError);
    a.take('handshake', from('r')); // forgets q
    a.take('handshake', from('q')); // a full bucket again; forgets p
    expect(thrown(() => a.take('handshake', from('r')))).toBeInstanceOf(HttpError);
    a.take('handshake', from('p'));
    // With room for one, each new client forgets the one before.
    const one = admission({
      maxTrackedClients: 1,
      rateLimits: { handshake: { burst: 1, perSecond: 1e-6 } },
    });
    one.take('handshake', from('s'));
    expect(thrown(() => one.take('handshake', from('s')))).toBeInstanceOf(HttpError);
    one.take('handshake', from('t'));
    one.take('handshake', from('s'));
  });
});

describe('decapsulations in flight', () => {
  test('at the cap: 503 unavailable with Retry-After 1, work not run, shed told', async () => {
    let shed = 0;
    const times: number[] = [];
    const a = admission({
      maxInFlightDecapsulations: 2,
      observer: { shed: () => (shed += 1), decapsulated: (ms) => times.push(ms) },
    });
    const gates: (() => void)[] = [];
    const held = [1, 2].map((n) =>
      a.decapsulate(
        () =>
          new Promise<number>((resolve) => {
            gates.push(() => resolve(n));
          }),
      ),
    );
    const busy = thrown(() => a.assertDecapsulationRoom()) as HttpError;
    expect(busy).toBeInstanceOf(HttpError);
    expect([busy.code, busy.status, busy.headers]).toEqual([
      'unavailable',
      503,
      { 'retry-after': '1' },
    ]);
    let ran = false;
    const refused = await a
      .decapsulate(async () => {
        ran = true;
      })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HttpError);
    expect((refused as HttpError).code).toBe('unavailable');
    expect(ran).toBe(false);
    expect(shed).toBe(2);
    expect(times).toEqual([]);
    gates[0]?.();
    expect(await held[0]).toBe(1);
    // One slot free again.
    a.assertDecapsulationRoom();
    expect(await a.decapsulate(async () => 'x')).toBe('x');
    gates[1]?.();
    expect(await held[1]).toBe(2);
    expect(times).toHaveLength(3);
    for (const ms of times) expect(ms).toBeGreaterThanOrEqual(0);
  });

  test('a failing decapsulation frees its slot and is timed; an observer that throws changes nothing', async () => {
    const times: number[] = [];
    const a = admission({
      maxInFlightDecapsulations: 1,
      observer: {
        decapsulated: (ms) => {
          times.push(ms);
          throw new Error('metrics failure');
        },
        shed: () => {
          throw new Error('metrics failure');
        },
      },
    });
    await expect(
      a.decapsulate(async () => {
        throw new Error('work failure');
      }),
    ).rejects.toThrow('work failure');
    // The time told lies within the call, as the clock measured it around.
    const before = performance.now();
    expect(await a.decapsulate(async () => 1)).toBe(1);
    const after = performance.now();
    expect(times).toHaveLength(2);
    expect(times[1]).toBeGreaterThanOrEqual(0);
    expect(times[1]).toBeLessThanOrEqual(after - before);
    const gate = a.decapsulate(() => new Promise<void>((resolve) => setTimeout(resolve, 1)));
    expect((thrown(() => a.assertDecapsulationRoom()) as HttpError).code).toBe('unavailable');
    await gate;
  });

  test('without an observer, or one without decapsulated, the slots count all the same', async () => {
    for (const observer of [undefined, {}, { shed: () => undefined }]) {
      const a = admission({ maxInFlightDecapsulations: 1, observer });
      let release = (): void => undefined;
      const held = a.decapsulate(() => new Promise<void>((resolve) => (release = resolve)));
      expect((thrown(() => a.assertDecapsulationRoom()) as HttpError).code).toBe('unavailable');
      release();
      await held;
      a.assertDecapsulationRoom();
    }
  });
});
