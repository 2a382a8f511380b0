/**
 * HSM-Hot outages under withdrawals, the quick run of `npm test` (hot-outages.ts; the full
 * count is hot-outages.soak.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { osTool } from '../helpers/os-tools.ts';
import { runHotOutages } from './hot-outages.ts';

const socat = osTool('socat', 'socat');
const COUNT = 8;

describe.skipIf(!socat.available)('HSM-Hot killed at random under withdrawals through vweb', () => {
  it(`${COUNT} withdrawals: each paid exactly once or failed with its coins released`, async () => {
    const run = await runHotOutages(COUNT, 'hot-outages-quick');
    expect(run.paid + run.failed).toBe(COUNT);
    expect(run.kills).toBeGreaterThan(0);
    // HSM-Hot coming back is no reason to fail a withdrawal: the app and the platform retry.
    expect(run.paid).toBe(COUNT);
  }, 900_000);
});
