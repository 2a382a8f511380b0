import { describe, expect, it } from 'vitest';
import { HsmError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { Modem, ModemCommandError, isTransientSendError, type InboundSms, type ModemEvent } from '../../shared/gsm/modem.ts';
import type { ModemProfileName } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { drive, modemRig, until, world } from './helpers.ts';

function capturedLog(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => lines.push(line) } }) };
}

describe('Modem bring-up', () => {
  for (const profile of ['default', 'sim800c', 'e3372', 'ec25'] as ModemProfileName[]) {
    it(`comes up on a ${profile}: identity from the SIM, PDU mode, registered`, async () => {
      const w = world();
      const { modem, sim, device } = modemRig(w, { msisdn: '+4917000000001', profile, driver: { quirks: profile === 'e3372' ? { initCommands: ['AT^CURC=0'] } : {} } });
      expect(await drive(w.clock, modem.start())).toBe('ready');
      expect(modem.identity).toMatchObject({ imsi: sim.imsi, iccid: sim.iccid, model: device.modem.profile.model });
      expect(modem.health).toMatchObject({ registered: true, regStat: 1, rssi: 21, consecutiveFailures: 0 });
      expect(modem.smsc).toBe('+12025550100');
      expect(modem.operator).toBe('Carrier A');
      expect(device.modem.settings).toMatchObject({ cmgf: 0, echo: false, cmee: 1, cnmi: { mode: 2, mt: 1, ds: 1 } });
      await drive(w.clock, modem.stop());
      expect(modem.state).toBe('stopped');
    });
  }

  it('enters the PIN from the profile once, and never logs it', async () => {
    const w = world();
    const { lines, logger } = capturedLog();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001', simPin: '4711', pin: '4711', driver: { log: logger } });
    expect(await drive(w.clock, modem.start())).toBe('ready');
    expect(device.modem.invocations('+CPIN')).toBeGreaterThanOrEqual(2);
    expect(lines.join('\n')).toContain('CPIN=<redacted>');
    expect(lines.join('\n')).not.toContain('4711');
  });

  it('stops for good when the SIM rejects the PIN, without a second try', async () => {
    const w = world();
    const { lines, logger } = capturedLog();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001', simPin: '4711', pin: '1234', driver: { log: logger } });
    const events: ModemEvent[] = [];
    modem.onEvent((e) => events.push(e));
    expect(await drive(w.clock, modem.start())).toBe('failed');
    await w.clock.advance(120_000);
    expect(modem.state).toBe('failed');
    expect(modem.health.lastError).toContain('rejected the PIN');
    const sets = device.modem.invocations('+CPIN') - 1; // one AT+CPIN? before the single AT+CPIN="..."
    expect(sets).toBe(1);
    expect(lines.join('\n')).not.toContain('1234');
    expect(events.filter((e) => e.type === 'state').map((e) => (e as { state: string }).state)).toEqual(['starting', 'failed']);
  });

  it('refuses a modem holding another SIM than the profile names', async () => {
    const w = world();
    const { modem } = modemRig(w, { msisdn: '+4917000000001', driver: { expect: { imsi: '001019999999999' } } });
    expect(await drive(w.clock, modem.start())).toBe('failed');
    expect(modem.health.lastError).toContain('expected 001019999999999');
  });

  it('needs a PIN it does not have: failed, not retried', async () => {
    const w = world();
    const { modem } = modemRig(w, { msisdn: '+4917000000001', simPin: '4711' });
    expect(await drive(w.clock, modem.start())).toBe('failed');
    expect(modem.health.lastError).toContain('needs a PIN');
  });
});

