/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went: self time per area
 * (the KEM, hashes, AES-GCM, ky, fetch's Request/Response, the SDK itself, GC, …) and the top
 * functions. Used on every target the run misses.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** Areas, first match wins; matched against the script URL (and the function name for V8's own nodes). */
const AREAS = [
  ['GC', (url, name) => name === '(garbage collector)'],
  ['idle / waiting', (url, name) => name === '(idle)'],
  ['V8 / native (unattributed)', (url, name) => name === '(program)'],
  ['noble ML-KEM', (url) => /@noble[\\/](post-quantum|curves)/.test(url)],
  ['noble SHA-2/SHA-3/HKDF', (url) => /@noble[\\/]hashes/.test(url)],
  ['noble AES-GCM', (url) => /@noble[\\/]ciphers/.test(url)],
  ['ky', (url) => /node_modules[\\/]ky[\\/]/.test(url)],
  [
    'undici (fetch Request/Response/Headers)',
    (url) => /undici|internal[\\/]deps[\\/]undici|node:internal\/deps\/undici/.test(url),
  ],
  ['zeq-keyex (dist)', (url) => /[\\/]dist[\\/]/.test(url) && !/node_modules/.test(url)],
  ['autocannon', (url) => /autocannon/.test(url)],
  ['benchmark harness', (url) => /[\\/]bench[\\/]/.test(url)],
  [
    'node:http / net / streams',
    (url) =>
      /node:(_http|http|net|internal\/(http|streams|stream_base|webstreams|net|js_stream))|node:stream/.test(
        url,
      ),
  ],
  ['node:crypto', (url) => /node:(internal\/)?crypto/.test(url)],
  ['other node internals', (url) => url.startsWith('node:')],
  ['V8 builtins / native code', (url) => url === ''],
];

function areaOf(url, name) {
  for (const [area, test] of AREAS) if (test(url, name)) return area;
  return 'other scripts';
}

function shortUrl(url) {
  if (url === '') return '(native)';
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('node_modules/');
  if (nm >= 0) return clean.slice(nm + 'node_modules/'.length);
  const dist = clean.lastIndexOf('/dist/');
  if (dist >= 0) return clean.slice(dist + 1);
  return clean.startsWith('node:') ? clean : path.basename(clean);
}

/**
 * Summarises one `.cpuprofile`.
 * @returns `{ totalMs, areas: [{ area, ms, share }], functions: [{ name, where, area, ms, share }] }`.
 */
export async function summariseProfile(file, { top = 12, includeIdle = false } = {}) {
  const profile = JSON.parse(await fs.readFile(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byArea = new Map();
  const byFunction = new Map();
  const inclusive = new Map();
  let total = 0;
  for (const [id, micros] of self) {
    const node = nodes.get(id);
    const { functionName, url, lineNumber } = node.callFrame;
    if (!includeIdle && functionName === '(idle)') continue;
    const area = areaOf(url, functionName);
    total += micros;
    byArea.set(area, (byArea.get(area) ?? 0) + micros);
    const key = `${functionName || '(anonymous)'}\u0000${shortUrl(url)}:${lineNumber + 1}`;
    const entry = byFunction.get(key) ?? {
      name: functionName || '(anonymous)',
      where: `${shortUrl(url)}:${lineNumber + 1}`,
      area,
      micros: 0,
    };
    entry.micros += micros;
    byFunction.set(key, entry);
    // Inclusive time of the SDK's own frames and of the KEM's entry points: what each step costs.
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const frame = nodes.get(at).callFrame;
      const frameArea = areaOf(frame.url, frame.functionName);
      const entryPoint =
        frameArea === 'noble ML-KEM' &&
        /^(encapsulate|decapsulate|prepare|keygen)$/.test(frame.functionName);
      if (frameArea !== 'zeq-keyex (dist)' && frameArea !== 'ky' && !entryPoint) continue;
      const k = `${frame.functionName || '(anonymous)'}\u0000${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const e = inclusive.get(k) ?? {
        name: frame.functionName || '(anonymous)',
        where: `${shortUrl(frame.url)}:${frame.lineNumber + 1}`,
        area: frameArea,
        micros: 0,
      };
      e.micros += micros;
      inclusive.set(k, e);
    }
  }
  const share = (m) => (total > 0 ? m / total : 0);
  return {
    totalMs: total / 1000,
    areas: [...byArea]
      .map(([area, m]) => ({ area, ms: m / 1000, share: share(m) }))
      .sort((a, b) => b.ms - a.ms),
    functions: [...byFunction.values()]
      .sort((a, b) => b.micros - a.micros)
      .slice(0, top)
      .map((f) => ({
        name: f.name,
        where: f.where,
        area: f.area,
        ms: f.micros / 1000,
        share: share(f.micros),
      })),
    inclusive: [...inclusive.values()]
      .sort((a, b) => b.micros - a.micros)
      .slice(0, top * 2)
      .map((f) => ({
        name: f.name,
        where: f.where,
        area: f.area,
        ms: f.micros / 1000,
        share: share(f.micros),
      })),
  };
}

/** The newest `.cpuprofile` in a directory. */
export async function newestProfile(dir) {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return undefined;
  const stats = await Promise.all(
    files.map(async (f) => ({ f, t: (await fs.stat(path.join(dir, f))).mtimeMs })),
  );
  stats.sort((a, b) => b.t - a.t);
  return path.join(dir, stats[0].f);
}

/** Text lines describing a summary. */
export function describeProfile(summary, { areas = 8, functions = 8, inclusive = 12 } = {}) {
  const pct = (x) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [`  self time by area (${Math.round(summary.totalMs)} ms sampled, idle excluded):`];
  for (const a of summary.areas.slice(0, areas)) lines.push(`    ${pct(a.share)}  ${a.area}`);
  lines.push('  top functions (self time):');
  for (const f of summary.functions.slice(0, functions))
    lines.push(`    ${pct(f.share)}  ${f.name}  ${f.where}  [${f.area}]`);
  if (summary.inclusive.length > 0 && inclusive > 0) {
    lines.push(
      '  SDK steps and KEM entry points (inclusive time; thin wrappers of the line above left out):',
    );
    let shown = 0;
    let previous;
    for (const f of summary.inclusive) {
      if (shown >= inclusive) break;
      // A wrapper and what it wraps have (nearly) the same inclusive time: show one of them.
      if (previous !== undefined && Math.abs(previous - f.ms) <= previous * 0.01) continue;
      previous = f.ms;
      lines.push(`    ${pct(f.share)}  ${f.name}  ${f.where}`);
      shown++;
    }
  }
  return lines;
}

/**
 * The steps of a request through `zeq-keyex serve`, for {@link summariseSteps}: a sample goes to
 * the first step (in this order) whose function is on its stack (so HKDF, inside the
 * decapsulation's slot, counts as HKDF), matched on the function name and
 * the script (`dist/` for the SDK's own functions, `node:…` for Node's).
 */
const SERVE_STEPS = [
  ['GC', (f) => f.functionName === '(garbage collector)'],
  [
    'socket writes (kernel, incl. waiting for the CPU)',
    (f) => /^writev?$|^writeUtf8String$|^writeBuffer$/.test(f.functionName) && f.url === '',
  ],
  ['AES-GCM (key confirmation)', (f) => f.functionName === 'sealKeyConfirmationWithNonce'],
  ['HKDF (record key)', (f) => f.functionName === 'deriveRecordKey'],
  ['SHA-256 of the transcript', (f) => f.functionName === 'firstContactTranscript'],
  [
    'ML-KEM decapsulation',
    // What recordKeyOf spends besides HKDF: the KEM, its wrappers, copying out the secret.
    (f) =>
      f.functionName === 'recordKeyOf' ||
      (f.functionName === 'decapsulate' && /crypto\/kem|@noble[\\/]post-quantum/.test(f.url)),
  ],
  [
    'replay memory (tag hash, remember)',
    (f) => /^(rememberTag|remember|forgetTag)$/.test(f.functionName) && /dist/.test(f.url),
  ],
  ['session store', (f) => /^(storeSession|register)$/.test(f.functionName) && /dist/.test(f.url)],
  [
    'admission (token buckets, in-flight cap)',
    (f) => /^(take|applies|assertDecapsulationRoom)$/.test(f.functionName) && /dist/.test(f.url),
  ],
  [
    'fetch Response (made, read, written)',
    (f) =>
      /^(jsonResponse|jsonTextResponse|refusalResponse|writeResponse|preparedResponse|headerPairs|preparedAnswerOf)$/.test(
        f.functionName,
      ) && /dist/.test(f.url),
  ],
  [
    'fetch Request (made, body streamed or read)',
    (f) =>
      /^(toRequest|bodyStream|onData|readBody|discardBody|readMessage|headersOf|real|get (headers|url|method|body|bodyUsed))$/.test(
        f.functionName,
      ) && /dist/.test(f.url),
  ],
  ['JSON and base64 of the request', (f) => f.functionName === 'readHandshakeRequest'],
  ['random ids and nonces', (f) => /^(encodeSessionId|publicRandom)$/.test(f.functionName)],
  ['client address (X-Forwarded-For)', (f) => f.functionName === 'clientAddressOf'],
  [
    'routing and dispatch',
    (f) =>
      /^(match|dispatch|machineFor|serveHandshake|respond)$/.test(f.functionName) &&
      /dist/.test(f.url),
  ],
  [
    'node:http (parser, response, sockets)',
    (f) =>
      /^node:(_http|http|net|internal\/(http|stream|streams|timers))|^node:stream|^node:timers/.test(
        f.url,
      ) || f.functionName === 'parserOnHeadersComplete',
  ],
  ['module loading and start-up', (f) => /modules\/(esm|cjs)|run_main|realm/.test(f.url)],
];

/**
 * Where the time of `serve` under load goes, by step of a request: self time of every sample,
 * given to the first of the steps above on its stack; idle left out.
 * @returns `{ totalMs, steps: [{ step, ms, share }] }`, largest first, with "other" last.
 */
export async function summariseSteps(file) {
  const profile = JSON.parse(await fs.readFile(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++)
    self.set(
      profile.samples[i],
      (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0),
    );
  const byStep = new Map();
  let total = 0;
  for (const [id, micros] of self) {
    if (nodes.get(id).callFrame.functionName === '(idle)') continue;
    total += micros;
    const frames = [];
    for (let at = id; at !== undefined; at = parent.get(at)) frames.push(nodes.get(at).callFrame);
    const step =
      SERVE_STEPS.find(([, test]) => frames.some(test))?.[0] ?? 'other (V8, microtasks, …)';
    byStep.set(step, (byStep.get(step) ?? 0) + micros);
  }
  return {
    totalMs: total / 1000,
    steps: [...byStep]
      .map(([step, m]) => ({ step, ms: m / 1000, share: total > 0 ? m / total : 0 }))
      .sort((a, b) =>
        a.step.startsWith('other') ? 1 : b.step.startsWith('other') ? -1 : b.ms - a.ms,
      ),
  };
}

// `node bench/profile.mjs FILE.cpuprofile [--steps]`: the summary of one profile.
if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [file, flag] = process.argv.slice(2);
  if (flag === '--steps') {
    const { totalMs, steps } = await summariseSteps(file);
    console.log(`${Math.round(totalMs)} ms sampled, idle excluded`);
    for (const s of steps) console.log(`${(s.share * 100).toFixed(1).padStart(5)}%  ${s.step}`);
  } else console.log(describeProfile(await summariseProfile(file)).join('\n'));
}
