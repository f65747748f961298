import { startServer } from './app.js';

const fieldKey = process.env.ZEQ_FIELD_KEY;
if (fieldKey === undefined) throw new Error('ZEQ_FIELD_KEY is not set (64 hex characters)');

const { responder, origin } = await startServer(fieldKey, Number(process.env.PORT ?? 8787));
const { fingerprint } = await responder.keyDocument('edge-01');
console.log(`listening on ${origin}; pin edge-01 to ${fingerprint}`);
