/**
 * Redis servers for the tests: the vitest `globalSetup` that starts one `redis-server` and one
 * `valkey-server` on free loopback ports for the whole run (their URLs are `inject('redisUrl')`
 * and `inject('valkeyUrl')`; tests keep apart by key prefix), and {@link startRedisServer} for
 * tests that stop and restart their own.
 *
 * A machine without them does not skip these tests: the setup runs `scripts/ensure-redis.sh`
 * (apt-get when root) and `scripts/ensure-valkey.sh` (Debian's Valkey unpacked into `.tmp/`), and
 * fails with the install instruction otherwise.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:PORT` of this run's Redis server. */
    redisUrl: string;
    /** `redis://127.0.0.1:PORT` of this run's Valkey server. */
    valkeyUrl: string;
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const START_LIMIT_MS = 10_000;

/** A free loopback port (asked of the system, then released for the server to take). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolvePort(address.port);
      });
    });
  });
}

/** Whether a Redis answers PING on the port. */
function pings(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(500, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) {
        socket.destroy();
        answer(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => answer(false));
    socket.on('close', () => answer(reply.startsWith('+PONG')));
  });
}

/** A `redis-server` a test started. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (keeping its data when `persistent`). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

/**
 * Starts a private `redis-server` on a free loopback port.
 * @param options - `persistent`: append-only file, fsync'd on every write, so data survives a
 *   restart; `args`: more server arguments; `binary`: the server to run (`redis-server` from PATH
 *   by default; a `valkey-server` takes the same arguments).
 * @returns the running server.
 */
export async function startRedisServer(
  options: { persistent?: boolean; args?: readonly string[]; binary?: string } = {},
): Promise<RedisServer> {
  const binary = options.binary ?? 'redis-server';
  const dir = await mkdtemp(join(tmpdir(), 'zeq-keyex-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    ...(options.persistent === true
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no']),
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const started = spawn(binary, args, { stdio: 'ignore' });
    child = started;
    const failed = new Promise<never>((_, reject) => {
      started.once('error', reject);
      started.once('exit', (code) => reject(new Error(`${binary} exited with ${code}`)));
    });
    failed.catch(() => undefined);
    const deadline = Date.now() + START_LIMIT_MS;
    for (;;) {
      if (await Promise.race([pings(port), failed])) return;
      if (Date.now() > deadline) throw new Error(`${binary} did not answer on port ${port}`);
      await new Promise((wait) => setTimeout(wait, 50));
    }
  }

  async function stop(): Promise<void> {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise((done) => running.once('exit', done));
    running.kill('SIGTERM');
    await exited;
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: start,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs one of the `scripts/ensure-*.sh` and gives its standard output.
 * @throws an error naming what is needed and how to install it.
 */
async function ensure(script: string, what: string, install: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('sh', [join(ROOT, 'scripts', script)], {
      timeout: 300_000,
    });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `${what} is needed by the shared-store tests and could not be installed: ${stderr.trim()} (${install})`,
      { cause: error },
    );
  }
}

/** The globalSetup: one Redis and one Valkey for the run, after making sure both are installed. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await ensure('ensure-redis.sh', 'redis-server', 'Debian/Ubuntu: apt-get install -y redis-server');
  const valkeyBinary = (
    await ensure('ensure-valkey.sh', 'valkey-server', 'install Valkey 7.2 or later on PATH')
  )
    .trim()
    .split('\n')
    .at(-1);
  if (valkeyBinary === undefined || valkeyBinary === '')
    throw new Error('scripts/ensure-valkey.sh named no valkey-server');
  const [redis, valkey] = await Promise.all([
    startRedisServer(),
    startRedisServer({ binary: valkeyBinary }),
  ]);
  project.provide('redisUrl', redis.url);
  project.provide('valkeyUrl', valkey.url);
  return async () => {
    await Promise.all([redis.dispose(), valkey.dispose()]);
  };
}
