/**
 * The protocol vectors and byte helpers for the page, re-exported from test/helpers/vector-data.ts
 * (which loads them without `node:*`) for the browser tests that import them from here.
 */
export * from '../helpers/vector-data.js';
