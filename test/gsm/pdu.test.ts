import { describe, expect, it } from 'vitest';
import { Submit, parse } from 'node-pdu';
import {
  decodePdu,
  encodeDeliver,
  encodeDeliverRaw,
  encodeStatusReport,
  encodeSubmit,
  encodeTimestamp,
  planSms,
  statusReportOutcome,
  type DecodedDeliver,
  type DecodedSubmit,
} from '../../shared/gsm/pdu.ts';
import { firstNonGsm7, packSeptets, septetsToText, textToSeptets, unpackSeptets } from '../../shared/gsm/gsm7.ts';
import { SeededRandom } from '../../shared/random.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { loadVectors } from '../helpers/vectors.ts';

interface PduVectors {
  deliver: Array<{ pdu: string; smsc: string; originator: string; originatorToa: number; timestamp: string; timeZoneMinutes: number; text: string }>;
  submit: Array<{ pdu: string; to: string; validityPeriod: number; text: string }>;
}

const vectors = loadVectors<PduVectors>('sms-pdu');

/** Every GSM-7 character node-pdu also maps correctly (it has '`' where the spec has '§'). */
const GSM7_SHARED = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€';

function randomText(random: SeededRandom, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[random.int(alphabet.length)];
  return out;
}

describe('published PDU vectors', () => {
  for (const v of vectors.deliver) {
    it(`decodes the SMS-DELIVER ${v.pdu.slice(0, 16)}…`, () => {
      const pdu = decodePdu(v.pdu) as DecodedDeliver;
      expect(pdu.type).toBe('deliver');
      expect(pdu.smsc).toBe(v.smsc);
      expect(pdu.originator).toMatchObject({ number: v.originator, toa: v.originatorToa });
      expect(new Date(pdu.timestamp).toISOString()).toBe(v.timestamp);
      expect(pdu.timeZoneMinutes).toBe(v.timeZoneMinutes);
      expect(pdu.userData.text).toBe(v.text);
    });
  }

  for (const v of vectors.submit) {
    it(`encodes and decodes the SMS-SUBMIT ${v.pdu.slice(0, 16)}…`, () => {
      const [encoded] = encodeSubmit({ to: v.to, text: v.text, validityPeriod: v.validityPeriod });
      expect(encoded?.hex).toBe(v.pdu);
      expect(encoded?.tpduLength).toBe(v.pdu.length / 2 - 1);
      const pdu = decodePdu(v.pdu) as DecodedSubmit;
      expect(pdu).toMatchObject({ type: 'submit', destination: { number: v.to }, validityFormat: 2 });
      expect(pdu.userData.text).toBe(v.text);
    });
  }
});

describe('GSM 7-bit alphabet (23.038 §6.2.1)', () => {
  it('maps 0x5F to § and 0x60 to ¿, and escapes the extension table', () => {
    expect(textToSeptets('§¿')).toEqual([0x5f, 0x60]);
    expect(textToSeptets('€[')).toEqual([0x1b, 0x65, 0x1b, 0x3c]);
    expect(septetsToText([0x1b, 0x65, 0x41])).toBe('€A');
    expect(firstNonGsm7('ok`')).toBe(2);
    expect(firstNonGsm7('tab\there')).toBe(3);
  });

  it('packs and unpacks septets with fill bits', () => {
    const random = new SeededRandom('septets');
    for (let n = 0; n < 200; n++) {
      const septets = Array.from({ length: random.int(161) }, () => random.int(128));
      const fill = random.int(7);
      expect(unpackSeptets(packSeptets(septets, fill), septets.length, fill)).toEqual(septets);
    }
  });
});

