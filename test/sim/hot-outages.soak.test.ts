/**
 * HSM-Hot outages under withdrawals at full count (`npm run soak`; hot-outages.ts says what
 * must hold).
 */
import { describe, expect, it } from 'vitest';
import { osTool } from '../helpers/os-tools.ts';
import { soakCount } from '../helpers/soak.ts';
import { runHotOutages } from './hot-outages.ts';

const socat = osTool('socat', 'socat');
const COUNT = soakCount(100, 100);

describe.skipIf(!socat.available)('HSM-Hot killed at random under withdrawals through vweb', () => {
  it(`${COUNT} withdrawals: each paid exactly once or failed with its coins released`, async () => {
    const run = await runHotOutages(COUNT, 'hot-outages-soak');
    expect(run.paid + run.failed).toBe(COUNT);
    expect(run.kills).toBeGreaterThan(COUNT / 10);
    expect(run.paid).toBe(COUNT);
  }, 3_600_000);
});
