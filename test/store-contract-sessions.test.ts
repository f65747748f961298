/**
 * The session store and replay memory contracts (`helpers/store-contract.ts`) for every
 * implementation: memory (there is no file session store: sessions are short-lived by design).
 */
import { createMemoryReplayMemory } from '../src/responder/replay-memory.js';
import { createMemorySessionStore } from '../src/responder/stores.js';
import {
  describeReplayMemoryContract,
  describeSessionStoreContract,
} from './helpers/store-contract.js';

describeSessionStoreContract('memory', () => createMemorySessionStore());
describeReplayMemoryContract('memory', () => createMemoryReplayMemory());