describe('planning: refuse rather than alter', () => {
  it('keeps GSM-7 text in one part up to 160 septets, extension characters counting twice', () => {
    expect(planSms('a'.repeat(160)).parts).toHaveLength(1);
    expect(planSms('a'.repeat(159) + '€').parts).toHaveLength(2);
    const split = planSms('a'.repeat(161));
    expect(split.parts.map((p) => p.length)).toEqual([153, 8]);
    expect(planSms('a'.repeat(161), { referenceBits: 16 }).parts.map((p) => p.length)).toEqual([152, 9]);
  });

  it('never splits an escape sequence across parts', () => {
    const text = 'a'.repeat(152) + '€' + 'b'.repeat(10);
    const plan = planSms(text);
    expect(plan.parts[0]).toBe('a'.repeat(152));
    expect(plan.parts[1]).toBe('€' + 'b'.repeat(10));
    expect(plan.parts.join('')).toBe(text);
  });

  it('falls back to UCS-2 for text outside GSM-7 (70 per part, 67 with a header)', () => {
    expect(planSms('Grüße `ok`')).toMatchObject({ encoding: 'ucs2' });
    expect(planSms('ж'.repeat(70)).parts).toHaveLength(1);
    expect(planSms('ж'.repeat(71)).parts.map((p) => p.length)).toEqual([67, 4]);
  });

  it('refuses characters that would be changed, and texts that are too long', () => {
    expectHsmError(() => planSms('ok `quoted`', { alphabet: 'gsm7' }), 'SMS_TEXT_UNENCODABLE', 'text');
    expectHsmError(() => planSms('rocket 🚀'), 'SMS_TEXT_UNENCODABLE', 'text');
    expectHsmError(() => planSms('\ud800 lone'), 'SMS_TEXT_UNENCODABLE', 'text');
    expectHsmError(() => planSms('a'.repeat(161), { maxParts: 1 }), 'SMS_TEXT_TOO_LONG', 'text');
    expectHsmError(() => planSms('x', { maxParts: 0 }), 'SMS_BAD_ARGUMENT', 'maxParts');
    expectHsmError(() => planSms('x', { alphabet: 'latin1' as never }), 'SMS_BAD_ARGUMENT', 'alphabet');
  });

  it('checks numbers and references before encoding', () => {
    expectHsmError(() => encodeSubmit({ to: '+49 170 1234', text: 'x' }), 'PDU_BAD_ADDRESS', 'to');
    expectHsmError(() => encodeSubmit({ to: 'abc', text: 'x' }), 'PDU_BAD_ADDRESS', 'to');
    expectHsmError(() => encodeSubmit({ to: '+4917', text: 'x'.repeat(200) }), 'SMS_BAD_ARGUMENT', 'concatReference');
    expectHsmError(() => encodeSubmit({ to: '+4917', text: 'x'.repeat(200), concatReference: 256 }), 'SMS_BAD_ARGUMENT', 'concatReference');
    expectHsmError(() => encodeSubmit({ to: '+4917', text: 'x', messageReference: -1 }), 'SMS_BAD_ARGUMENT', 'messageReference');
  });
});

describe('differential oracle: node-pdu decodes what we encode and the other way round', () => {
  const random = new SeededRandom('pdu-oracle');

  it('SMS-SUBMIT, GSM-7 and UCS-2, single and multipart (8-bit references)', () => {
    for (let n = 0; n < 300; n++) {
      const ucs2 = random.chance(0.3);
      const alphabet = ucs2 ? `${GSM7_SHARED}жЖ中文ñ` : GSM7_SHARED;
      const text = randomText(random, alphabet, random.between(1, 400));
      const to = `+49${random.between(100_000_000, 999_999_999)}`;
      const parts = encodeSubmit({ to, text, maxParts: 10, concatReference: random.int(256), statusReportRequest: n % 2 === 0 });
      const parsed = parts.map((p) => parse(p.hex) as Submit);
      expect(parsed.every((p) => p instanceof Submit)).toBe(true);
      const first = parsed[0] as Submit;
      expect(first.address.phone).toBe(to.slice(1));
      expect(first.type.statusReportRequest).toBe(n % 2 === 0 ? 1 : 0);
      for (const other of parsed.slice(1)) first.data.append(other);
      expect(first.data.getText()).toBe(text);
    }
  });

  it('texts node-pdu encodes (it splits at 133, or 63 in UCS-2, with 16-bit references) decode to the same text here', () => {
    for (let n = 0; n < 200; n++) {
      // node-pdu miscounts extension characters, so they stay out of this direction.
      const text = randomText(random, GSM7_SHARED.replace(/[\^{}\\[~\]|€]/g, ''), random.between(1, 300));
      const parts = new Submit('+4917012345678', text).getPartStrings().map((hex) => decodePdu(hex) as DecodedSubmit);
      parts.sort((a, b) => (a.userData.concat?.sequence ?? 1) - (b.userData.concat?.sequence ?? 1));
      expect(parts.map((p) => p.userData.text).join('')).toBe(text);
      expect(parts[0]?.destination.number).toBe('+4917012345678');
      if (parts.length > 1) expect(parts[0]?.userData.concat?.referenceBits).toBe(16);
    }
  });

  it('SMS-STATUS-REPORT, built by hand, reads back through node-pdu', () => {
    const timestamp = Date.UTC(2026, 0, 2, 10, 0, 0);
    const pdu = encodeStatusReport({ messageReference: 42, recipient: '+4917012', timestamp, discharge: timestamp + 5_000, status: 0x46, smsc: '+491710760000' });
    const report = parse(pdu.hex) as unknown as { reference: number; status: number; address: { phone: string } };
    expect(report).toMatchObject({ reference: 42, status: 0x46 });
    expect(report.address.phone).toBe('4917012');
    expect(decodePdu(pdu.hex)).toMatchObject({ type: 'status-report', messageReference: 42, recipient: { number: '+4917012' }, timestamp, discharge: timestamp + 5_000, status: 0x46, smsc: '+491710760000' });
    expect(statusReportOutcome(0)).toBe('delivered');
    expect(statusReportOutcome(0x21)).toBe('pending');
    expect(statusReportOutcome(0x46)).toBe('failed');
  });
});