describe('Modem sending', () => {
  it('sends single and multipart texts; the network sees each part once', async () => {
    const w = world();
    const { modem } = modemRig(w, { msisdn: '+4917000000001' });
    await drive(w.clock, modem.start());
    expect(await drive(w.clock, modem.sendSms('+4917099', 'CC:CHANNEL_OK:7:'))).toEqual({ modem: 'sim1', messageReferences: [0] });
    const long = `CC:${'X'.repeat(200)}`;
    expect((await drive(w.clock, modem.sendSms('+4917099', long, { concatReference: 33 }))).messageReferences).toEqual([1, 2]);
    await w.clock.advance(2_000);
    expect(w.network.submissions().map((s) => s.text)).toEqual(['CC:CHANNEL_OK:7:', long.slice(0, 153), long.slice(153)]);
    expect(w.network.submissions()[1]?.concat).toEqual({ reference: 33, referenceBits: 8, total: 2, sequence: 1 });
  });

  it('refuses text it would alter before writing anything', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    await drive(w.clock, modem.start());
    await expect(drive(w.clock, modem.sendSms('+4917099', 'tab\tseparated', { alphabet: 'gsm7' }))).rejects.toMatchObject({ code: 'SMS_TEXT_UNENCODABLE', field: 'text' });
    await expect(drive(w.clock, modem.sendSms('+49 170', 'x'))).rejects.toMatchObject({ code: 'PDU_BAD_ADDRESS', field: 'to' });
    expect(device.modem.invocations('+CMGS')).toBe(0);
  });

  it('reports +CMS ERROR as a typed error with the code', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    await drive(w.clock, modem.start());
    device.modem.failNext({ command: '+CMGS', error: { cms: 500 } });
    const error = await drive(w.clock, modem.sendSms('+4917099', 'x')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModemCommandError);
    expect(error).toMatchObject({ code: 'AT_CMS_ERROR', field: '+CMGS', cms: 500 });
    expect(isTransientSendError(error)).toBe(true);
    device.modem.failNext({ command: '+CMGS', error: { cms: 304 } });
    expect(isTransientSendError(await drive(w.clock, modem.sendSms('+4917099', 'x')).catch((e: unknown) => e))).toBe(false);
    expect(modem.state).toBe('ready');
  });

  it('times out on the clock when the network never answers', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001', driver: { timeouts: { sendMs: 30_000 } } });
    await drive(w.clock, modem.start());
    device.modem.setSendDelay(45_000);
    const started = w.clock.monotonic();
    const error = await drive(w.clock, modem.sendSms('+4917099', 'slow')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MODEM_TIMEOUT', field: '+CMGS' });
    expect(w.clock.monotonic() - started).toBeGreaterThanOrEqual(30_000);
    expect(w.clock.monotonic() - started).toBeLessThan(31_000);
  });

  it('refuses to send while not registered', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    await drive(w.clock, modem.start());
    device.modem.setRegistration(3);
    await until(w.clock, () => !modem.health.registered);
    await expect(drive(w.clock, modem.sendSms('+4917099', 'x'))).rejects.toMatchObject({ code: 'MODEM_NOT_REGISTERED' });
  });
});

