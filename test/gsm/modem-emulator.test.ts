import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../shared/clock.ts';
import { decodePdu, encodeSubmit, type DecodedDeliver } from '../../shared/gsm/pdu.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { MODEM_PROFILES, modemProfile, type ModemProfileName } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { parseCommandLine } from '../../hw-profiles/sim/gsm/emulated-modem.ts';
import { luhnDigit } from '../../hw-profiles/sim/gsm/network.ts';
import { expectHsmError } from '../helpers/errors.ts';
import { Terminal, emulatorBench, world } from './helpers.ts';

const bench = emulatorBench;

const submitPdu = (text: string, to = '+4917099') => encodeSubmit({ to, text })[0] as { hex: string; tpduLength: number };

describe('V.250 framing', () => {
  it('echoes, then frames the reply; ATE0 turns the echo off', async () => {
    const { term } = await bench();
    expect(await term.command('AT')).toBe('AT\r\r\nOK\r\n');
    expect(await term.command('AT+CGMM')).toBe('AT+CGMM\r\r\nGSM-EMU-1\r\n\r\nOK\r\n');
    expect(await term.command('ATE0')).toBe('ATE0\r\r\nOK\r\n');
    expect(await term.command('AT+CGMI')).toBe('\r\nChainCloud\r\n\r\nOK\r\n');
  });

  it('assembles input that arrives one byte per millisecond', async () => {
    const { term } = await bench();
    await term.typeSlowly('AT+CSQ\r');
    expect(await term.read(/OK\r\n$/)).toBe('AT+CSQ\r\r\n+CSQ: 21,0\r\n\r\nOK\r\n');
  });

  it('runs compound command lines in order and stops at the first error', async () => {
    const { term } = await bench();
    expect(await term.command('ATE0V1;+CMEE=1;+CREG=2')).toMatch(/\r\nOK\r\n$/);
    expect(await term.command('AT+CMGF=1;+NOSUCH;+CMGF=0')).toBe('\r\nERROR\r\n');
    expect(await term.command('AT+CMGF?')).toBe('\r\n+CMGF: 1\r\n\r\nOK\r\n');
    expect(await term.command('AT+CREG?;+CSQ')).toBe('\r\n+CREG: 2,1,"00C3","1A2B"\r\n\r\n+CSQ: 21,0\r\n\r\nOK\r\n');
    expect(parseCommandLine('+CPMS="SM", "SM";E0')).toEqual([
      { name: '+CPMS', form: 'set', raw: '"SM","SM"', args: ['"SM"', '"SM"'] },
      { name: 'E', form: 'set', raw: '0', args: ['0'] },
    ]);
    expect(parseCommandLine('+CMGS="+49')).toBeUndefined();
  });

  it('ignores ESC, Ctrl-Z and bare line ends outside the prompt, and text before "AT"', async () => {
    const { term, w } = await bench();
    term.type('\x1b\r\x1a\r\n');
    await w.clock.advance(50);
    expect(term.take()).toBe('\r\r');
    expect(await term.command('garbageAT')).toBe('garbageAT\r\r\nOK\r\n');
  });

  it('answers unknown commands (and AT+MODE=2, which Gammu probes) with ERROR, Huawei-style where profiled', async () => {
    const { term } = await bench();
    expect(await term.command('AT+MODE=2')).toMatch(/\r\nERROR\r\n$/);
    const huawei = await bench({ profile: 'e3372' });
    expect(await huawei.term.command('AT+MODE=2')).toMatch(/\r\nCOMMAND NOT SUPPORT\r\n$/);
    expect(await huawei.term.command('AT^CURC=0')).toMatch(/\r\nOK\r\n$/);
    expect(await term.command('AT^CURC=0')).toMatch(/\r\nERROR\r\n$/);
  });

  it('reports errors as ERROR, numeric or verbose per +CMEE', async () => {
    const { term } = await bench({ noSim: true });
    await term.command('ATE0');
    expect(await term.command('AT+CPIN?')).toBe('\r\nERROR\r\n');
    await term.command('AT+CMEE=1');
    expect(await term.command('AT+CPIN?')).toBe('\r\n+CME ERROR: 10\r\n');
    expect(await term.command('AT+CMGL=4')).toBe('\r\n+CMS ERROR: 310\r\n');
    await term.command('AT+CMEE=2');
    expect(await term.command('AT+CPIN?')).toBe('\r\n+CME ERROR: SIM not inserted\r\n');
  });
});