describe('SMS-DELIVER for the emulator and the network', () => {
  it('round-trips text, time zone and 16-bit concatenation references', () => {
    const timestamp = Date.UTC(2026, 5, 30, 23, 59, 58);
    const parts = encodeDeliver({ from: '+4917099', text: 'Ünïcödé '.repeat(20), timestamp, timeZoneMinutes: -300, referenceBits: 16, concatReference: 0xbeef, maxParts: 4 });
    const decoded = parts.map((p) => decodePdu(p.hex) as DecodedDeliver);
    expect(decoded.map((d) => d.userData.concat)).toEqual(decoded.map((_, i) => ({ reference: 0xbeef, referenceBits: 16, total: parts.length, sequence: i + 1 })));
    expect(decoded.map((d) => d.userData.text).join('')).toBe('Ünïcödé '.repeat(20));
    expect(decoded[0]).toMatchObject({ timestamp, timeZoneMinutes: -300, originator: { number: '+4917099', kind: 'international' } });
  });

  it('carries a SUBMIT’s user data into a DELIVER unchanged', () => {
    const [submit] = encodeSubmit({ to: '+4917', text: 'a'.repeat(170), concatReference: 9 });
    const decoded = decodePdu(submit?.hex as string) as DecodedSubmit;
    const deliver = encodeDeliverRaw({ from: '+4918', timestamp: Date.UTC(2026, 0, 1), protocolId: 0, dcs: decoded.dcs, userData: decoded.userData.raw });
    const back = decodePdu(deliver.hex) as DecodedDeliver;
    expect(back.userData.text).toBe(decoded.userData.text);
    expect(back.userData.concat).toEqual({ reference: 9, referenceBits: 8, total: 2, sequence: 1 });
  });

  it('encodes time stamps in quarters of an hour with the sign in bit 3 (23.040 §9.2.3.11)', () => {
    expect(Buffer.from(encodeTimestamp(Date.UTC(2026, 0, 2, 10, 0, 0), 60)).toString('hex')).toBe('62102011000040');
    expect(Buffer.from(encodeTimestamp(Date.UTC(2026, 0, 2, 10, 0, 0), -330)).toString('hex')).toBe('6210204003002a');
    expectHsmError(() => encodeTimestamp(0, 0), 'SMS_BAD_ARGUMENT', 'timestamp');
    expectHsmError(() => encodeTimestamp(Date.UTC(2026, 0, 1), 7), 'SMS_BAD_ARGUMENT', 'timeZoneMinutes');
  });
});

describe('decoding malformed PDUs: a typed error naming the field', () => {
  const [good] = encodeDeliver({ from: '+4917099', text: 'hello', timestamp: Date.UTC(2026, 0, 1), smsc: '+491710760000' });
  const hex = good?.hex as string;

  it('every truncation fails', () => {
    for (let cut = 2; cut < hex.length; cut += 2) {
      expect(() => decodePdu(hex.slice(0, cut)), `cut at ${cut}`).toThrow(expect.objectContaining({ name: 'HsmError' }));
    }
  });

  it('names the field', () => {
    expectHsmError(() => decodePdu(`${hex}00`), 'PDU_TRAILING_DATA', 'pdu');
    expectHsmError(() => decodePdu('0'), 'PDU_HEX', 'pdu');
    expectHsmError(() => decodePdu('zz'), 'PDU_HEX', 'pdu');
    expectHsmError(() => decodePdu('00'.repeat(400)), 'PDU_TOO_LONG', 'pdu');
    expectHsmError(() => decodePdu('0003'), 'PDU_UNSUPPORTED', 'firstOctet');
    expectHsmError(() => decodePdu('000415910000'), 'PDU_BAD_ADDRESS', 'originator');
    expectHsmError(() => decodePdu('0004039100F000006213'), 'PDU_TRUNCATED', 'scts');
    expectHsmError(() => decodePdu('0004039100F00000621320000000000000'), 'PDU_BAD_TIMESTAMP', 'scts');
    // UDHI set, UDHL claims 9 octets of a 3-octet user data field
    expectHsmError(() => decodePdu('0044039100F000046210100000000003090000'), 'PDU_BAD_UDH', 'udh');
    expectHsmError(() => decodePdu('0004039100F00000621010000000008D'), 'PDU_TRUNCATED', 'ud');
    expectHsmError(() => decodePdu('0004039100F0000062101000000000A1'), 'PDU_BAD_LENGTH', 'udl');
    expectHsmError(() => decodePdu('0004039100F000086210100000000003414243'), 'PDU_BAD_LENGTH', 'ud');
  });
});
