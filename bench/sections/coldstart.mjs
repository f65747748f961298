/**
 * Section 6: cold start. Fresh processes (this runtime), each timing the import of the built
 * package and its first completed handshake in process: a responder making its machine key on first
 * use, a client pinned to it, one handshake with key confirmation. Then a second handshake, for
 * comparison with a warm one. The figures are medians over the processes.
 */
import { fileURLToPath } from 'node:url';
import { check, childEnv, median, resultsOf, start } from '../lib.mjs';
import { sdkBackends } from '../sdk.mjs';

const PROGRAM = fileURLToPath(new URL('../coldstart-main.mjs', import.meta.url));

export async function run({ smoke }) {
  const sdkInfo = await sdkBackends();
  const runs = smoke ? 1 : 5;
  const results = [];
  for (const backend of sdkInfo.backends) {
    if (backend.unavailable !== undefined) {
      results.push({
        section: 'coldstart',
        backend: backend.label,
        sdkBackend: backend.id,
        unavailable: backend.unavailable,
      });
      continue;
    }
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const { done } = start(
        process.execPath,
        [
          '--disable-warning=ExperimentalWarning',
          PROGRAM,
          JSON.stringify({ build: backend.build, option: backend.option }),
        ],
        { env: childEnv(), timeoutMs: 60_000, detached: false },
      );
      const result = await done;
      const [sample] = resultsOf(result.stdout);
      check(
        result.code === 0 && sample !== undefined && sample.error === undefined,
        `cold start (${backend.id}) failed: ${sample?.error ?? result.stderr.slice(-500)}`,
      );
      samples.push(sample);
    }
    const m = (key) => median(samples.map((s) => s[key]));
    results.push({
      section: 'coldstart',
      backend: backend.label,
      sdkBackend: backend.id,
      runs,
      bootMs: m('bootMs'),
      importMs: m('importMs'),
      firstHandshakeMs: m('firstHandshakeMs'),
      importToHandshakeMs: m('importToHandshakeMs'),
      secondHandshakeMs: m('secondHandshakeMs'),
    });
  }
  return results;
}