describe('storage invariants (27.005 §3.4)', () => {
  it('CPMS used equals the CMGL count; reading marks read; delete frees the slot; lowest free slot is reused', async () => {
    const { term, device } = await bench();
    await term.command('ATE0;+CMEE=1');
    device.modem.injectSms({ from: '+4917011', text: 'one' });
    device.modem.injectSms({ from: '+4917012', text: 'two' });
    device.modem.injectSms({ from: '+4917013', text: 'three' });
    await term.read(/\+CMTI: "SM",3\r\n$/);
    expect(await term.command('AT+CPMS="SM","SM","SM"')).toBe('\r\n+CPMS: 3,30,3,30,3,30\r\n\r\nOK\r\n');
    const list = await term.command('AT+CMGL=4');
    expect(list.match(/\+CMGL: /g)).toHaveLength(3);
    expect(list).toContain('+CMGL: 1,0,,');
    const read = await term.command('AT+CMGR=2');
    expect(read).toMatch(/^\r\n\+CMGR: 1,,\d+\r\n[0-9A-F]+\r\n\r\nOK\r\n$/);
    expect(list).toMatch(/^\r\n(\+CMGL: \d,0,,\d+\r\n[0-9A-F]+\r\n){2}\+CMGL: \d,0,,\d+\r\n[0-9A-F]+\r\n\r\nOK\r\n$/); // listed above, so already read
    expect(await term.command('AT+CMGD=2')).toBe('\r\nOK\r\n');
    expect(await term.command('AT+CPMS?')).toBe('\r\n+CPMS: "SM",2,30,"SM",2,30,"SM",2,30\r\n\r\nOK\r\n');
    expect((await term.command('AT+CMGL=4')).match(/\+CMGL: /g)).toHaveLength(2);
    expect(await term.command('AT+CMGR=2')).toBe('\r\n+CMS ERROR: 321\r\n');
    expect(device.modem.injectSms({ from: '+4917014', text: 'four' })).toEqual([2]);
    await term.read(/\+CMTI: "SM",2\r\n$/);
    expect(await term.command('AT+CMGR=99')).toBe('\r\n+CMS ERROR: 321\r\n');
  });

  it('a new message is REC UNREAD until read', async () => {
    const { term, device } = await bench();
    await term.command('ATE0');
    device.modem.injectSms({ from: '+4917011', text: 'fresh' });
    term.take();
    expect(await term.command('AT+CMGL=0')).toMatch(/\+CMGL: 1,0,,/);
    expect(await term.command('AT+CMGL=0')).toBe('\r\nOK\r\n');
    expect(await term.command('AT+CMGL=1')).toMatch(/\+CMGL: 1,1,,/);
  });

  it('follows the profile: index base 0 on Huawei, bare OK for an empty slot on SIM800', async () => {
    const huawei = await bench({ profile: 'e3372' });
    expect(huawei.device.modem.injectSms({ from: '+4917011', text: 'x' })).toEqual([0]);
    const sim800 = await bench({ profile: 'sim800c' });
    await sim800.term.command('ATE0');
    expect(await sim800.term.command('AT+CMGR=5')).toBe('\r\nOK\r\n');
  });

  it('lists and reads in text mode with +CSDH', async () => {
    const { term, device } = await bench();
    await term.command('ATE0');
    device.modem.injectSms({ from: '+4917011', text: 'plain text', timestamp: Date.UTC(2026, 0, 2, 10, 0, 0) });
    term.take();
    await term.command('AT+CMGF=1');
    expect(await term.command('AT+CMGL="ALL"')).toBe('\r\n+CMGL: 1,"REC UNREAD","+4917011",,"26/01/02,10:00:00+00"\r\nplain text\r\n\r\nOK\r\n');
    await term.command('AT+CSDH=1');
    expect(await term.command('AT+CMGR=1')).toBe('\r\n+CMGR: "REC READ","+4917011",,"26/01/02,10:00:00+00",145,4,0,0,"+12025550100",145,10\r\nplain text\r\n\r\nOK\r\n');
    // Listing marked it read: nothing is left unread.
    expect(await term.command('AT+CMGL="REC UNREAD"')).toBe('\r\nOK\r\n');
  });

  it('full storage: nothing stored, the Huawei memory-full URC printed', async () => {
    const { device, term } = await bench({ profile: 'e3372' });
    device.modem.fillStorage();
    expect(device.modem.injectSms({ from: '+4917011', text: 'no room' })).toEqual([undefined]);
    expect(await term.read(/\^SMMEMFULL: "SM"\r\n$/)).toContain('^SMMEMFULL');
  });
});

