/**
 * Where real modules differ from a bare reading of 3GPP TS 27.005/27.007, the emulator answers
 * as the module of its profile does: vendor commands with their effect, text mode in the TE
 * character set, the `+CSDH` fields, USSD from the carrier, identification per module, and
 * what each module makes of a PDU with octets after its user data.
 */
import { describe, expect, it } from 'vitest';
import { decodePdu, encodeDeliverRaw, encodeSubmit } from '../../shared/gsm/pdu.ts';
import { COMMANDS, VENDOR_COMMANDS } from '../../hw-profiles/sim/gsm/modem-commands.ts';
import { MODEM_PROFILES, MODEM_PROFILE_NAMES, modemProfile, type ModemProfileName } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import { Terminal, emulatorBench, world } from './helpers.ts';

const SMSC_A = '+12025550100';

/** Types one line (CR appended) and returns everything up to the final result. */
async function at(term: Terminal, line: string): Promise<string> {
  return term.command(line);
}

describe('vendor commands do what they say', () => {
  it('every vendor command a profile lists has a handler of its own', () => {
    for (const profile of Object.values(MODEM_PROFILES)) {
      for (const name of profile.vendorCommands) {
        expect(VENDOR_COMMANDS[name], `${profile.name} ${name}`).toBeDefined();
      }
    }
  });

  it('EC25: no +QIND "csq" until AT+QINDCFG="csq",1 turns it on; then one report per signal change', async () => {
    const { term, device, w } = await emulatorBench({ profile: 'ec25' });
    await at(term, 'ATE0');
    device.modem.setSignal(17);
    await w.clock.advance(30_000);
    expect(term.take()).toBe('');
    expect(await at(term, 'AT+QINDCFG="csq"')).toBe('\r\n+QINDCFG: "csq",0\r\n\r\nOK\r\n');
    expect(await at(term, 'AT+QINDCFG="csq",1')).toBe('\r\nOK\r\n');
    expect(await at(term, 'AT+QINDCFG="csq"')).toBe('\r\n+QINDCFG: "csq",1\r\n\r\nOK\r\n');
    device.modem.setSignal(12);
    expect(await term.read(/\r\n$/)).toBe('\r\n+QIND: "csq",12,0\r\n');
    device.modem.setSignal(12);
    await w.clock.advance(30_000);
    expect(term.take()).toBe('');
    expect(await at(term, 'AT+QINDCFG="nosuch",1')).toBe('\r\nERROR\r\n');
  });

  it('EC25: +QINDCFG "csq" is off again after a reboot unless saved to NV', async () => {
    const { term, device } = await emulatorBench({ profile: 'ec25' });
    await at(term, 'AT+QINDCFG="csq",1');
    await at(term, 'AT+CFUN=1,1');
    await term.read(/SMS DONE\r\n$/);
    expect(await at(term, 'AT+QINDCFG="csq"')).toMatch(/"csq",0/);
    await at(term, 'AT+QINDCFG="csq",1,1');
    await at(term, 'AT+CFUN=1,1');
    await term.read(/SMS DONE\r\n$/);
    expect(await at(term, 'AT+QINDCFG="csq"')).toMatch(/"csq",1/);
    expect(device.modem.isPowered).toBe(true);
  });

  it('EC25: AT+QURCCFG="urcport" sends URCs to another port, so this one hears none', async () => {
    const { term, device } = await emulatorBench({ profile: 'ec25' });
    await at(term, 'ATE0');
    expect(await at(term, 'AT+QURCCFG="urcport"')).toBe('\r\n+QURCCFG: "urcport","usbat"\r\n\r\nOK\r\n');
    await at(term, 'AT+QURCCFG="urcport","uart1"');
    device.modem.injectSms({ from: '+4917011', text: 'elsewhere' });
    expect(await at(term, 'AT')).toBe('\r\nOK\r\n');
    await at(term, 'AT+QURCCFG="urcport","usbat"');
    device.modem.injectSms({ from: '+4917011', text: 'here' });
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMTI: "SM",1\r\n');
  });

  it('E3372: AT^PORTSEL=1 (sent by Gammu\'s Huawei init, which gives up on an error) keeps URCs here; 0 sends them to the modem port', async () => {
    const { term, device } = await emulatorBench({ profile: 'e3372' });
    await at(term, 'ATE0;^CURC=0');
    expect(await at(term, 'AT^PORTSEL=1')).toBe('\r\nOK\r\n');
    expect(await at(term, 'AT^PORTSEL?')).toBe('\r\n^PORTSEL: 1\r\n\r\nOK\r\n');
    await at(term, 'AT^PORTSEL=0');
    device.modem.injectSms({ from: '+4917011', text: 'to the modem port' });
    expect(await at(term, 'AT')).toBe('\r\nOK\r\n');
    await at(term, 'AT^PORTSEL=1');
    device.modem.injectSms({ from: '+4917011', text: 'here' });
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMTI: "SM",1\r\n');
  });

  it('SIM800: AT+CIURC=0 leaves "Call Ready" out of the next boot', async () => {
    const { term } = await emulatorBench({ profile: 'sim800c' });
    await at(term, 'AT+CIURC=0');
    await at(term, 'AT+CFUN=1,1');
    expect(await term.read(/SMS Ready\r\n$/)).toBe('\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n');
  });

  it('SIM800: AT+CLTS=1 saved with AT&W reports the network time zone after registration', async () => {
    const { term, w } = await emulatorBench({ profile: 'sim800c' });
    w.network.setTime(Date.UTC(2026, 6, 1, 12, 30, 15));
    expect(await at(term, 'AT+CLTS?')).toMatch(/\+CLTS: 0/);
    await at(term, 'AT+CLTS=1;&W');
    await at(term, 'AT+CFUN=1,1');
    const boot = await term.read(/DST: 0\r\n$/);
    expect(boot).toMatch(/\r\n\*PSUTTZ: 2026,7,1,12,\d\d,\d\d,"\+0",0\r\n\r\nDST: 0\r\n$/);
  });

  it('SIM800: AT+CSCLK=2 sleeps after 5 s without input; the byte that wakes it is lost', async () => {
    const { term, w } = await emulatorBench({ profile: 'sim800c' });
    await at(term, 'ATE0');
    await at(term, 'AT+CSCLK=2');
    await w.clock.advance(6_000);
    term.type('AT\r');
    await w.clock.advance(100);
    expect(term.take()).toBe('');
    expect(await at(term, 'AT')).toBe('\r\nOK\r\n');
    await at(term, 'AT+CSCLK=0');
    await w.clock.advance(6_000);
    expect(await at(term, 'AT')).toBe('\r\nOK\r\n');
  });
});

