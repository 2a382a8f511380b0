import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { encodeSubmit, decodePdu, type DecodedSubmit } from '../../shared/gsm/pdu.ts';
import { SeededRandom } from '../../shared/random.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { SimulatedGsmNetwork, TP_STATUS, defaultCarriers, type NetworkEvent } from '../../hw-profiles/sim/gsm/network.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { Terminal, world } from './helpers.ts';

const submit = (to: string, text: string, statusReportRequest = false): DecodedSubmit =>
  decodePdu((encodeSubmit({ to, text, statusReportRequest })[0] as { hex: string }).hex) as DecodedSubmit;

/** A network with two attached phones (emulated modems), A-side and B-side. */
async function twoPhones() {
  const w = world();
  const simA = w.network.issueSim({ carrierId: 'A', msisdn: '+4917100000001' });
  const simB = w.network.issueSim({ carrierId: 'B', msisdn: '+4917200000002' });
  const a = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim: simA });
  const b = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim: simB });
  const termB = new Terminal(w.clock, b.openHostPort());
  await w.clock.advance(1);
  return { ...w, a, b, termB, simA, simB };
}

describe('SimulatedGsmNetwork', () => {
  it('delivers an SMS-SUBMIT from one modem to another as an SMS-DELIVER with the sender number', async () => {
    const { network, clock, b, termB } = await twoPhones();
    const result = network.submit('+4917100000001', 5, submit('+4917200000002', 'across carriers'));
    expect(result.ok).toBe(true);
    expect(await termB.read(/\+CMTI: "SM",1\r\n$/)).toBe('\r\n+CMTI: "SM",1\r\n');
    const [stored] = b.modem.messages();
    const decoded = decodePdu(stored?.pdu as string);
    expect(decoded).toMatchObject({ type: 'deliver', originator: { number: '+4917100000001' }, smsc: '+12025550100', userData: { text: 'across carriers' } });
    expect(network.deliveries({ to: '+4917200000002' })).toHaveLength(1);
    expect(clock.monotonic()).toBeGreaterThanOrEqual(200);
  });

  it('routes a number dialled without a country code in the home numbering plan, as a phone dials at home', async () => {
    const clock = new SimulatedClock();
    const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), homeCountryCode: '49' });
    network.issueSim({ carrierId: 'A', msisdn: '+4917100000001' });
    const simB = network.issueSim({ carrierId: 'B', msisdn: '+4917200000002' });
    const a = new EmulatedModemDevice({ clock, network, sim: network.issueSim({ carrierId: 'A', msisdn: '+4917100000003' }) });
    const b = new EmulatedModemDevice({ clock, network, sim: simB });
    void a;
    await clock.advance(1);
    const result = network.submit('+4917100000003', 1, submit('17200000002', 'dialled at home'));
    expect(result).toMatchObject({ ok: true, submission: { to: '+4917200000002' } });
    await clock.advance(5_000);
    expect(network.deliveries({ to: '+4917200000002' }).map((d) => d.text)).toEqual(['dialled at home']);
    expect(b.modem.messages()).toHaveLength(1);
    expectHsmError(() => new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), homeCountryCode: '+49' }), 'NETWORK_BAD_ARGUMENT', 'homeCountryCode');
  });

  it('records deliveries to numbers nobody attached (the outside world)', async () => {
    const { network, clock } = await twoPhones();
    network.submit('+4917100000001', 0, submit('+15550001', 'to the world'));
    await clock.advance(1_000);
    expect(network.deliveries()).toMatchObject([{ to: '+15550001', text: 'to the world', external: true, duplicate: false }]);
  });

  it('sends a status report to the sender after delivery, and a failure report when validity runs out', async () => {
    const clock = new SimulatedClock();
    const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), retryIntervalMs: 1_000, validityMs: 5_000 });
    const simA = network.issueSim({ carrierId: 'A', msisdn: '+4917100000001' });
    network.issueSim({ carrierId: 'B', msisdn: '+4917200000002' }); // known, never attached
    const a = new EmulatedModemDevice({ clock, network, sim: simA });
    const term = new Terminal(clock, a.openHostPort());
    await term.command('ATE0;+CNMI=2,1,0,1,0');
    network.submit('+4917100000001', 9, submit('+15550001', 'report me', true));
    const cds = await term.read(/\r\n[0-9A-F]+\r\n$/);
    const pdu = /\r\n([0-9A-F]+)\r\n$/.exec(cds)?.[1] as string;
    expect(decodePdu(pdu)).toMatchObject({ type: 'status-report', messageReference: 9, recipient: { number: '+15550001' }, status: TP_STATUS.delivered });
    network.submit('+4917100000001', 10, submit('+4917200000002', 'nobody home', true));
    const expired = await term.read(/\r\n[0-9A-F]+\r\n$/, 20_000);
    expect(decodePdu(/\r\n([0-9A-F]+)\r\n$/.exec(expired)?.[1] as string)).toMatchObject({ messageReference: 10, status: TP_STATUS.validityExpired });
  });

  it('carrier outage: submissions refused (331), deliveries held and made after recovery', async () => {
    const { network, clock, a, b, termB } = await twoPhones();
    await termB.command('ATE0;+CREG=1');
    const events: NetworkEvent[] = [];
    network.onEvent((e) => events.push(e));
    network.setCarrierUp('B', false);
    expect(await termB.read(/\+CREG: 2\r\n$/)).toBe('\r\n+CREG: 2\r\n');
    expect(network.submit('+4917200000002', 0, submit('+4917100000001', 'x'))).toEqual({ ok: false, cms: 331 });
    network.submit('+4917100000001', 0, submit('+4917200000002', 'held'));
    await clock.advance(60_000);
    expect(b.modem.messages()).toHaveLength(0);
    network.setCarrierUp('B', true);
    await termB.read(/\+CREG: 1\r\n/);
    await clock.advance(31_000);
    expect(b.modem.messages()).toHaveLength(1);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['carrier', 'refused', 'submitted', 'retrying', 'delivered']));
    expect(a.modem.isPowered).toBe(true);
  });

  it('loses, duplicates and reorders as configured, the same way for the same seed', async () => {
    const run = async (seed: string) => {
      const clock = new SimulatedClock();
      const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: new SeededRandom(seed) });
      const sim = network.issueSim({ carrierId: 'A', msisdn: '+4917100000001' });
      new EmulatedModemDevice({ clock, network, sim });
      network.setFaults('A', { delayMs: [100, 500], lossRate: 0.2, duplicateRate: 0.2, reorderRate: 0.3 });
      for (let i = 0; i < 100; i++) network.submit('+4917100000001', i, submit('+15550001', `m${i}`));
      await clock.advance(60_000);
      return network.deliveries().map((d) => `${d.text}${d.duplicate ? '*' : ''}`);
    };
    const first = await run('seed-1');
    expect(await run('seed-1')).toEqual(first);
    expect(await run('seed-2')).not.toEqual(first);
    const originals = first.filter((t) => !t.endsWith('*'));
    expect(originals.length).toBeGreaterThan(60);
    expect(originals.length).toBeLessThan(95);
    expect(first.some((t) => t.endsWith('*'))).toBe(true);
    const order = originals.map((t) => Number(t.slice(1)));
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it('delivers multipart messages part by part, and from outside senders', async () => {
    const { network, b, termB } = await twoPhones();
    const ids = network.sendFromOutside({ from: '+15550009', to: '+4917200000002', text: 'p'.repeat(300), referenceBits: 16 });
    expect(ids).toHaveLength(2);
    await termB.read(/\+CMTI: "SM",2\r\n$/);
    const texts = b.modem.messages().map((m) => decodePdu(m.pdu)).map((d) => (d.type === 'deliver' ? d.userData : undefined));
    expect(texts.map((t) => t?.concat?.referenceBits)).toEqual([16, 16]);
    expect(texts.map((t) => t?.text ?? '').join('').length).toBe(300);
  });

  it('keeps network time for SCTS and CCLK', async () => {
    const { network, termB } = await twoPhones();
    network.setTime(Date.UTC(2026, 2, 3, 4, 5, 6));
    expect(await termB.command('AT+CCLK?')).toContain('+CCLK: "26/03/03,04:05:06+00"');
  });

  it('refuses bad configuration and arguments with typed errors', () => {
    const clock = new SimulatedClock();
    expectHsmError(() => new SimulatedGsmNetwork({ clock, carriers: [] }), 'NETWORK_BAD_ARGUMENT', 'carriers');
    expectHsmError(() => new SimulatedGsmNetwork({ clock, carriers: [{ id: 'A', name: 'A', mccMnc: '26', smsc: '+49' }] }), 'NETWORK_BAD_ARGUMENT', 'mccMnc');
    const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers() });
    expectHsmError(() => network.setFaults('A', { lossRate: 2 }), 'NETWORK_BAD_ARGUMENT', 'lossRate');
    expectHsmError(() => network.setFaults('A', { delayMs: [5, 1] }), 'NETWORK_BAD_ARGUMENT', 'delayMs');
    expectHsmError(() => network.setCarrierUp('Z', false), 'NETWORK_UNKNOWN_CARRIER', 'carrierId');
    expectHsmError(() => network.issueSim({ carrierId: 'A', msisdn: 'me' }), 'PDU_BAD_ADDRESS', 'msisdn');
    expectHsmError(() => network.issueSim({ carrierId: 'A', msisdn: '+4917', pin: '12' }), 'NETWORK_BAD_ARGUMENT', 'pin');
    const sim = network.issueSim({ carrierId: 'A', msisdn: '+4917100000001' });
    expect(sim.imsi).toMatch(/^00101\d{10}$/);
    expect(sim.iccid).toMatch(/^\d{19}$/);
    expectHsmError(() => network.attach({ msisdn: '+4917100000001', deliverSms: () => 'stored', deliverStatusReport: () => 'stored' }, 'B'), 'NETWORK_BAD_ARGUMENT', 'carrierId');
    network.attach({ msisdn: '+4917100000001', deliverSms: () => 'stored', deliverStatusReport: () => 'stored' }, 'A');
    expectHsmError(() => network.attach({ msisdn: '+4917100000001', deliverSms: () => 'stored', deliverStatusReport: () => 'stored' }, 'A'), 'NETWORK_NUMBER_IN_USE', 'msisdn');
  });
});
