/**
 * HSM-Cold's audit log on the device itself: every transaction that writes audit entries while
 * the device runs commits with a signature over the new head (not only every 64 entries), so
 * nothing it wrote is left outside a signed checkpoint.
 */
import { describe, expect, it } from 'vitest';
import { COLD_APP } from '../../hsm-cold/main.ts';
import { auditTail, verifyAudit } from '../../shared/store/audit.ts';
import { identityPublicKey } from '../../shared/store/identity.ts';
import { coldWorld, until } from './world.ts';

describe('HSM-Cold audit checkpoints', () => {
  it('signs its head at provisioning, at every boot and with every entry written while it runs', async () => {
    const world = await coldWorld({ seed: 'cold-audit' });
    try {
      const { cold, clock } = world;
      cold.openWindow(30);
      world.vDeviceSends('hello', '+8613800000099');
      await until(clock, () => auditTail(cold.store, 5).some((e) => e.kind === 'sms.ignored'), 120_000);
      await clock.advance(60_000);
      const identity = identityPublicKey(cold.store) as string;
      const report = verifyAudit(cold.store, COLD_APP, identity);
      expect(report.problems).toEqual([]);
      expect(report.entries).toBeGreaterThan(8);
      expect(report.lastCheckpointSeq).toBe(report.lastSeq);
      expect(report.uncoveredEntries).toBe(0);
    } finally {
      await world.shutdown();
    }
  });
});
