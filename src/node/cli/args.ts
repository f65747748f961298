/**
 * The argument layer every `zeq-keyex` command shares: parsing (node:util `parseArgs`, strict),
 * `--help`, the checks of common arguments (ORIGIN, SLUG, machine_id, pin), and the one way a
 * command ends.
 *
 * Exit status, the same for every command: {@link EXIT} — 0 success, 1 the operation failed, 2 a
 * usage error. A usage error is one line on stderr and a hint to the command's help; nothing is
 * sent anywhere. An operational failure is reported by {@link reportFailure}: with `--json` one
 * line `{"ok":false,"code",...}` on stdout, else `error: CODE: MESSAGE` on stderr. The code is the
 * {@link ZeqKeyExError} code, or `internal` for anything unexpected (no detail is shown).
 *
 * Origins follow the one grammar of src/core/origin.ts (http(s), no query, fragment or
 * credentials); slugs, machine_ids and pins the grammars of spec §1. Secrets never reach a message:
 * a rejected value is echoed only where it is not one (never a field key or an admin token).
 * @module
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { MACHINE_ID_PATTERN } from '../../core/constants.js';
import { isZeqKeyExError } from '../../core/errors.js';
import { parsePin } from '../../core/fingerprint.js';
import { isMachineId, isSlug } from '../../core/identifiers.js';
import { parseOrigin } from '../../core/origin.js';
import { MIN_ADMIN_TOKEN_LENGTH, assertAdminToken } from '../../core/admin-token.js';

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: () => Promise<string>;
}

/** The exit statuses of every command. */
export const EXIT: { readonly ok: 0; readonly failed: 1; readonly usage: 2 } = {
  ok: 0,
  failed: 1,
  usage: 2,
};

/**
 * A mistake in the command line (exit status 2). Thrown by the argument checks and by commands;
 * caught only by the command runner, never outside the CLI.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError' as const;
}

/** A command's `parseArgs` option table (`--help` is added to every one). */
export type OptionTable = NonNullable<ParseArgsConfig['options']>;

/** The `--json` switch, for the commands that have one. */
export const JSON_OPTION: { readonly type: 'boolean'; readonly default: false } = {
  type: 'boolean',
  default: false,
};