describe('sending (27.005 §3.5.1)', () => {
  it('prompts with "\\r\\n> ", sends after Ctrl-Z and the send delay, and counts TP-MR modulo 256', async () => {
    const { term, device, w } = await bench();
    const pdu = submitPdu('hello');
    expect(await term.command(`AT+CMGS=${pdu.tpduLength}`, /> $/)).toBe(`AT+CMGS=${pdu.tpduLength}\r\r\n> `);
    term.type(`${pdu.hex}\x1a`);
    await w.clock.advance(1_900);
    expect(term.take()).toBe(pdu.hex);
    expect(await term.read(/OK\r\n$/)).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(w.network.submissions()).toMatchObject([{ from: '+4917000000001', to: '+4917099', text: 'hello', messageReference: 0 }]);
    device.modem.setSendDelay(0);
    await term.command('ATE0');
    const references: number[] = [];
    for (let i = 0; i < 257; i++) {
      term.type(`AT+CMGS=${pdu.tpduLength}\r${pdu.hex}\x1a`);
      const out = await term.read(/OK\r\n$/);
      references.push(Number(/\+CMGS: (\d+)/.exec(out)?.[1]));
    }
    expect(references.slice(0, 3)).toEqual([1, 2, 3]);
    expect(references.slice(253)).toEqual([254, 255, 0, 1]);
  });

  it('keeps PDU bytes that arrive before the prompt is printed (serialport-gsm writes without waiting)', async () => {
    const { term, device, w } = await bench();
    device.modem.setLatency(300, '+CMGS');
    const pdu = submitPdu('early bird');
    term.type(`ATE0\r`);
    await term.read(/OK\r\n$/);
    term.type(`AT+CMGS=${pdu.tpduLength}\r`);
    await w.clock.advance(100);
    term.type(`${pdu.hex}\x1a\r`);
    expect(await term.read(/OK\r\n$/)).toBe('\r\n> \r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(w.network.submissions()[0]?.text).toBe('early bird');
  });

  it('refuses a wrong <length> or a non-SUBMIT PDU with +CMS ERROR: 304; ESC aborts', async () => {
    const { term, w } = await bench();
    await term.command('ATE0;+CMEE=1');
    const pdu = submitPdu('x');
    await term.command(`AT+CMGS=${pdu.tpduLength + 1}`, /> $/);
    term.type(`${pdu.hex}\x1a`);
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMS ERROR: 304\r\n');
    await term.command(`AT+CMGS=${pdu.tpduLength}`, /> $/);
    term.type(`${pdu.hex.slice(0, -2)}\x1a`);
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMS ERROR: 304\r\n');
    await term.command(`AT+CMGS=${pdu.tpduLength}`, /> $/);
    term.type(`${pdu.hex}\x1b`);
    expect(await term.read(/\r\n$/)).toBe('\r\nOK\r\n');
    await w.clock.advance(5_000);
    expect(w.network.submissions()).toHaveLength(0);
  });

  it('sends in text mode', async () => {
    const { term, w } = await bench();
    await term.command('ATE0;+CMGF=1');
    await term.command('AT+CMGS="+4917099"', /> $/);
    term.type('text mode\x1a');
    expect(await term.read(/OK\r\n$/)).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(w.network.submissions()[0]?.text).toBe('text mode');
  });

  it('prints the bare ">" prompt variant when profiled', async () => {
    const w = world();
    const sim = w.network.issueSim({ carrierId: 'A', msisdn: '+4917000000002' });
    const device = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim, profile: { ...MODEM_PROFILES.default, prompt: 'bare-line' } });
    const term = new Terminal(w.clock, device.openHostPort());
    expect(await term.command('AT+CMGS=10', />\r\n$/)).toBe('AT+CMGS=10\r\r\n>\r\n');
  });

  it('fails sends without registration (331), with a forced error, or without an SMSC (330)', async () => {
    const { term, device } = await bench();
    await term.command('ATE0;+CMEE=1;+CREG=1');
    const pdu = submitPdu('x');
    device.modem.setRegistration(2);
    expect(await term.read(/\+CREG: 2\r\n$/)).toBe('\r\n+CREG: 2\r\n');
    await term.command(`AT+CMGS=${pdu.tpduLength}`, /> $/);
    term.type(`${pdu.hex}\x1a`);
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMS ERROR: 331\r\n');
    device.modem.setRegistration(undefined);
    await term.read(/\+CREG: 1\r\n$/);
    device.modem.failNext({ command: '+CMGS', error: { cms: 500 } });
    await term.command(`AT+CMGS=${pdu.tpduLength}`, /> $/);
    term.type(`${pdu.hex}\x1a`);
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMS ERROR: 500\r\n');
    await term.command('AT+CSCA=""');
    expect(await term.command('AT+CSCA?')).toBe('\r\n+CSCA: "",129\r\n\r\nOK\r\n');
    await term.command(`AT+CMGS=${pdu.tpduLength}`, /> $/);
    term.type(`${pdu.hex}\x1a`);
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMS ERROR: 330\r\n');
  });
});

