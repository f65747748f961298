/**
 * Byte encodings of spec §1: strict base64, lowercase hex, `LP()` framing and big-endian integers.
 *
 * The base64 decoder accepts exactly one spelling of every byte string: RFC 4648 §4, standard
 * alphabet, with padding, no whitespace, zero pad bits, and the decoded length the field requires.
 * It checks this by re-encoding what it decoded and comparing (the encoder writes only
 * that spelling), so a lenient platform decoder (`atob`, or `Buffer` in the Node build) can never
 * let a second spelling through. Malleable
 * encodings would let one ciphertext be replayed under another spelling; canonical ones make "the
 * same bytes" and "the same string" one question.
 * @module
 */
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ZeqKeyExError } from './errors.js';
import { base64Bytes, base64Of } from '../backends/platform.js';

const HEX_SHAPE = /^(?:[0-9a-f]{2})*$/;

/**
 * Encodes bytes as RFC 4648 base64 with padding.
 * @param bytes - any bytes.
 * @returns the canonical base64 string.
 */
export const base64Encode: (bytes: Uint8Array) => string = base64Of;

/**
 * Decodes canonical base64 (spec §1), optionally of an exact decoded length.
 * @param text - the base64 string from the wire.
 * @param length - the exact decoded length the field requires, if fixed.
 * @param field - the field name, for the error message.
 * @returns the decoded bytes.
 * @throws {ZeqKeyExError} `invalid_encoding` on any non-canonical form or wrong length.
 */
export function base64Decode(text: unknown, length?: number, field = 'base64 field'): Uint8Array {
  // A canonical encoding of `length` bytes has exactly this many characters: text of any other
  // length is refused without being decoded. The platform's decoder is lenient (whitespace,
  // missing padding, non-zero pad bits; `Buffer` also skips stray characters): only the
  // re-encoding below makes it strict.
  const bytes =
    typeof text === 'string' && (length === undefined || text.length === Math.ceil(length / 3) * 4)
      ? base64Bytes(text)
      : undefined;
  if (
    bytes === undefined ||
    base64Of(bytes) !== text ||
    (length !== undefined && bytes.length !== length)
  ) {
    throw new ZeqKeyExError(
      'invalid_encoding',
      // Stryker disable next-line StringLiteral: message prose (the field and length are tested)
      `${field} is not canonical base64${length === undefined ? '' : ` of ${length} bytes`}`,
    );
  }
  return bytes;
}

/**
 * Encodes bytes as lowercase hex.
 * @param bytes - any bytes.
 * @returns lowercase hex, two characters a byte.
 */
export const hexEncode: (bytes: Uint8Array) => string = bytesToHex;

/**
 * Decodes lowercase hex (spec §1), optionally of an exact decoded length.
 * @param text - the hex string.
 * @param length - the exact decoded length, if fixed.
 * @param field - the field name, for the error message.
 * @returns the decoded bytes.
 * @throws {ZeqKeyExError} `invalid_encoding` on upper case, odd length, other characters or a wrong length.
 */
export function hexDecode(text: unknown, length?: number, field = 'hex field'): Uint8Array {
  if (
    typeof text !== 'string' ||
    !HEX_SHAPE.test(text) ||
    (length !== undefined && text.length !== length * 2)
  ) {
    throw new ZeqKeyExError(
      'invalid_encoding',
      // Stryker disable next-line StringLiteral: message prose (the field and length are tested)
      `${field} must be ${length === undefined ? '' : `${length * 2} `}lowercase hex characters`,
    );
  }
  return hexToBytes(text);
}

/**
 * UTF-8 encodes a string.
 * @param text - any string.
 * @returns its UTF-8 bytes.
 */
export const utf8: (text: string) => Uint8Array = utf8ToBytes;

/**
 * Concatenates byte arrays into a new one.
 * @param parts - the arrays, in order.
 * @returns their concatenation.
 */
export const concat: (...parts: Uint8Array[]) => Uint8Array = concatBytes;

/**
 * Joins the chunks of a body read from a stream. Unlike {@link concat} it takes the list itself,
 * not one argument per chunk: a peer that sends a body a byte at a time makes more chunks than a
 * call can take arguments.
 * @param chunks - the chunks, in order.
 * @returns their concatenation (the only chunk itself, when there is one).
 */
export function joinChunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * Writes `uint32_be(n)` (spec §1) into `bytes` at `at` (no `DataView`: making one per record costs more than
 * the four writes).
 * @param bytes - the array written to.
 * @param at - the offset.
 * @param n - an integer in [0, 2^32).
 */
export function writeU32be(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = n >>> 24;
  bytes[at + 1] = (n >>> 16) & 0xff;
  bytes[at + 2] = (n >>> 8) & 0xff;
  bytes[at + 3] = n & 0xff;
}

/**
 * Reads a `uint32_be` from `bytes` at `at`.
 * @param bytes - the array read.
 * @param at - the offset (four bytes from it must exist).
 * @returns the integer.
 */
export function readU32be(bytes: Uint8Array, at: number): number {
  return (
    (((bytes[at] as number) << 24) |
      ((bytes[at + 1] as number) << 16) |
      ((bytes[at + 2] as number) << 8) |
      (bytes[at + 3] as number)) >>>
    0
  );
}

/**
 * `LP(x) = uint32_be(len(x)) ‖ x` over any number of fields (spec §1); strings are UTF-8.
 * @param fields - the fields, in order.
 * @returns the concatenated length-prefixed fields.
 */
export function lp(...fields: (Uint8Array | string)[]): Uint8Array {
  const bytes = fields.map((f) => (typeof f === 'string' ? utf8ToBytes(f) : f));
  const out = new Uint8Array(bytes.reduce((n, b) => n + 4 + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    writeU32be(out, at, b.length);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}