describe('AT+CCLK= (27.007 §8.15) as each module takes it', () => {
  it('E3372 takes the four-digit year Gammu sends it (F_FOUR_DIGIT_YEAR); the others keep to yy', async () => {
    const huawei = await emulatorBench({ profile: 'e3372' });
    await at(huawei.term, 'ATE0;+CMEE=1');
    expect(await at(huawei.term, 'AT+CCLK="2026/12/05,12:14:34+00"')).toBe('\r\nOK\r\n');
    expect(await at(huawei.term, 'AT+CCLK?')).toBe('\r\n+CCLK: "26/12/05,12:14:34+00"\r\n\r\nOK\r\n');
    expect(await at(huawei.term, 'AT+CCLK="26/12/06,08:00:00+04"')).toBe('\r\nOK\r\n');
    const sim800 = await emulatorBench({ profile: 'sim800c' });
    await at(sim800.term, 'ATE0;+CMEE=1');
    expect(await at(sim800.term, 'AT+CCLK="2026/12/05,12:14:34+00"')).toBe('\r\n+CME ERROR: 4\r\n');
  });
});

describe('text mode in the TE character set (27.005 §3.1 <data>, 27.007 §5.5)', () => {
  it('a UCS2 message is hex octets whatever +CSCS is', async () => {
    const { term, device } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1');
    device.modem.injectSms({ from: '+4917011', text: '€ ü 你好', alphabet: 'ucs2' });
    await term.read(/\+CMTI: "SM",1\r\n$/);
    for (const charset of ['IRA', 'GSM', 'UCS2']) {
      await at(term, `AT+CSCS="${charset}"`);
      expect(await at(term, 'AT+CMGR=1'), charset).toMatch(/\r\n20AC002000FC00204F60597D\r\n\r\nOK\r\n$/);
    }
  });

  it('8-bit data is hex octets too', async () => {
    const { term, device } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1;+CSCS="GSM"');
    const data = Uint8Array.of(0x00, 0x1a, 0x1b, 0x80, 0xff);
    device.modem.injectPdu(encodeDeliverRaw({ from: '+4917011', timestamp: Date.UTC(2026, 0, 2), protocolId: 0, dcs: 0x04, userData: { udl: data.length, udhi: false, ud: data }, smsc: SMSC_A }).hex);
    await term.read(/\+CMTI: "SM",1\r\n$/);
    expect(await at(term, 'AT+CMGR=1')).toMatch(/\r\n001A1B80FF\r\n\r\nOK\r\n$/);
  });

  it('GSM 7-bit text is shown in GSM 03.38 bytes, in IRA, or as UCS2 hex', async () => {
    const { term, device } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1');
    device.modem.injectSms({ from: '+4917011', text: '€_@$' });
    await term.read(/\+CMTI: "SM",1\r\n$/);
    await at(term, 'AT+CSCS="GSM"');
    expect(await at(term, 'AT+CMGR=1')).toMatch(/\r\n\x1b\x65\x11\x00\x02\r\n\r\nOK\r\n$/);
    await at(term, 'AT+CSCS="IRA"');
    expect(await at(term, 'AT+CMGR=1')).toMatch(/\r\n\?_@\$\r\n\r\nOK\r\n$/);
    await at(term, 'AT+CSCS="UCS2"');
    const ucs2 = await at(term, 'AT+CMGR=1');
    expect(ucs2).toContain('"002B0034003900310037003000310031"');
    expect(ucs2).toMatch(/\r\n20AC005F00400024\r\n\r\nOK\r\n$/);
  });

  it('the user data of a message with a header (a part of a long one) is hex octets', async () => {
    const { term, device } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1;+CSDH=1');
    device.modem.injectSms({ from: '+4917011', text: 'x'.repeat(170), concatReference: 5 });
    await term.read(/\+CMTI: "SM",2\r\n$/);
    const part = await at(term, 'AT+CMGR=2');
    expect(part).toMatch(/^\r\n\+CMGR: "REC UNREAD","\+4917011",,"[^"]+",145,68,0,0,"\+12025550100",145,\d+\r\n050003050202[0-9A-F]+\r\n\r\nOK\r\n$/);
  });

  it('"_" and the other characters IRA and GSM put at different codes round-trip through a text-mode send', async () => {
    const { term, w } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1');
    await at(term, 'AT+CSCS="GSM"');
    await term.command('AT+CMGS="+4917099"', /> $/);
    term.type('a\x11b\x00c\x02\x1a');
    expect(await term.read(/OK\r\n$/)).toMatch(/\+CMGS: \d+/);
    await at(term, 'AT+CSCS="IRA"');
    await term.command('AT+CMGS="+4917099"', /> $/);
    term.type('a_b@c$\x1a');
    await term.read(/OK\r\n$/);
    expect(w.network.submissions().map((s) => s.text)).toEqual(['a_b@c$', 'a_b@c$']);
    await term.command('AT+CMGS="+4917099"', /> $/);
    term.type('back`tick\x1a');
    expect(await term.read(/\r\n$/)).toBe('\r\nERROR\r\n');
  });

  it('+CSMP dcs 8: the text is UCS2 hex whatever +CSCS is', async () => {
    const { term, w } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1;+CSMP=17,167,0,8');
    await term.command('AT+CMGS="+4917099"', /> $/);
    term.type('20AC00FC\x1a');
    await term.read(/OK\r\n$/);
    expect(w.network.submissions()[0]?.text).toBe('€ü');
  });
});