describe('URCs (27.005 §3.4.1)', () => {
  it('+CMTI for stored messages, +CMT when routed, +CDS and +CDSI for status reports', async () => {
    const { term, device } = await bench();
    await term.command('ATE0');
    device.modem.injectSms({ from: '+4917011', text: 'stored' });
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMTI: "SM",1\r\n');
    await term.command('AT+CNMI=2,2,0,1,0');
    device.modem.injectSms({ from: '+4917011', text: 'routed' });
    const cmt = await term.read(/\r\n[0-9A-F]+\r\n$/);
    const [, length, pdu] = /^\r\n\+CMT: ,(\d+)\r\n([0-9A-F]+)\r\n$/.exec(cmt) ?? [];
    expect((decodePdu(pdu as string) as DecodedDeliver).userData.text).toBe('routed');
    const sca = parseInt((pdu as string).slice(0, 2), 16);
    expect(Number(length)).toBe((pdu as string).length / 2 - 1 - sca);
    device.modem.injectStatusReport({ messageReference: 7, recipient: '+4917099' });
    expect(await term.read(/\r\n[0-9A-F]+\r\n$/)).toMatch(/^\r\n\+CDS: \d+\r\n[0-9A-F]+\r\n$/);
    await term.command('AT+CNMI=2,1,0,2,0');
    device.modem.injectStatusReport({ messageReference: 8, recipient: '+4917099', status: 0x46 });
    expect(await term.read(/\r\n$/)).toBe('\r\n+CDSI: "SM",2\r\n');
  });

  it('holds URCs while a command runs and can print them inside a reply', async () => {
    const { term, device, w } = await bench();
    await term.command('ATE0');
    device.modem.setLatency(100);
    term.type('AT+CGMI\r');
    await w.clock.advance(10);
    device.modem.injectSms({ from: '+4917011', text: 'during' });
    expect(await term.read(/\+CMTI: "SM",1\r\n$/)).toBe('\r\nChainCloud\r\n\r\nOK\r\n\r\n+CMTI: "SM",1\r\n');
    device.modem.setLatency(0);
    device.modem.interleaveUrcs(true);
    device.modem.setLatency(50, '+CPMS');
    term.type('AT+CPMS?\r');
    await w.clock.advance(5);
    device.modem.emitUrc('^RSSI: 12');
    expect(await term.read(/OK\r\n$/)).toBe('\r\n+CPMS: "SM",1,30,"SM",1,30,"SM",1,30\r\n\r\n^RSSI: 12\r\n\r\nOK\r\n');
  });

  it('prints periodic signal reports until AT^CURC=0', async () => {
    const { term, device, w } = await bench({ profile: 'e3372' });
    device.modem.setSignal(17);
    await w.clock.advance(5_000);
    expect(term.take()).toContain('^RSSI: 17');
    await term.command('AT^CURC=0');
    await w.clock.advance(20_000);
    expect(term.take()).toBe('');
  });
});

