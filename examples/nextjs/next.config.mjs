import { fileURLToPath } from 'node:url';

/** @type {import('next').NextConfig} */
const config = {
  // zeq-keyex is loaded from node_modules at run time, as Node loads it, not bundled.
  serverExternalPackages: ['zeq-keyex'],
  // This directory is the app's root (not a parent with a lockfile of its own).
  turbopack: { root: fileURLToPath(new URL('.', import.meta.url)) },
};

export default config;