describe('+CSDH=1 and stored messages (27.005 §3.4.2, §3.4.3, §3.5.3)', () => {
  it('+CMGR of a DELIVER shows <tooa>,<fo>,<pid>,<dcs>,<sca>,<tosca>,<length>', async () => {
    const { term, device } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1;+CSDH=1');
    device.modem.injectSms({ from: '+4917011', text: 'plain text', timestamp: Date.UTC(2026, 0, 2, 10, 0, 0) });
    await term.read(/\+CMTI: "SM",1\r\n$/);
    expect(await at(term, 'AT+CMGR=1')).toBe(`\r\n+CMGR: "REC UNREAD","+4917011",,"26/01/02,10:00:00+00",145,4,0,0,"${SMSC_A}",145,10\r\nplain text\r\n\r\nOK\r\n`);
    device.modem.injectSms({ from: '+4917011', text: 'ж', alphabet: 'ucs2', timestamp: Date.UTC(2026, 0, 2, 10, 0, 0) });
    await term.read(/\+CMTI: "SM",2\r\n$/);
    expect(await at(term, 'AT+CMGR=2')).toBe(`\r\n+CMGR: "REC UNREAD","+4917011",,"26/01/02,10:00:00+00",145,4,0,8,"${SMSC_A}",145,2\r\n0436\r\n\r\nOK\r\n`);
  });

  it('a stored unsent message lists with its empty <alpha> and <scts>, and +CSDH adds <toda>,<length>', async () => {
    const { term } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1');
    await term.command('AT+CMGW="+15550000002"', /> $/);
    term.type('draft\x1a');
    expect(await term.read(/OK\r\n$/)).toBe('\r\n+CMGW: 1\r\n\r\nOK\r\n');
    expect(await at(term, 'AT+CMGL="ALL"')).toBe('\r\n+CMGL: 1,"STO UNSENT","+15550000002",,\r\ndraft\r\n\r\nOK\r\n');
    await at(term, 'AT+CSDH=1');
    expect(await at(term, 'AT+CMGL="ALL"')).toBe('\r\n+CMGL: 1,"STO UNSENT","+15550000002",,,145,5\r\ndraft\r\n\r\nOK\r\n');
    expect(await at(term, 'AT+CMGR=1')).toBe(`\r\n+CMGR: "STO UNSENT","+15550000002",,145,17,0,0,167,"${SMSC_A}",145,5\r\ndraft\r\n\r\nOK\r\n`);
    await at(term, 'AT+CMGF=0');
    const pdu = /\r\n([0-9A-F]+)\r\n\r\nOK/.exec(await at(term, 'AT+CMGR=1'))?.[1] as string;
    expect(decodePdu(pdu)).toMatchObject({ type: 'submit', destination: { number: '+15550000002' }, userData: { text: 'draft' } });
  });

  it('text-mode +CMGW="<da>",<toda>,"STO SENT" and a received message stored by the TE', async () => {
    const { term } = await emulatorBench();
    await at(term, 'ATE0;+CMGF=1');
    await term.command('AT+CMGW="5550000002",129,"STO SENT"', /> $/);
    term.type('national\x1a');
    await term.read(/OK\r\n$/);
    expect(await at(term, 'AT+CMGL="STO SENT"')).toBe('\r\n+CMGL: 1,"STO SENT","5550000002",,\r\nnational\r\n\r\nOK\r\n');
    await term.command('AT+CMGW="+15550000003",145,"REC READ"', /> $/);
    term.type('kept\x1a');
    await term.read(/OK\r\n$/);
    expect(await at(term, 'AT+CMGL="REC READ"')).toMatch(/^\r\n\+CMGL: 2,"REC READ","\+15550000003",,"\d\d\/\d\d\/\d\d,\d\d:\d\d:\d\d[+-]\d\d"\r\nkept\r\n\r\nOK\r\n$/);
  });
});