describe('SIM, registration and power', () => {
  it('asks for the PIN, rejects a wrong one (+CME ERROR: 16), registers after the right one', async () => {
    const { term, device } = await bench({ simPin: '1234' });
    await term.command('ATE0;+CMEE=1;+CREG=1');
    expect(await term.command('AT+CPIN?')).toBe('\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n');
    expect(await term.command('AT+CMGL=4')).toBe('\r\n+CMS ERROR: 311\r\n');
    expect(await term.command('AT+CPIN="0000"')).toBe('\r\n+CME ERROR: 16\r\n');
    expect(await term.command('AT+CPIN="1234"')).toBe('\r\nOK\r\n');
    expect(await term.read(/\+CREG: 1\r\n$/)).toBe('\r\n+CREG: 1\r\n');
    expect(device.modem.registration().stat).toBe(1);
  });

  it('SIM removal: CPIN and SMS commands fail, registration is lost', async () => {
    const { term, device } = await bench();
    await term.command('ATE0;+CMEE=1');
    device.modem.removeSim();
    expect(await term.command('AT+CPIN?')).toBe('\r\n+CME ERROR: 10\r\n');
    expect(await term.command('AT+CIMI')).toBe('\r\n+CME ERROR: 10\r\n');
    expect(await term.command('AT+CREG?')).toBe('\r\n+CREG: 0,0\r\n\r\nOK\r\n');
  });

  it('SIM800: boot URCs, SMS busy until booted, AT+CFUN=1,1 reboots with defaults', async () => {
    const w = world();
    const sim = w.network.issueSim({ carrierId: 'B', msisdn: '+4917200000001' });
    const device = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim, profile: 'sim800c' });
    const term = new Terminal(w.clock, device.openHostPort());
    await term.command('ATE0;+CMEE=1');
    expect(await term.command('AT+CMGL=4')).toBe('\r\n+CMS ERROR: 314\r\n');
    expect(await term.read(/SMS Ready\r\n$/)).toBe('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n');
    expect(await term.command('AT+CMGL=4')).toBe('\r\nOK\r\n');
    await term.command('AT+CMGF=1');
    expect(await term.command('AT+CFUN=1,1')).toBe('\r\nOK\r\n');
    await term.read(/SMS Ready\r\n$/);
    expect(await term.command('AT+CMGF?')).toBe('AT+CMGF?\r\r\n+CMGF: 0\r\n\r\nOK\r\n');
  });

  it('network time in AT+CCLK?', async () => {
    const { term, w } = await bench();
    w.network.setTime(Date.UTC(2026, 6, 1, 12, 30, 15));
    expect(await term.command('AT+CCLK?')).toBe('AT+CCLK?\r\r\n+CCLK: "26/07/01,12:30:15+00"\r\n\r\nOK\r\n');
  });

  it('a hung modem swallows input until its power is cycled', async () => {
    const { term, device, w } = await bench();
    device.modem.hang('power-cycle');
    term.type('AT\r');
    await w.clock.advance(2_000);
    expect(term.take()).toBe('');
    device.unplug();
    device.replug();
    const again = new Terminal(w.clock, device.openHostPort());
    expect(await again.command('AT')).toBe('AT\r\r\nOK\r\n');
  });

  it('unplug closes the host port as disconnected; the port cannot be opened until replugged', async () => {
    const { device, w } = await bench();
    expectHsmError(() => device.openHostPort(), 'PORT_UNAVAILABLE'); // the bench holds it open
    device.unplug();
    expect(device.modem.isPowered).toBe(false);
    expectHsmError(() => device.openHostPort(), 'PORT_UNAVAILABLE', 'path');
    device.replug();
    const port = device.openHostPort();
    const closed: unknown[] = [];
    port.onClose((info) => closed.push(info));
    const term = new Terminal(w.clock, port);
    expect(await term.command('AT')).toBe('AT\r\r\nOK\r\n');
    device.unplug();
    expect(closed).toEqual([{ disconnected: true, reason: 'unplugged' }]);
  });
});