/** A command line after parsing. */
export interface CommandArgs {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

/** One command: its help, its options and what it does. */
export interface CliCommand {
  /** The words after `zeq-keyex` that name it (`handshake`, `ssl initiate`), for the help hint. */
  readonly path: string;
  /** What `--help` prints (on stdout, exit status 0). */
  readonly help: string;
  /** Its options besides `--help`; `json` names the `--json` switch the failure reporter obeys. */
  readonly options: OptionTable;
  /** How many positional arguments it takes at most; one more is a usage error. */
  readonly maxPositionals: number;
  /**
   * Runs the command after `--help` and the positional count were checked.
   * @throws {UsageError} for a bad argument; anything else is reported by {@link reportFailure}.
   */
  run(args: CommandArgs, io: CliIo): number | Promise<number>;
}

/** Commands under one word (`zeq-keyex …`, `zeq-keyex ssl …`). */
export interface CliGroup {
  /** The words after `zeq-keyex` that name the group: `''` for the program itself, `'ssl'`. */
  readonly path: string;
  /** What the group's word alone, `--help`, `-h` or `help` prints. */
  readonly help: string;
  /** Its commands and subgroups, by the word that names them. */
  readonly commands: Readonly<Record<string, CliCommand | CliGroup>>;
}

const HELP_WORDS: ReadonlySet<string> = new Set(['--help', '-h', 'help']);

/**
 * Runs the command `argv` names in `group` (or a group below it), or prints the group's help.
 * @param group - the commands to choose from.
 * @param argv - the arguments after the group's words.
 * @param io - output and environment.
 * @returns the exit status: 0, 1 or 2.
 */
export async function runCommandLine(
  group: CliGroup,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  const [word, ...rest] = argv;
  // No command at all is a usage error (exit 2), its usage on stderr; asking for help is not.
  if (word === undefined) {
    io.stderr(group.help);
    return EXIT.usage;
  }
  if (HELP_WORDS.has(word)) return printHelp(io, group.help);
  const entry = Object.hasOwn(group.commands, word) ? group.commands[word] : undefined;
  if (entry === undefined)
    return reportUsageError(io, group.path, `unknown ${words(group.path)}command "${word}"`);
  return 'commands' in entry ? runCommandLine(entry, rest, io) : runCommand(entry, rest, io);
}

async function runCommand(
  command: CliCommand,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  let json = false;
  try {
    const args = parseCommandArgs(argv, command.options);
    if (args.values['help'] === true) return printHelp(io, command.help);
    const extra = args.positionals[command.maxPositionals];
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    json = args.values['json'] === true;
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(io, command.path, error.message);
    return reportFailure(io, json, error);
  }
}

function parseCommandArgs(args: readonly string[], options: OptionTable): CommandArgs {
  try {
    return parseArgs({
      args: [...args],
      options: { help: { type: 'boolean' }, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs says which option was unknown or lacked its value.
    throw new UsageError((error as Error).message);
  }
}

/** `'ssl'` → `'ssl '`, `''` → `''`: a command path as the start of a phrase. */
function words(path: string): string {
  return path === '' ? '' : `${path} `;
}

function printHelp(io: CliIo, help: string): number {
  io.stdout(help);
  return EXIT.ok;
}

function reportUsageError(io: CliIo, path: string, message: string): number {
  io.stderr(`usage error: ${message}\nRun 'zeq-keyex ${words(path)}--help'.`);
  return EXIT.usage;
}

/**
 * Reports an operational failure, the same way for every command.
 * @param io - where to write.
 * @param json - whether the command was given `--json`: then one JSON line on stdout
 *   (`ok`, `code`, `message`, and `status`, `response_code`, `expected_fingerprint`,
 *   `actual_fingerprint`, `method`, `url` where the error has them); else `error: CODE: MESSAGE` on
 *   stderr (a transport error's message names the method and URL), followed by the status and
 *   responder's code the message does not already give, and the expected and actual fingerprints
 *   of a mismatch.
 * @param error - what was thrown: a {@link ZeqKeyExError} shows its code and message; anything
 *   else is `internal`, without detail.
 * @returns {@link EXIT}`.failed`.
 */
export function reportFailure(io: CliIo, json: boolean, error: unknown): number {
  const failure = describeFailure(error);
  if (json) {
    io.stdout(JSON.stringify({ ok: false, ...failure }));
    return EXIT.failed;
  }
  io.stderr(`error: ${failure.code}: ${failure.message}`);
  // What `--json` carries and the message does not already say.
  const { status, response_code: responseCode } = failure;
  if (status !== undefined && !failure.message.includes(`HTTP ${status}`))
    io.stderr(`HTTP status ${status}`);
  if (responseCode !== undefined && !failure.message.startsWith(`${responseCode}:`))
    io.stderr(`responder's error code ${responseCode}`);
  if (failure.expected_fingerprint !== undefined)
    io.stderr(`expected fingerprint ${failure.expected_fingerprint}`);
  if (failure.actual_fingerprint !== undefined)
    io.stderr(`actual fingerprint   ${failure.actual_fingerprint}`);
  return EXIT.failed;
}

interface Failure {
  code: string;
  message: string;
  status?: number;
  response_code?: string;
  expected_fingerprint?: string;
  actual_fingerprint?: string;
  method?: string;
  url?: string;
}

function describeFailure(error: unknown): Failure {
  if (!isZeqKeyExError(error)) return { code: 'internal', message: 'internal error' };
  return {
    code: error.code,
    message: error.message,
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.responseCode === undefined ? {} : { response_code: error.responseCode }),
    ...(error.expectedFingerprint === undefined
      ? {}
      : { expected_fingerprint: error.expectedFingerprint }),
    ...(error.actualFingerprint === undefined
      ? {}
      : { actual_fingerprint: error.actualFingerprint }),
    ...(error.method === undefined ? {} : { method: error.method }),
    ...(error.url === undefined ? {} : { url: error.url }),
  };
}

/**
 * A string option's value.
 * @param args - the parsed command line.
 * @param name - the option, without `--`.
 * @returns its value, or `undefined` when not given.
 */
export function stringOption(args: CommandArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * An integer option in `[min, max]`, written in decimal digits only.
 * @param args - the parsed command line.
 * @param name - the option, without `--`.
 * @param min - the least value accepted.
 * @param max - the greatest value accepted.
 * @returns its value, or `undefined` when not given.
 * @throws {UsageError} naming the range, for anything else.
 */
export function integerOption(
  args: CommandArgs,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = stringOption(args, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}]`);
  return value;
}

/**
 * A repeatable string option's values.
 * @param args - the parsed command line.
 * @param name - the option, without `--`.
 * @returns every value given, in order (none: an empty array).
 */
export function stringListOption(args: CommandArgs, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : [];
}

/**
 * A string option that must be given.
 * @param args - the parsed command line.
 * @param name - the option, without `--`.
 * @returns its value.
 * @throws {UsageError} when it is missing.
 */
export function requiredOption(args: CommandArgs, name: string): string {
  const value = stringOption(args, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

/**
 * Checks a responder origin given on the command line ({@link parseOrigin}'s grammar).
 * @param value - the argument, if given.
 * @param label - how the help names it (`ORIGIN`, `--peer-origin`).
 * @returns the argument as given (every client normalises it the same way).
 * @throws {UsageError} when missing, or not an http(s) URL without query, fragment or credentials.
 */
export function originArg(value: string | undefined, label: string): string {
  if (value === undefined) throw new UsageError(`${label} is required`);
  if (parseOrigin(value) === undefined)
    throw new UsageError(
      `${label} must be an http(s) URL without query, fragment or credentials, got "${value}"`,
    );
  return value;
}

/**
 * Checks a slug (spec §1).
 * @param value - the argument, if given.
 * @param label - how the help names it (`SLUG`, `--local`).
 * @returns the slug.
 * @throws {UsageError} when missing or malformed.
 */
export function slugArg(value: string | undefined, label: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${label}`);
  if (!isSlug(value))
    throw new UsageError(
      `${label} must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, got "${(value as string).slice(0, 80)}"`,
    );
  return value;
}

/**
 * Checks a machine_id (spec §1).
 * @param value - the argument, if given.
 * @param label - how the help names it (`--peer-id`).
 * @returns the machine_id.
 * @throws {UsageError} when missing or malformed.
 */
export function machineIdArg(value: string | undefined, label: string): string {
  if (value === undefined) throw new UsageError(`${label} is required`);
  if (!isMachineId(value))
    throw new UsageError(`${label} must be a machine_id (${MACHINE_ID_PATTERN.source})`);
  return value;
}

/**
 * Parses a pin as a person writes it ({@link parsePin}).
 * @param value - the argument.
 * @param label - how the help names it (`--pin`).
 * @returns the canonical fingerprint.
 * @throws {UsageError} when it is not 64 hex digits.
 */
export function pinArg(value: string, label: string): string {
  try {
    return parsePin(value);
  } catch {
    throw new UsageError(`${label} must be a 64-hex-character fingerprint`);
  }
}

/**
 * Checks an admin bearer token (spec §4 admin endpoints) without ever echoing it.
 * @param token - the token.
 * @param label - where it came from, for the message (`the admin token`, `--admin-token-file`).
 * @returns the token.
 * @throws {UsageError} when it is not an acceptable bearer token.
 */
export function adminTokenArg(token: string, label: string): string {
  try {
    assertAdminToken(token);
  } catch {
    throw new UsageError(
      `${label} must hold one token of at least ${MIN_ADMIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 - . _ ~ + / (then optional "=")`,
    );
  }
  return token;
}