describe('USSD (27.007 §7.15) answered by the carrier', () => {
  it('balance and own number come back as +CUSD after OK; an unknown code is not supported', async () => {
    const { term, w } = await emulatorBench();
    await at(term, 'ATE0;+CMEE=1');
    expect(await at(term, 'AT+CUSD=1,"*100#",15')).toBe('\r\nOK\r\n');
    expect(await term.read(/\r\n$/)).toBe('\r\n+CUSD: 0,"Carrier A: balance 25.00",15\r\n');
    await at(term, 'AT+CUSD=1,"*#100#",15');
    expect(await term.read(/\r\n$/)).toBe('\r\n+CUSD: 0,"Carrier A: your number is +4917000000001",15\r\n');
    await at(term, 'AT+CUSD=1,"*999#",15');
    expect(await term.read(/\r\n$/)).toBe('\r\n+CUSD: 4\r\n');
    expect(await at(term, 'AT+CUSD?')).toBe('\r\n+CUSD: 1\r\n\r\nOK\r\n');
    await at(term, 'AT+CUSD=0,"*100#",15');
    await w.clock.advance(5_000);
    expect(term.take()).toBe('');
  });

  it('in the UCS2 character set the string goes both ways as UCS2 hex (as Gammu sends it)', async () => {
    const { term } = await emulatorBench();
    await at(term, 'ATE0;+CSCS="UCS2"');
    await at(term, 'AT+CUSD=1,"002A0031003000300023",15');
    expect(await term.read(/\r\n$/)).toBe(`\r\n+CUSD: 0,"${Buffer.from('Carrier A: balance 25.00', 'utf16le').swap16().toString('hex').toUpperCase()}",15\r\n`);
  });

  it('E3372 takes and answers GSM 7-bit packed hex (Gammu F_ENCODED_USSD)', async () => {
    const { term } = await emulatorBench({ profile: 'e3372' });
    await at(term, 'ATE0;^CURC=0');
    await at(term, 'AT+CUSD=1,"AA180C3602",15');
    expect(await term.read(/\r\n$/)).toBe('\r\n+CUSD: 0,"C3B05C9E2ECB41411D481C6687DDE332485673C160",15\r\n');
  });

  it('the balance goes down with each SMS sent', async () => {
    const { term, w } = await emulatorBench();
    await at(term, 'ATE0');
    const pdu = encodeSubmit({ to: '+4917099', text: 'x' })[0] as { hex: string; tpduLength: number };
    term.type(`AT+CMGS=${pdu.tpduLength}\r${pdu.hex}\x1a`);
    await term.read(/OK\r\n$/);
    await at(term, 'AT+CUSD=1,"*100#",15');
    expect(await term.read(/\r\n$/)).toContain('balance 24.90');
    expect(w.network.submissions()).toHaveLength(1);
  });
});

