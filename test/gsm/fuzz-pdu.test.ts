/**
 * Fuzzing the PDU decoder with 10,000 malformed PDUs (seeded, fixed count): each one either
 * decodes to a well-formed message or throws an HsmError with one of the codec's codes; never
 * another exception, never unbounded work. The emulator gets the same PDUs after AT+CMGS and
 * must answer each with +CMS ERROR or +CMGS, never crash.
 */
import { describe, expect, it } from 'vitest';
import { HsmError } from '../../shared/errors.ts';
import { decodePdu, encodeDeliver, encodeStatusReport, encodeSubmit, MAX_PDU_HEX } from '../../shared/gsm/pdu.ts';
import { SeededRandom } from '../../shared/random.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { Terminal, world } from './helpers.ts';

const CASES = 10_000;
const PDU_CODES = new Set([
  'PDU_HEX',
  'PDU_TOO_LONG',
  'PDU_TRUNCATED',
  'PDU_TRAILING_DATA',
  'PDU_BAD_ADDRESS',
  'PDU_BAD_TIMESTAMP',
  'PDU_BAD_UDH',
  'PDU_BAD_LENGTH',
  'PDU_UNSUPPORTED',
]);

function seeds(): string[] {
  const at = Date.UTC(2026, 0, 2, 10, 0, 0);
  return [
    ...encodeSubmit({ to: '+4917099887766', text: 'CC:CHANNEL_OK:7:', statusReportRequest: true, smsc: '+491710760000' }),
    ...encodeSubmit({ to: '4917', text: 'x'.repeat(300), concatReference: 5, validityPeriod: 167 }),
    ...encodeSubmit({ to: '+1555', text: 'Ünïcødé ж'.repeat(12), concatReference: 6 }),
    ...encodeDeliver({ from: '+4917011', text: 'CC:QH:02AB:H_ID:1:', timestamp: at, timeZoneMinutes: 120, smsc: '+491720000000' }),
    ...encodeDeliver({ from: '+4917022', text: '€[]{}'.repeat(40), timestamp: at, referenceBits: 16, concatReference: 999 }),
    encodeStatusReport({ messageReference: 9, recipient: '+4917033', timestamp: at, discharge: at + 1000, status: 0x46 }),
  ].map((p) => p.hex);
}

const HEX = '0123456789ABCDEF';

function mutate(random: SeededRandom, hex: string): string {
  let out = hex;
  const rounds = random.between(1, 4);
  for (let r = 0; r < rounds; r++) {
    const at = random.int(out.length + 1);
    switch (random.int(9)) {
      case 0: {
        // flip one bit of one octet
        const octet = Math.floor(random.int(Math.max(1, out.length)) / 2) * 2;
        const value = parseInt(out.slice(octet, octet + 2) || '00', 16) ^ (1 << random.int(8));
        out = out.slice(0, octet) + value.toString(16).padStart(2, '0').toUpperCase() + out.slice(octet + 2);
        break;
      }
      case 1:
        out = out.slice(0, at - (at % 2));
        break;
      case 2:
        out = out.slice(0, at) + out.slice(at + 2 * random.between(1, 4));
        break;
      case 3: {
        let extra = '';
        for (let i = random.between(1, 8) * 2; i > 0; i--) extra += HEX[random.int(16)];
        out = out.slice(0, at - (at % 2)) + extra + out.slice(at - (at % 2));
        break;
      }
      case 4: {
        // set a length-like octet (SCA, address, UDL, UDHL) to an extreme
        const octet = Math.floor(random.int(Math.max(1, Math.min(out.length, 60))) / 2) * 2;
        out = out.slice(0, octet) + random.pick(['00', 'FF', '8C', 'A0', '14', '0B', '06']) + out.slice(octet + 2);
        break;
      }
      case 5:
        out = out.slice(0, at) + random.pick(['G', 'z', ' ', '\u00e9', '0']) + out.slice(at);
        break;
      case 6:
        out = out + out.slice(0, random.int(out.length));
        break;
      case 7:
        // first octet: MTI 11, UDHI and VPF bits
        out = random.pick(['03', '07', '41', '59', '19', '44', '66']) + out.slice(2);
        break;
      default:
        out = out.slice(0, 2) + out.slice(2 + 2 * random.int(12));
    }
  }
  return out;
}

function randomHex(random: SeededRandom): string {
  let out = '';
  for (let i = random.int(MAX_PDU_HEX + 20); i > 0; i--) out += HEX[random.int(16)];
  return out;
}

describe('PDU decoder fuzzing', () => {
  it(`${CASES} malformed PDUs: a decoded message or a typed error, each time`, () => {
    const random = new SeededRandom('pdu-fuzz');
    const base = seeds();
    const outcomes = { decoded: 0, errors: new Map<string, number>() };
    for (let n = 0; n < CASES; n++) {
      const hex = n % 10 === 0 ? randomHex(random) : mutate(random, random.pick(base));
      try {
        const pdu = decodePdu(hex);
        outcomes.decoded++;
        expect(['deliver', 'submit', 'status-report']).toContain(pdu.type);
        if (pdu.type !== 'status-report') {
          expect(pdu.userData.text.length).toBeLessThanOrEqual(160);
          expect(pdu.userData.raw.ud.length).toBeLessThanOrEqual(140);
        }
      } catch (error) {
        expect(error, `case ${n}: ${hex}`).toBeInstanceOf(HsmError);
        const code = (error as HsmError).code;
        expect(PDU_CODES.has(code), `case ${n}: ${code}`).toBe(true);
        expect((error as HsmError).field).toEqual(expect.any(String));
        outcomes.errors.set(code, (outcomes.errors.get(code) ?? 0) + 1);
      }
    }
    const errorCount = [...outcomes.errors.values()].reduce((a, b) => a + b, 0);
    expect(errorCount).toBeGreaterThan(CASES / 2);
    expect(outcomes.errors.size).toBeGreaterThanOrEqual(7);
  }, 60_000);

  it('the emulator answers 500 malformed SMS-SUBMITs after AT+CMGS with +CMS ERROR or +CMGS, and keeps working', async () => {
    const w = world();
    const sim = w.network.issueSim({ carrierId: 'A', msisdn: '+4917000000001' });
    const device = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim });
    device.modem.setSendDelay(0);
    const term = new Terminal(w.clock, device.openHostPort());
    await term.command('ATE0;+CMEE=1');
    const random = new SeededRandom('emulator-pdu-fuzz');
    const base = seeds().filter((hex) => decodePdu(hex).type === 'submit');
    let accepted = 0;
    for (let n = 0; n < 500; n++) {
      const hex = mutate(random, random.pick(base)).replace(/[^0-9A-Fa-f]/g, '0');
      const length = Math.max(1, Math.min(164, Math.floor(hex.length / 2) - 1));
      term.type(`AT+CMGS=${length}\r`);
      await term.read(/> $/);
      term.type(`${hex}\x1a`);
      const out = await term.read(/\r\n(OK|\+CMS ERROR: \d+)\r\n$/);
      if (out.includes('+CMGS:')) accepted++;
      else expect(out).toMatch(/^\r\n\+CMS ERROR: (304|331)\r\n$/);
    }
    expect(accepted).toBeGreaterThan(0);
    expect(await term.command('AT')).toBe('\r\nOK\r\n');
  }, 60_000);
});
