/**
 * Smoke entry for `import`: loads the packed package by its public specifiers and runs the
 * checks of `smoke.mjs`. Run from the scratch consumer project, whose `node_modules` holds the
 * package; used for Node, Deno and Bun.
 */
import * as lib from 'zeq-keyex';
import * as protocolLib from 'zeq-keyex/protocol';
import * as responderLib from 'zeq-keyex/responder';
import vectors from './vectors.mjs';
import { printResult, runSmoke } from './smoke.mjs';

printResult(await runSmoke({ lib, protocolLib, responderLib, vectors }));