describe('commands clients probe (V.250 §6.1, 27.007 §5, §8)', () => {
  it('+GCAP, +CPAS, +CRC, +CLAC and +CPBS=? answer on every profile', async () => {
    for (const name of MODEM_PROFILE_NAMES) {
      const { term } = await emulatorBench({ profile: name });
      await at(term, 'ATE0');
      expect(await at(term, 'AT+GCAP'), name).toBe(`\r\n+GCAP: ${modemProfile(name).gcap}\r\n\r\nOK\r\n`);
      expect(await at(term, 'AT+CPAS'), name).toBe('\r\n+CPAS: 0\r\n\r\nOK\r\n');
      expect(await at(term, 'AT+CRC=1'), name).toBe('\r\nOK\r\n');
      expect(await at(term, 'AT+CRC?'), name).toBe('\r\n+CRC: 1\r\n\r\nOK\r\n');
      const clac = await at(term, 'AT+CLAC');
      expect(clac, name).toMatch(/^\r\n(AT[^\r]+\r\n)+\r\nOK\r\n$/);
      expect(clac).toContain('\r\nAT+CMGS\r\n');
      for (const vendor of modemProfile(name).vendorCommands) expect(clac, `${name} ${vendor}`).toContain(`\r\nAT${vendor}\r\n`);
      expect(await at(term, 'AT+CPBS=?'), name).toMatch(/^\r\n\+CPBS: \("SM"(,"[A-Z]{2}")*\)\r\n\r\nOK\r\n$/);
    }
  });

  it('+CMEE=2 words every error code the emulator sends', async () => {
    const { term } = await emulatorBench();
    await at(term, 'ATE0;+CMEE=2');
    expect(await at(term, 'AT+CNMA')).toBe('\r\n+CMS ERROR: no +CNMA acknowledgement expected\r\n');
    await at(term, 'AT+CMGF=1;+CSMP=17,167,0,4');
    await term.command('AT+CMGS="+4917099"', /> $/);
    term.type('00\x1a');
    expect(await term.read(/\r\n$/)).toBe('\r\n+CMS ERROR: operation not supported\r\n');
  });

  it('ATI answers as each module does', async () => {
    const expected: Record<ModemProfileName, RegExp> = {
      default: /^\r\nChainCloud\r\nGSM-EMU-1\r\nRevision: EMU 1\.0\.0\r\n\r\nOK\r\n$/,
      sim800c: /^\r\nSIM800 R14\.18\r\n\r\nOK\r\n$/,
      e3372: /^\r\nManufacturer: huawei\r\nModel: E3372\r\nRevision: 22\.328\.62\.00\.00\r\nIMEI: \d{15}\r\n\+GCAP: \+CGSM,\+DS,\+ES\r\n\r\nOK\r\n$/,
      ec25: /^\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A06M4G\r\n\r\nOK\r\n$/,
    };
    for (const name of MODEM_PROFILE_NAMES) {
      const { term } = await emulatorBench({ profile: name });
      await at(term, 'ATE0');
      expect(await at(term, 'ATI'), name).toMatch(expected[name]);
    }
  });

  it('no extended command in the table is merely accepted without its effect', () => {
    for (const [name, handler] of Object.entries(COMMANDS)) {
      if (name.startsWith('+')) expect(handler.name, name).not.toBe('accept');
    }
  });
});

