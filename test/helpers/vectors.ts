import { readFileSync } from 'node:fs';

/** Loads `test/vectors/<name>.json` (each file carries the URL it was taken from). */
export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}.json`, import.meta.url), 'utf8')) as T;
}
