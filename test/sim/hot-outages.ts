/**
 * HSM-Hot killed at random under a stream of withdrawals through vweb (`--processes`, the
 * `kill` fault: SIGKILL and a restart, as a power cut). What must hold after every run: each
 * withdrawal ends paid exactly once (one transaction on the chain pays it) or failed, and no
 * coin stays reserved: no request is left unsent, pending or signed, and the wallet still pays.
 * Kills come from a seeded stream, so a failing run replays its decisions.
 */
import { expect } from 'vitest';
import { SeededRandom } from '../../shared/random.ts';
import { channelOpen, openApi, testRig, vDeviceForm } from './rig-helpers.ts';

const PAYEE = '1MCs9SZwLg9JvLo6pzvVBWtmSV1dakwyM1';

export interface OutageRun {
  withdrawals: number;
  kills: number;
  paid: number;
  failed: number;
}

export async function runHotOutages(count: number, seed: string): Promise<OutageRun> {
  const rig = await testRig({ seed, processes: true });
  const random = new SeededRandom(`hot-outages/${seed}/${count}`);
  try {
    await channelOpen(rig);
    // One amount per withdrawal, so a payment on the chain names its withdrawal.
    const amounts = Array.from({ length: count }, (_, i) => 20_000 + i);
    const ids = amounts.map((amount) => rig.vweb.queueWithdrawal({ outs: `${PAYEE},${amount}`, dynamic: 1 }));
    const reported = (): boolean => ids.every((id) => ['done', 'failed'].includes(rig.vweb.withdrawal(id)?.state ?? ''));
    let kills = 0;
    const kill = async (): Promise<void> => {
      await rig.settle(rig.inject({ fault: 'kill', device: 'hot' }), 'HSM-Hot killed and back');
      kills += 1;
    };
    const limit = rig.clock.monotonic() + count * 30 * 60_000;
    const seen = new Set<number>();
    while (!reported()) {
      if (rig.clock.monotonic() > limit) throw new Error(`withdrawals still open after ${count * 30} min of world time: ${JSON.stringify(rig.gateway.ledger.counts())}`);
      // The moment the app pulls a withdrawal it posts it: a kill then catches the platform
      // without HSM-Hot. Other kills come at any time (approval, signing, broadcast).
      const pulled = (): number | undefined => ids.find((id) => !seen.has(id) && rig.vweb.withdrawal(id)?.state !== 'queued');
      const until = rig.clock.monotonic() + random.between(1_000, 15_000);
      await rig.waitFor(() => rig.clock.monotonic() >= until || pulled() !== undefined || reported(), 'a withdrawal or a pause', 60_000);
      const fresh = pulled();
      if (fresh !== undefined) {
        seen.add(fresh);
        if (random.chance(0.5)) await kill();
      } else if (random.chance(0.2)) {
        await kill();
      }
    }
    await rig.waitFor(() => rig.hotClient.connected, 'the platform to reach HSM-Hot', 600_000);
    // Requests still being finished by the platform (a broadcast after the report) settle.
    await rig.waitFor(() => rig.gateway.ledger.counts().unsent + rig.gateway.ledger.counts().pending + rig.gateway.ledger.counts().signed === 0, 'the ledger to settle', 600_000);

    let paid = 0;
    let failed = 0;
    const payments = rig.chain.history(() => true).flatMap((tx) => tx.outputs.filter((o) => o.address === PAYEE).map((o) => o.value));
    for (const [i, id] of ids.entries()) {
      const withdrawal = rig.vweb.withdrawal(id);
      const record = rig.gateway.ledger.get(String(id));
      const onChain = payments.filter((v) => v === BigInt(amounts[i] as number)).length;
      if (withdrawal?.state === 'done') {
        paid += 1;
        expect(onChain, `withdrawal ${id} paid ${onChain} times`).toBe(1);
        expect(rig.chain.transaction(withdrawal.txHash as string)).toBeDefined();
        expect(record?.state).toBe('done');
      } else {
        failed += 1;
        expect(onChain, `failed withdrawal ${id} paid ${onChain} times`).toBe(0);
        expect(record === undefined || record.state === 'failed', `withdrawal ${id}: ${record?.state}`).toBe(true);
      }
      expect(record?.reserved ?? [], `withdrawal ${id} still holds coins`).toEqual([]);
    }
    expect(rig.gateway.ledger.counts()).toMatchObject({ unsent: 0, pending: 0, signed: 0 });
    // No coin is frozen: the platform builds one more payment from the wallet.
    const more = await rig.settle(openApi(rig, '/tx/request', { form: vDeviceForm(rig, 'after-outages', `${PAYEE},19999`) }), 'one more request');
    expect(more, JSON.stringify(more.body)).toEqual({ status: 200, body: { result: true } });
    return { withdrawals: count, kills, paid, failed };
  } finally {
    await rig.stop();
  }
}
