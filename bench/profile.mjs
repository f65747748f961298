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
