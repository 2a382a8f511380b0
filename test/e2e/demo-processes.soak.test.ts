/**
 * The whole `hsm demo` story with HSM-Hot and HSM-Cold as separate processes on socat ptys
 * (npm run soak; about a minute and a half on two cores).
 */
import { describe, it } from 'vitest';
import { osTool } from '../helpers/os-tools.ts';
import { demo, expectWholeStory } from './demo-run.ts';

const socat = osTool('socat', 'socat');

describe.skipIf(!socat.available)('hsm demo --processes', () => {
  it('tells the same story with HSM-Hot and HSM-Cold as separate processes over ptys', async () => {
    expectWholeStory(await demo(['--processes']), true);
  }, 900_000);
});
