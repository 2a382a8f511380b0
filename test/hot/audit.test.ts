/**
 * HSM-Hot's audit log on the device itself: every transaction that writes audit entries while
 * the device runs commits with a signature over the new head, so nothing it wrote is left
 * outside a signed checkpoint.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HOT_APP } from '../../hsm-hot/main.ts';
import { witnessStatus } from '../../shared/link/audit-witness.ts';
import { verifyAudit } from '../../shared/store/audit.ts';
import { witnessedHeads } from '../../shared/store/audit-witnesses.ts';
import { HotRig } from './rig.ts';

let rig: HotRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('HSM-Hot audit checkpoints', () => {
  it('signs its head at provisioning, at every boot and with every entry written while it runs', async () => {
    const r = (rig = await HotRig.create());
    await r.until(() => r.hot.linkUp);
    const client = await r.client();
    expect((await client.op('device_status', {})).msg).toBe('ack');
    const identity = r.hot.identity as string;
    const covered = (): void => {
      const report = verifyAudit(r.hot.store, HOT_APP, identity);
      expect(report.problems).toEqual([]);
      expect(report.checkpoints).toBeGreaterThan(0);
      expect(report.lastCheckpointSeq).toBe(report.lastSeq);
      expect(report.uncoveredEntries).toBe(0);
    };
    covered();
    await r.restartHot();
    await r.until(() => r.hot.linkUp);
    covered();

    // HSM-Cold (here its stand-in, with the same witness code) recorded HSM-Hot's heads, the
    // one signed at this boot included.
    const head = verifyAudit(r.hot.store, HOT_APP, identity).lastSeq;
    await r.until(() => witnessStatus(r.hot.store).witnessedSeq >= head - 1);
    const witnesses = witnessedHeads(r.cold.store, HOT_APP);
    const both = verifyAudit(r.hot.store, HOT_APP, identity, witnesses);
    expect(both.problems).toEqual([]);
    expect(both.witnesses).toBe(witnesses.length);
    expect(both.lastWitnessedSeq).toBe(witnessStatus(r.hot.store).witnessedSeq);
  });
});
