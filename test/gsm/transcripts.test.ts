/**
 * Transcript tests: the driver replayed against recorded modem exchanges, one per quirk
 * profile (test/transcripts/<profile>.txt, recorded from the emulator by
 * scripts/gsm/record-transcripts.ts) and one written by hand from field reports
 * (field-quirks.txt). Each file names its source in its header; none is a capture of a real
 * module, so they test the driver against the emulator's answers, not the emulator against
 * real ones (the clients in test/conformance do that). The replay port fails on any write the
 * transcript does not expect and checks that every exchange was used.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { Modem, type InboundSms, type ModemEvent, type ModemOptions } from '../../shared/gsm/modem.ts';
import { TRANSCRIPT_RANDOM, TranscriptPort, parseTranscript } from '../../hw-profiles/sim/gsm/transcript.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { drive, until } from './helpers.ts';

function load(name: string): string {
  return readFileSync(new URL(`../transcripts/${name}.txt`, import.meta.url), 'utf8');
}

function driverOptions(transcript: string): Partial<ModemOptions> {
  const header = /^# driver: (.*)$/m.exec(transcript);
  return header === null ? {} : (JSON.parse(header[1] as string) as Partial<ModemOptions>);
}

interface Replay {
  clock: SimulatedClock;
  port: TranscriptPort;
  modem: Modem;
  received: InboundSms[];
  events: ModemEvent[];
}

function replay(name: string): Replay {
  const transcript = load(name);
  const clock = new SimulatedClock();
  const port = new TranscriptPort(transcript, name);
  const modem = new Modem({ clock, name: 'sim1', openPort: () => port, random: TRANSCRIPT_RANDOM, ...driverOptions(transcript) });
  const received: InboundSms[] = [];
  const events: ModemEvent[] = [];
  modem.setInboundHandler((sms) => {
    if (sms.kind === 'deliver') received.push(sms);
  });
  modem.onEvent((e) => events.push(e));
  return { clock, port, modem, received, events };
}

const texts = (received: InboundSms[]): string[] => received.map((r) => (r.kind === 'deliver' ? r.sms.userData.text : ''));

describe('the transcripts say where they come from', () => {
  it('each header names its source', () => {
    for (const name of ['default', 'sim800c', 'e3372', 'ec25']) expect(load(name)).toMatch(/^# source: the emulator, recorded by scripts\/gsm\/record-transcripts\.ts \(not a capture of a real module\)$/m);
    expect(load('field-quirks')).toMatch(/^# source: written by hand from the field reports/m);
  });
});

describe('driver transcripts per quirk profile', () => {
  const extras: Record<string, (r: Replay) => Promise<void>> = {
    default: async () => undefined,
    sim800c: async () => undefined,
    e3372: async ({ clock, modem }) => {
      expect((await drive(clock, modem.refreshHealth())).rssi).toBe(21);
    },
    ec25: async () => undefined,
  };

  for (const [profile, extra] of Object.entries(extras)) {
    it(`${profile}: bring-up, a send with status report, a single and a reversed multipart message`, async () => {
      const r = replay(profile);
      expect(await drive(r.clock, r.modem.start())).toBe('ready');
      expect(r.modem.identity).toMatchObject({ imei: '861234567890123', imsi: '001011234567890', iccid: '8900101000012345678' });
      await r.clock.advance(100);
      await extra(r);
      const sent = await drive(r.clock, r.modem.sendSms('+4917099887766', 'CC:CHANNEL_OK:1:', { statusReport: true }));
      expect(sent.messageReferences).toEqual([0]);
      await until(r.clock, () => r.events.some((e) => e.type === 'status-report'));
      await until(r.clock, () => r.received.length === 3 && r.port.consumed);
      expect(texts(r.received)[0]).toBe('CC:PING:');
      expect(r.received.map((m) => (m.kind === 'deliver' ? m.sms.userData.concat?.sequence : 0))).toEqual([undefined, 2, 1]);
      expect(texts(r.received).slice(1).reverse().join('')).toBe(`CC:${'0123456789'.repeat(16)}:`);
      await drive(r.clock, r.modem.stop());
      r.port.finish();
    });
  }
});

describe('driver transcript with field quirks', () => {
  it('handles doubled echo, blank lines, +CPIN without OK, PIN entry, ^ICCID, SIM busy, URCs inside replies, ME storage and a bare prompt', async () => {
    const r = replay('field-quirks');
    expect(await drive(r.clock, r.modem.start())).toBe('ready');
    expect(r.modem.identity).toMatchObject({ manufacturer: 'WAVECOM MODEM', imsi: '001021234567890', iccid: '89490200000123456789' });
    expect(r.modem.health).toMatchObject({ registered: true, regStat: 5, rssi: 14 });
    await until(r.clock, () => r.received.length === 2);
    expect(r.received.map((m) => [m.storage, m.index])).toEqual([
      ['SM', 3],
      ['ME', 5],
    ]);
    expect(await drive(r.clock, r.modem.sendSms('+4917099887766', 'CC:CHANNEL_OK:1:'))).toEqual({ modem: 'sim1', messageReferences: [17] });
    await drive(r.clock, r.modem.stop());
    r.port.finish();
  });
});

describe('the transcript replay port', () => {
  it('fails on an unexpected write, naming the transcript line', async () => {
    const port = new TranscriptPort('# x\n=> AT\n<= OK\n=> AT+CSQ\n<= +CSQ: 1,0\n<= OK\n');
    const closed: unknown[] = [];
    port.onClose((info) => closed.push(info));
    port.write(Buffer.from('AT\r'));
    port.write(Buffer.from('AT+CGMI\r'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toEqual([{ disconnected: true, reason: 'transcript mismatch' }]);
    expectHsmError(() => port.finish(), 'TRANSCRIPT_MISMATCH', 'line 4');
  });

  it('reports exchanges that were never reached', () => {
    const port = new TranscriptPort('=> AT\n<= OK\n=> ATE0\n<= OK\n');
    port.write(Buffer.from('AT\r'));
    expectHsmError(() => port.finish(), 'TRANSCRIPT_NOT_CONSUMED', 'line 3');
  });

  it('plays prompts and raw bytes exactly', async () => {
    const port = new TranscriptPort('<= RDY\n=> AT+CMGS=5\n<= >\n=> 00^Z\n<=raw \\r\\n+CMGS: 1\\r\\n\\x0d\\x0aOK\\r\\n\n');
    const out: string[] = [];
    port.onData((chunk) => out.push(Buffer.from(chunk).toString('latin1')));
    await new Promise((resolve) => setImmediate(resolve));
    port.write(Buffer.from('AT+CMGS=5\r'));
    await new Promise((resolve) => setImmediate(resolve));
    port.write(Uint8Array.of(0x30, 0x30, 0x1a));
    await new Promise((resolve) => setImmediate(resolve));
    expect(out).toEqual(['\r\nRDY\r\n', '\r\n> ', '\r\n+CMGS: 1\r\n\r\nOK\r\n']);
    port.finish();
    expectHsmError(() => parseTranscript('?? AT'), 'TRANSCRIPT_SYNTAX', 'line 1');
  });
});
