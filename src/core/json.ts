/**
 * The one way the SDK reads JSON it did not write itself — bodies from the wire (spec §2.1, §2.3,
 * §4, §7) and records read back from a store: strict UTF-8, a JSON object at the top, and fields
 * read as own properties only (a body cannot reach `Object.prototype` through `__proto__` or
 * `constructor`).
 *
 * Nothing here throws: a malformed input answers `undefined` or `false`, and each caller maps that
 * to its own error (`malformed_response` on the initiator, `400 invalid_request` on the
 * responder, `store_error` for a stored record).
 * @module
 */

const STRICT_UTF8 = /* @__PURE__ */ new TextDecoder('utf-8', { fatal: true });

/**
 * Parses bytes as a JSON object.
 * @param bytes - the body, already read within its size limit.
 * @returns the object, or `undefined` for malformed UTF-8, malformed JSON, or any JSON value that
 *   is not an object (an array, a string, `null`, …).
 */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(STRICT_UTF8.decode(bytes));
  } catch {
    return undefined;
  }
  return isJsonObject(value) ? value : undefined;
}

/**
 * Whether a parsed JSON value is an object (not an array, not `null`).
 * @param value - any value.
 * @returns whether it is a plain JSON object.
 */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * One field of a JSON object, read as an own property.
 * @param body - the object.
 * @param name - the field's wire name.
 * @returns its value, or `undefined` when the object has no own property of that name.
 */
export function jsonField(body: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.hasOwn(body, name) ? body[name] : undefined;
}

/**
 * One string field of a JSON object, read as an own property.
 * @param body - the object.
 * @param name - the field's wire name.
 * @returns the string, or `undefined` when the field is missing or not a string.
 */
export function jsonString(
  body: Readonly<Record<string, unknown>>,
  name: string,
): string | undefined {
  const value = jsonField(body, name);
  return typeof value === 'string' ? value : undefined;
}

/**
 * Whether each named field of a JSON object is a string, read as an own property.
 * @param body - the object.
 * @param names - the fields' names.
 * @returns whether every one of them is present and a string.
 */
export function hasStringFields(
  body: Readonly<Record<string, unknown>>,
  names: readonly string[],
): boolean {
  return names.every((name) => jsonString(body, name) !== undefined);
}