describe('Modem receiving: store first, then delete', () => {
  it('hands each new message to the handler and deletes it afterwards', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    const received: InboundSms[] = [];
    modem.setInboundHandler((sms) => {
      received.push(sms);
      expect(device.modem.messages().map((m) => m.index)).toContain(sms.index); // still on the SIM
    });
    await drive(w.clock, modem.start());
    device.modem.injectSms({ from: '+4917055', text: 'CC:QH:02AB:H_ID:1:' });
    device.modem.injectSms({ from: '+4917055', text: 'y'.repeat(200), order: 'reverse', referenceBits: 16 });
    await until(w.clock, () => received.length === 3);
    await until(w.clock, () => device.modem.messages().length === 0);
    expect(received.map((r) => (r.kind === 'deliver' ? r.sms.userData.text.length : -1))).toEqual([18, 48, 152]);
    expect(received[0]).toMatchObject({ kind: 'deliver', modem: 'sim1', storage: 'SM', index: 1, sms: { originator: { number: '+4917055' } } });
  });

  it('keeps a message the handler could not store, and offers it again', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001', driver: { pollMs: 10_000 } });
    let calls = 0;
    modem.setInboundHandler(() => {
      calls++;
      if (calls === 1) throw new HsmError('STORE_FULL', 'disk full');
    });
    await drive(w.clock, modem.start());
    device.modem.injectSms({ from: '+4917055', text: 'precious' });
    await until(w.clock, () => calls === 1);
    await w.clock.advance(100);
    expect(device.modem.messages()).toHaveLength(1);
    await until(w.clock, () => calls === 2);
    await until(w.clock, () => device.modem.messages().length === 0);
  });

  it('finds messages that arrived while nobody listened, and undecodable ones are handed over and deleted', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    device.modem.injectSms({ from: '+4917055', text: 'while away' });
    device.modem.storage('SM')?.store('0004039100F0000062101000000000A1', 15, 0); // TP-UDL 161 septets
    expect(device.modem.messages()).toHaveLength(2);
    const received: InboundSms[] = [];
    modem.setInboundHandler((sms) => void received.push(sms));
    await drive(w.clock, modem.start());
    await until(w.clock, () => received.length === 2 && device.modem.messages().length === 0);
    expect(received.map((r) => r.kind)).toEqual(['deliver', 'undecodable']);
    expect(received[1]).toMatchObject({ index: 2, error: { code: 'PDU_BAD_LENGTH', field: 'udl' } });
  });

  it('copes with URCs inside replies and with status reports routed as +CDS', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    const events: ModemEvent[] = [];
    modem.onEvent((e) => events.push(e));
    const received: InboundSms[] = [];
    modem.setInboundHandler((sms) => void received.push(sms));
    await drive(w.clock, modem.start());
    device.modem.interleaveUrcs(true);
    device.modem.setLatency(20, '+CSQ');
    const health = modem.refreshHealth();
    await w.clock.advance(3);
    device.modem.injectSms({ from: '+4917055', text: 'mid-reply' });
    expect((await drive(w.clock, health)).rssi).toBe(21);
    await until(w.clock, () => received.length === 1);
    const sent = await drive(w.clock, modem.sendSms('+4917099', 'report please', { statusReport: true }));
    await until(w.clock, () => events.some((e) => e.type === 'status-report'));
    const report = events.find((e) => e.type === 'status-report') as { report: { messageReference: number; status: number } };
    expect(report.report).toMatchObject({ messageReference: sent.messageReferences[0], status: 0 });
  });

  it('waits for registration, polling AT+CREG? besides the URCs', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    w.network.setCarrierUp('A', false);
    expect(await drive(w.clock, modem.start())).toBe('ready');
    expect(modem.health).toMatchObject({ registered: false, regStat: 2 });
    await expect(drive(w.clock, modem.waitForRegistration(10_000))).rejects.toMatchObject({ code: 'MODEM_NOT_REGISTERED', field: 'registration' });
    const asked = device.modem.invocations('+CREG');
    const waiting = modem.waitForRegistration(60_000, 5_000);
    await w.clock.advance(12_000);
    expect(device.modem.invocations('+CREG')).toBeGreaterThan(asked);
    w.network.setCarrierUp('A', true);
    await drive(w.clock, waiting);
    expect(modem.health.registered).toBe(true);
    await expect(modem.waitForRegistration(-1)).rejects.toMatchObject({ code: 'MODEM_BAD_OPTION' });
  });

  it('follows registration and signal URCs', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001', profile: 'e3372' });
    await drive(w.clock, modem.start());
    device.modem.setSignal(9);
    await until(w.clock, () => modem.health.rssi === 9);
    w.network.setCarrierUp('A', false);
    await until(w.clock, () => modem.health.regStat === 2);
    w.network.setCarrierUp('A', true);
    await until(w.clock, () => modem.health.registered);
  });
});

