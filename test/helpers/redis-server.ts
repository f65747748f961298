/**
 * Redis servers for the tests: the vitest `globalSetup` that starts one `redis-server` on a free
 * loopback port for the whole run (its URL is `inject('redisUrl')`; tests keep apart by key
 * prefix), and {@link startRedisServer} for tests that stop and restart their own.
 *
 * A machine without `redis-server` does not skip these tests: the setup runs
 * `scripts/ensure-redis.sh` (apt-get when root), and fails with the install instruction otherwise.
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
 *   restart; `args`: more server arguments.
 * @returns the running server.
 */
export async function startRedisServer(
  options: { persistent?: boolean; args?: readonly string[] } = {},
): Promise<RedisServer> {
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
    const started = spawn('redis-server', args, { stdio: 'ignore' });
    child = started;
    const failed = new Promise<never>((_, reject) => {
      started.once('error', reject);
      started.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
    failed.catch(() => undefined);
    const deadline = Date.now() + START_LIMIT_MS;
    for (;;) {
      if (await Promise.race([pings(port), failed])) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
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

/** The globalSetup: one server for the run, after making sure `redis-server` is installed. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  try {
    await promisify(execFile)('sh', [join(ROOT, 'scripts', 'ensure-redis.sh')], {
      timeout: 300_000,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `redis-server is needed by the shared-store tests and could not be installed: ${stderr.trim()} (Debian/Ubuntu: apt-get install -y redis-server)`,
      { cause: error },
    );
  }
  const server = await startRedisServer();
  project.provide('redisUrl', server.url);
  return () => server.dispose();
}