describe('a PDU with an octet after its user data (serialport-gsm 4.0.1 with node-pdu 1)', () => {
  // node-pdu 1 sends each part of a long message with one octet more than TP-UDL covers.
  const longPart = (): { hex: string; tpduLength: number } => {
    const part = encodeSubmit({ to: '+4917099', text: 'y'.repeat(200), concatReference: 9 })[0] as { hex: string; tpduLength: number };
    return { hex: `${part.hex}00`, tpduLength: part.tpduLength + 1 };
  };

  // Per the evidence cited in each profile: a SIM800L sends these parts (serialport-gsm #66).
  const sendsIt: Record<ModemProfileName, boolean> = { default: false, sim800c: true, e3372: false, ec25: false };
  for (const name of MODEM_PROFILE_NAMES) {
    const sends = sendsIt[name];
    it(`${name} ${sends ? 'sends it as TP-UDL says' : 'refuses it with +CMS ERROR: 304'}`, async () => {
      const { term, w } = await emulatorBench({ profile: name });
      await at(term, 'ATE0;+CMEE=1');
      const part = longPart();
      term.type(`AT+CMGS=${part.tpduLength}\r`);
      await term.read(/> $/);
      term.type(`${part.hex}\x1a`);
      const reply = await term.read(/\r\n(OK|\+CMS ERROR: \d+)\r\n$/);
      if (sends) {
        expect(reply).toMatch(/\+CMGS: \d+\r\n\r\nOK\r\n$/);
        expect((w.network.submissions()[0] as { text: string }).text).toBe('y'.repeat(153));
      } else {
        expect(reply).toBe('\r\n+CMS ERROR: 304\r\n');
        expect(w.network.submissions()).toHaveLength(0);
      }
    });
  }
});

describe('the message reference lives on the SIM (EF_SMSS, 3GPP TS 31.102 §4.2.9)', () => {
  it('a new modem with the same SIM store continues where the last one stopped', async () => {
    const w = world();
    const saved = new Map<string, number>();
    const store = { lastMessageReference: (imsi: string) => saved.get(imsi), saveMessageReference: (imsi: string, mr: number) => void saved.set(imsi, mr) };
    const sim = w.network.issueSim({ carrierId: 'A', msisdn: '+4917000000001' });
    const pdu = encodeSubmit({ to: '+4917099', text: 'mr' })[0] as { hex: string; tpduLength: number };
    const send = async (term: Terminal): Promise<number> => {
      term.type(`ATE0\rAT+CMGS=${pdu.tpduLength}\r${pdu.hex}\x1a`);
      return Number(/\+CMGS: (\d+)/.exec(await term.read(/\+CMGS: \d+\r\n\r\nOK\r\n$/))?.[1]);
    };
    const first = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim, simStore: store });
    first.modem.setSendDelay(0);
    const firstTerm = new Terminal(w.clock, first.openHostPort());
    expect([await send(firstTerm), await send(firstTerm)]).toEqual([0, 1]);
    first.unplug();
    const second = new EmulatedModemDevice({ clock: w.clock, network: w.network, sim, simStore: store });
    second.modem.setSendDelay(0);
    expect(await send(new Terminal(w.clock, second.openHostPort()))).toBe(2);
    expect(saved.get(sim.imsi)).toBe(2);
    expect(w.network.submissions().map((s) => s.messageReference)).toEqual([0, 1, 2]);
  });
});