describe('control API: bad arguments change nothing', () => {
  it('rejects each bad argument with a typed error naming it', async () => {
    const { device } = await bench();
    const modem = device.modem;
    expectHsmError(() => modem.injectSms({ from: 'nobody', text: 'x' }), 'PDU_BAD_ADDRESS', 'from');
    expectHsmError(() => modem.injectSms({ from: '+4917', text: 'x'.repeat(200), order: [1, 1] }), 'MODEM_BAD_ARGUMENT', 'order');
    expectHsmError(() => modem.injectSms({ from: '+4917', text: '🚀' }), 'SMS_TEXT_UNENCODABLE', 'text');
    expectHsmError(() => modem.injectSms({ from: '+4917', text: 'x', referenceBits: 12 as never }), 'MODEM_BAD_ARGUMENT', 'referenceBits');
    expectHsmError(() => modem.setSignal(40), 'MODEM_BAD_ARGUMENT', 'rssi');
    expectHsmError(() => modem.setRegistration(9), 'MODEM_BAD_ARGUMENT', 'stat');
    expectHsmError(() => modem.setSendDelay([5, 1]), 'MODEM_BAD_ARGUMENT', 'sendDelayMs');
    expectHsmError(() => modem.setLatency(-1), 'MODEM_BAD_ARGUMENT', 'latencyMs');
    expectHsmError(() => modem.failNext({ command: 'CMGS; rm', error: 'error' }), 'MODEM_BAD_ARGUMENT', 'command');
    expectHsmError(() => modem.failNext({ command: '+CMGS', error: { cms: 5000 } }), 'MODEM_BAD_ARGUMENT', 'error');
    expectHsmError(() => modem.emitUrc('two\r\nlines'), 'MODEM_BAD_ARGUMENT', 'line');
    expectHsmError(() => modem.fillStorage('XX'), 'MODEM_BAD_ARGUMENT', 'memory');
    expectHsmError(() => modem.hang('never' as never), 'MODEM_BAD_ARGUMENT', 'recovery');
    expect(modem.messages()).toEqual([]);
    expect(modem.signal().rssi).toBe(21);
    expect(modem.isHung).toBe(false);
    expectHsmError(() => modemProfile('nokia'), 'MODEM_BAD_PROFILE', 'profile');
    device.unplug();
    expectHsmError(() => modem.injectSms({ from: '+4917', text: 'x' }), 'MODEM_OFF', 'modem');
  });

  it('every profile answers identification and keeps the storage invariant', async () => {
    for (const name of Object.keys(MODEM_PROFILES) as ModemProfileName[]) {
      const { term, device, w } = await bench({ profile: name });
      await w.clock.advance(10_000);
      term.take();
      const profile = modemProfile(name);
      expect(await term.command('AT+CGMM')).toContain(profile.model);
      const imei = device.modem.imei;
      expect(imei).toMatch(new RegExp(`^${profile.tac}\\d{7}$`));
      expect(luhnDigit(imei.slice(0, 14))).toBe(Number(imei[14]));
      device.modem.injectSms({ from: '+4917011', text: 'a' });
      device.modem.injectSms({ from: '+4917011', text: 'b'.repeat(300) });
      term.take();
      const cpms = await term.command('AT+CPMS?');
      const used = Number(/\+CPMS: "\w+",(\d+)/.exec(cpms)?.[1]);
      const listed = (await term.command('AT+CMGL=4')).match(/\+CMGL: /g)?.length;
      expect(used).toBe(3);
      expect(listed).toBe(used);
      expect(device.modem.messages()[0]?.index).toBe(profile.storageIndexBase);
    }
  });
});

describe('clock use', () => {
  it('replies after the configured latency on the shared clock', async () => {
    const { term, device, w } = await bench();
    device.modem.setLatency(250);
    term.type('AT\r');
    await w.clock.advance(200);
    expect(term.take()).toBe('AT\r');
    await w.clock.advance(60);
    expect(term.take()).toBe('\r\nOK\r\n');
    expect(w.clock).toBeInstanceOf(SimulatedClock);
  });
});
