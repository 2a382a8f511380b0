import { describe, expect, it } from 'vitest';
import { HsmError } from '../../shared/errors.ts';
import { SeededRandom } from '../../shared/random.ts';
import { COLD_RECORDS } from '../../hsm-cold/records.ts';
import { applySms, prepareSms, triageSms } from '../../hsm-cold/sms-router.ts';
import { ADMIN, V_DEVICE, VDeviceKeys, coldFixture } from '../cold/fixture.ts';

const TEXTS = 10_000;

function mutate(random: SeededRandom, text: string): string {
  const chars = [...text];
  for (let m = random.between(1, 4); m > 0; m--) {
    const at = random.int(chars.length + 1);
    switch (random.int(5)) {
      case 0:
        chars.splice(at, 1);
        break;
      case 1:
        chars.splice(at, 0, String.fromCharCode(random.between(0, 0x7f)));
        break;
      case 2:
        chars[at] = random.pick([':', '0', '9', 'F', ' ', '\n', '\u0000', 'é', '€']);
        break;
      case 3:
        chars.splice(at, 0, ...':'.repeat(random.between(1, 3)));
        break;
      default:
        chars.length = Math.min(chars.length, at);
    }
  }
  return chars.join('');
}

describe('fuzz: SMS texts from the V-Device number (seeded, fixed count)', () => {
  it(`${TEXTS} random and mutated texts: no crash; only the documented state changes`, async () => {
    const f = coldFixture();
    const random = new SeededRandom('cold-sms-fuzz');
    const keys = new VDeviceKeys(random.fork('keys'));
    const seeds = [
      () => `CC:QH:${keys.next().qh}:H_ID:${random.int(1000)}:`,
      () => `CC:CHANNEL_OK:${random.int(5000)}:`,
      () => `CC:VERIFY_HOT_ADDRESSES:${random.int(20)}:BTC:`,
      () => `CC:VERIFY_COLD_ADDRESSES:${random.int(20)}:${random.pick(['BTC', 'LTC', 'DOGE'])}:`,
      () => 'CC:',
      () => 'START_LOOP',
    ];
    const outcomes = { ignored: 0, requests: 0, oks: 0, verifies: 0 };
    for (let i = 0; i < TEXTS; i++) {
      const r = random.float();
      const text = r < 0.2 ? Buffer.from(random.bytes(random.int(200))).toString('latin1') : r < 0.35 ? random.pick(seeds)() : mutate(random, random.pick(seeds)());
      const sms = { id: i + 1, from: random.chance(0.95) ? V_DEVICE : '+8613800000999', text };
      const triage = triageSms(f.svc, sms);
      const prepared = await prepareSms(f.svc, triage);
      const channelsBefore = f.svc.store.count(COLD_RECORDS.channels);
      try {
        f.svc.store.transact((tx) => applySms(f.svc, tx, sms, triage, prepared));
      } catch (error) {
        expect(error).toBeInstanceOf(HsmError);
        throw error;
      }
      if (triage.kind === 'ignore') {
        outcomes.ignored++;
        expect(f.svc.store.count(COLD_RECORDS.channels)).toBe(channelsBefore);
      } else if (triage.message.kind === 'channel-request') outcomes.requests++;
      else if (triage.message.kind === 'channel-ok') outcomes.oks++;
      else outcomes.verifies++;
      f.clock.advanceSync(100);
      if (i % 500 === 0) f.trustTime();
    }
    // Everything that was sent went to the V-Device (replies) or the administrator (alerts).
    expect(new Set(f.sent.map((s) => s.to))).toEqual(new Set([V_DEVICE, ADMIN]));
    expect(f.sent.filter((s) => s.to === V_DEVICE).every((s) => s.text.startsWith('CC:QC:') || /^CC:(HOT|COLD)_ADDRESSES:/.test(s.text))).toBe(true);
    // Each accepted request made one channel; at most one channel is pending, at most one open.
    const channels = [...f.svc.store.range(COLD_RECORDS.channels)].map((e) => e.value);
    expect(channels.filter((c) => c.status === 'pending').length).toBeLessThanOrEqual(1);
    expect(channels.filter((c) => c.status === 'open').length).toBeLessThanOrEqual(1);
    expect(channels.length).toBeLessThanOrEqual(outcomes.requests);
    expect(outcomes.ignored).toBeGreaterThan(TEXTS / 2);
    expect(outcomes.requests + outcomes.oks + outcomes.verifies).toBeGreaterThan(100);
    // No approval, spend or configuration was touched.
    expect(f.svc.store.count(COLD_RECORDS.approvals)).toBe(0);
    expect(f.svc.store.count(COLD_RECORDS.spends)).toBe(0);
    await f.close();
  }, 120_000);
});
