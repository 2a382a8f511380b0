/**
 * The simulated network at the end of what SMS time stamps can say (3GPP TS 23.040 §9.2.3.11:
 * years 2000-2089): a message the SMSC cannot stamp is refused on its own, as a network fault,
 * and nothing throws out of the network into the modem or a timer.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { CMS } from '../../shared/gsm/at-codes.ts';
import { decodePdu, encodeSubmit, type DecodedSubmit } from '../../shared/gsm/pdu.ts';
import { SimulatedGsmNetwork, defaultCarriers, type NetworkEndpoint, type NetworkEvent } from '../../hw-profiles/sim/gsm/network.ts';

const submit = (to: string, text: string, statusReportRequest = false): DecodedSubmit =>
  decodePdu((encodeSubmit({ to, text, statusReportRequest })[0] as { hex: string }).hex) as DecodedSubmit;
const SENDER = '+4917100000001';

function network(start: number): { net: SimulatedGsmNetwork; clock: SimulatedClock; events: NetworkEvent[] } {
  const clock = new SimulatedClock({ start });
  const net = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers() });
  const sim = net.issueSim({ carrierId: 'A', msisdn: SENDER });
  const phone: NetworkEndpoint = { msisdn: sim.msisdn, deliverSms: () => 'stored', deliverStatusReport: () => 'stored' };
  net.attach(phone, 'A');
  const events: NetworkEvent[] = [];
  net.onEvent((e) => void events.push(e));
  return { net, clock, events };
}

describe('SMSC time stamps past 2089', () => {
  it('refuses a message it cannot stamp with +CMS 38, and carries on once time is representable again', () => {
    const { net, events } = network(Date.UTC(2026, 2, 10));
    net.setTime(Date.UTC(2100, 0, 1));
    expect(net.submit(SENDER, 1, submit('+15550001', 'in 2100'))).toEqual({ ok: false, cms: CMS.networkOutOfOrder });
    expect(events.find((e) => e.type === 'refused')).toMatchObject({ from: SENDER, to: '+15550001', cms: CMS.networkOutOfOrder });
    expect(net.submissions()).toEqual([]);
    net.setTime(Date.UTC(2030, 0, 1));
    expect(net.submit(SENDER, 2, submit('+15550001', 'in 2030')).ok).toBe(true);
  });

  it('drops a status report it cannot stamp with a refused event, instead of throwing from its timer', async () => {
    const { net, clock, events } = network(Date.UTC(2089, 11, 31, 23, 59, 59));
    expect(net.submit(SENDER, 3, submit('+15550001', 'just in time', true)).ok).toBe(true);
    await clock.advance(10_000);
    expect(net.deliveries()).toHaveLength(1);
    expect(events.filter((e) => e.type === 'status-report')).toEqual([]);
    expect(events.find((e) => e.type === 'refused')).toMatchObject({ to: SENDER, cms: CMS.networkOutOfOrder });
  });
});
