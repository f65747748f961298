/**
 * Smoke entry for `require()` (Node ≥ 20.19 loads ES modules with it): loads the packed package
 * synchronously by its public specifiers, checks that `require()` and `import` give one module
 * instance (no dual-package hazard), then runs the checks of `smoke.mjs`.
 */
'use strict';

const lib = require('zeq-keyex');
const protocolLib = require('zeq-keyex/protocol');
const responderLib = require('zeq-keyex/responder');

(async () => {
  const { printResult, runSmoke } = await import('./smoke.mjs');
  const { default: vectors } = await import('./vectors.mjs');
  const extra = {
    'require() and import give one module instance': async () => {
      const imported = await import('zeq-keyex');
      const importedResponder = await import('zeq-keyex/responder');
      if (
        lib.createClient !== imported.createClient ||
        lib.ZeqKeyExError !== imported.ZeqKeyExError
      ) {
        throw new Error('zeq-keyex loaded twice');
      }
      if (responderLib.createResponder !== importedResponder.createResponder)
        throw new Error('zeq-keyex/responder loaded twice');
      const importedProtocol = await import('zeq-keyex/protocol');
      if (protocolLib.loadKem !== importedProtocol.loadKem)
        throw new Error('zeq-keyex/protocol loaded twice');
    },
  };
  printResult(await runSmoke({ lib, protocolLib, responderLib, vectors, extra }));
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
