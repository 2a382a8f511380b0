/**
 * HSM-Cold's audit log on the device itself: every transaction that writes audit entries while
 * the device runs commits with a signature over the new head (not only every 64 entries), so
 * nothing it wrote is left outside a signed checkpoint.
 */
import { describe, expect, it } from 'vitest';
import { COLD_APP } from '../../hsm-cold/main.ts';
import { auditTail, verifyAudit } from '../../shared/store/audit.ts';
import { witnessStatus } from '../../shared/link/audit-witness.ts';
import { witnessedHeads } from '../../shared/store/audit-witnesses.ts';
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

      // HSM-Hot (here its stand-in, with the same witness code) recorded HSM-Cold's heads.
      await until(clock, () => witnessStatus(cold.store).witnessedSeq >= report.lastSeq - 1, 60_000);
      const witnesses = witnessedHeads(world.hot.store, COLD_APP);
      expect(witnesses.length).toBeGreaterThan(0);
      const both = verifyAudit(cold.store, COLD_APP, identity, witnesses);
      expect(both.problems).toEqual([]);
      expect(both.lastWitnessedSeq).toBe(witnessStatus(cold.store).witnessedSeq);
    } finally {
      await world.shutdown();
    }
  });
});
