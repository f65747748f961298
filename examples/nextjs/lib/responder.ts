import { createFileKeyStore } from 'zeq-keyex/node';
import { type Responder, createResponder } from 'zeq-keyex/responder';

let made: Responder | undefined;

/**
 * The process's one responder (a module-level value: it holds the sessions and record ratchets of
 * the handshakes it made), made on the first request rather than at import, since `next build`
 * imports the route without the runtime's secrets. Its keys live in `ZEQ_KEY_DIR`, so the
 * fingerprint an operator pins survives restarts.
 */
export function responder(): Responder {
  made ??= createResponder({
    fieldKey: requiredEnv('ZEQ_FIELD_KEY'),
    keyStore: createFileKeyStore(requiredEnv('ZEQ_KEY_DIR')),
    machines: { 'edge-01': 'machine:edge-01' },
    onRecord: (plaintext) =>
      new TextEncoder().encode(`pong: ${new TextDecoder().decode(plaintext)}`),
    onError: (error) => {
      console.error(error);
    },
  });
  return made;
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}