describe('Modem watchdog and recovery', () => {
  it('escalates from re-init to CFUN reset to reopening the port, and comes back', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001', driver: { watchdogMs: 10_000 } });
    const levels: number[] = [];
    modem.onEvent((e) => {
      if (e.type === 'recovery') levels.push(e.level);
    });
    await drive(w.clock, modem.start());
    levels.length = 0;
    device.modem.hang('port-reopen');
    await until(w.clock, () => modem.state === 'recovering');
    await until(w.clock, () => modem.state === 'ready', { limitMs: 600_000 });
    expect(levels).toEqual([1, 2, 3]);
    expect(await drive(w.clock, modem.sendSms('+4917099', 'back'))).toMatchObject({ messageReferences: [expect.any(Number)] });
  });

  it('reopens the port after an unplug once the device is back; in-flight work fails fast', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    await drive(w.clock, modem.start());
    const sending = modem.sendSms('+4917099', 'cut off').catch((e: unknown) => e);
    await w.clock.advance(500);
    device.unplug();
    expect(await drive(w.clock, sending)).toMatchObject({ code: 'MODEM_DISCONNECTED' });
    expect(modem.state).toBe('recovering');
    await expect(drive(w.clock, modem.sendSms('+4917099', 'x'))).rejects.toMatchObject({ code: 'MODEM_NOT_READY' });
    await w.clock.advance(60_000);
    device.replug();
    await until(w.clock, () => modem.state === 'ready', { limitMs: 120_000 });
    expect(w.network.submissions()).toHaveLength(0);
  });

  it('re-initialises when the module restarts on its own', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001', profile: 'sim800c' });
    await drive(w.clock, modem.start());
    const before = device.modem.invocations('+CMGF');
    device.modem.emitUrc('RDY');
    await until(w.clock, () => device.modem.invocations('+CMGF') > before && modem.state === 'ready');
  });

  it('can be stopped during recovery and started again', async () => {
    const w = world();
    const { modem, device } = modemRig(w, { msisdn: '+4917000000001' });
    await drive(w.clock, modem.start());
    device.unplug();
    await until(w.clock, () => modem.state === 'recovering');
    await drive(w.clock, modem.stop());
    expect(modem.state).toBe('stopped');
    device.replug();
    expect(await drive(w.clock, modem.start())).toBe('ready');
    await w.clock.advance(120_000);
    expect(modem.state).toBe('ready');
    expect(device.hostPortOpen).toBe(true);
  });

  it('checks its options', () => {
    const w = world();
    const base = { clock: w.clock, openPort: () => Promise.reject(new Error('unused')) };
    expect(() => new Modem({ ...base, name: 'sim 1' })).toThrow(expect.objectContaining({ code: 'MODEM_BAD_OPTION', field: 'name' }));
    expect(() => new Modem({ ...base, name: 'sim1', pin: '12' })).toThrow(expect.objectContaining({ code: 'MODEM_BAD_OPTION', field: 'pin' }));
    expect(() => new Modem({ ...base, name: 'sim1', smsc: '+49";+CFUN=0' })).toThrow(expect.objectContaining({ code: 'MODEM_BAD_OPTION', field: 'smsc' }));
    expect(() => new Modem({ ...base, name: 'sim1', quirks: { initCommands: ['AT\r\nATZ'] } })).toThrow(expect.objectContaining({ field: 'quirks.initCommands' }));
  });

  it('validates raw commands', async () => {
    const w = world();
    const { modem } = modemRig(w, { msisdn: '+4917000000001' });
    await drive(w.clock, modem.start());
    await expect(modem.command('rm -rf /')).rejects.toMatchObject({ code: 'MODEM_BAD_COMMAND', field: 'command' });
    await expect(drive(w.clock, modem.command('AT+CSQ'))).resolves.toEqual(['+CSQ: 21,0']);
    await expect(drive(w.clock, modem.command('AT+NOPE'))).rejects.toMatchObject({ code: 'AT_ERROR', field: '+NOPE' });
  });
});
