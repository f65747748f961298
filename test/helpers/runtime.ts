/**
 * What the runtime running the tests offers, worked out independently of the SDK's own probe so
 * that tests can assert the SDK's choice rather than repeat it. Browser-safe (no `node:*` import).
 */

/**
 * Whether this is Node with ML-KEM in `node:crypto`, which it has from 24.7 on.
 * @returns false in browsers, Deno and Bun, and in Node before 24.7.
 */
export function nodeHasNativeKem(): boolean {
  const g = globalThis as {
    process?: { versions?: Record<string, string | undefined> };
    Deno?: unknown;
    Bun?: unknown;
  };
  const version = g.process?.versions?.['node'];
  if (version === undefined || g.Deno !== undefined || g.Bun !== undefined) return false;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 7);
}
