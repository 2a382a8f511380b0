/**
 * Soak counts. `npm test` runs every suite with counts that keep the whole run within minutes
 * on a 2-core machine; `npm run soak` (HSM_SOAK=1, run by CI as well) runs the `*.soak.test.ts`
 * files and gives every `soakCount` its full, published figure. A test name carries the count
 * it ran with, so a report says what was proved.
 *
 *   const trials = soakCount(20, 100);   // 20 in npm test, 100 in npm run soak
 */
export function soaking(): boolean {
  return process.env.HSM_SOAK === '1';
}

export function soakCount(quick: number, full: number): number {
  return soaking() ? full : quick;
}
