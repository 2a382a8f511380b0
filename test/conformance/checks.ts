/**
 * What each real client must manage against an emulated modem of a given profile, and how the
 * other side proves it: every text is compared character for character (files byte for byte)
 * where it arrived, and every client step runs within a bound that fails the test, printing the
 * AT transcript around the failure.
 *
 * `full` runs the whole list (the soak matrix, every profile); without it a representative
 * part runs (npm test).
 */
import { expect } from 'vitest';
import { modemProfile, type ModemProfileName } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { USSD_CODES } from '../../hw-profiles/sim/gsm/network.ts';
import { GammuSmsd, SerialportGsm, Smstools, gammu, gammuConfig, parseGammuMessages } from './clients.ts';
import { ConformanceWorld } from './harness.ts';

/** The modem under test, a phone on the other carrier, and a number in the outside world. */
export const MODEM = '+15550000001';
export const PHONE = '+15550000002';

/** GSM characters that sit at other codes in IRA ("_", "@", "$", "£") must arrive unchanged. */
const SHORT = 'Short one: _@$£ ok';
const LONG = 'The quick brown fox jumps over the lazy dog _@$£. '.repeat(8).slice(0, 400);
const UNICODE = '€ ü 你好 Ωmega';

const STEP_MS = 120_000;

async function inWorld(client: string, profile: ModemProfileName, body: (world: ConformanceWorld) => Promise<void>): Promise<void> {
  const world = await ConformanceWorld.start({
    seed: `${client}/${profile}`,
    modems: [{ msisdn: MODEM, profile, carrier: 'A' }],
    phones: [{ msisdn: PHONE, profile: 'default', carrier: 'B' }],
  });
  try {
    await body(world);
  } finally {
    await world.stop();
  }
}

/** Waits until `text` arrived at `msisdn` whole, with no other text in its place. */
async function arrives(world: ConformanceWorld, msisdn: string, text: string): Promise<void> {
  await world.until(`"${text.slice(0, 24)}…" arrives at ${msisdn}`, () => world.arrived(msisdn).some((a) => a.text === text), STEP_MS);
}

// ---------------------------------------------------------------------------------------------
// gammu

export async function gammuChecks(profile: ModemProfileName, full: boolean): Promise<void> {
  await inWorld('gammu', profile, async (world) => {
    const phone = world.modem(MODEM);
    const config = gammuConfig(world.subdir('gammu'), phone);
    const step = <T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> => world.step(`gammu ${what} on ${profile}`, [MODEM], STEP_MS, run);
    const p = modemProfile(profile);

    await step('identify', async (signal) => {
      const { stdout } = await gammu(config, ['identify'], signal);
      expect(stdout).toMatch(new RegExp(`Firmware\\s+: ${p.revision.replace(/[.]/g, '\\.')}`));
      expect(stdout).toContain(`IMEI                 : ${phone.modem.imei}`);
      expect(stdout).toContain(`SIM IMSI             : ${phone.sim.imsi}`);
    });

    if (full) {
      await step('networkinfo', async (signal) => {
        const { stdout } = await gammu(config, ['networkinfo'], signal);
        expect(stdout).toMatch(/Network state\s+: home network/);
        expect(stdout).toMatch(/Network\s+: 001 01/);
        expect(stdout).toContain('Name in phone        : "Carrier A"');
      });
      await step('getsmsc', async (signal) => {
        expect((await gammu(config, ['getsmsc'], signal)).stdout).toMatch(/Number\s+: "\+12025550100"/);
      });
      await step('monitor 1', async (signal) => {
        const { stdout } = await gammu(config, ['monitor', '1'], signal);
        expect(stdout).toMatch(/Signal strength\s+: -71 dBm/);
        expect(stdout).toMatch(/Network state\s+: home network/);
      });
      phone.modem.setClock(Date.UTC(2030, 5, 1, 8, 0, 0), 0);
      await step('getdatetime, setdatetime, getdatetime', async (signal) => {
        expect((await gammu(config, ['getdatetime'], signal)).stdout).toMatch(/ 2030\n/);
        await gammu(config, ['setdatetime'], signal);
        const shown = /Phone time is (.+)\n/.exec((await gammu(config, ['getdatetime'], signal)).stdout)?.[1] as string;
        expect(Math.abs(new Date(shown).getTime() - Date.now())).toBeLessThan(10 * 60_000);
      });
      await step('sendsms (short)', async (signal) => {
        await gammu(config, ['sendsms', 'TEXT', PHONE, '-text', SHORT], signal);
        await arrives(world, PHONE, SHORT);
      });
      await step('sendsms -unicode', async (signal) => {
        await gammu(config, ['sendsms', 'TEXT', PHONE, '-unicode', '-text', UNICODE], signal);
        await arrives(world, PHONE, UNICODE);
      });
      await step('sendsms -report', async (signal) => {
        const text = 'Report this one';
        await gammu(config, ['sendsms', 'TEXT', PHONE, '-report', '-text', text], signal);
        await arrives(world, PHONE, text);
        const submission = world.network.submissions({ from: MODEM }).find((s) => s.text === text);
        expect(submission?.statusReportRequest).toBe(true);
      });
    }

    await step('sendsms -len 400', async (signal) => {
      await gammu(config, ['sendsms', 'TEXT', PHONE, '-len', '400', '-text', LONG], signal);
      await arrives(world, PHONE, LONG);
    });

    await step('getallsms', async (signal) => {
      phone.modem.injectSms({ from: '+15550000003', text: SHORT });
      phone.modem.injectSms({ from: '+15550000004', text: LONG, order: 'reverse', concatReference: 42 });
      phone.modem.injectSms({ from: '+15550000005', text: UNICODE });
      const messages = parseGammuMessages((await gammu(config, ['getallsms'], signal)).stdout);
      expect(messages.map((m) => m.text)).toContain(SHORT);
      expect(messages.find((m) => m.text === UNICODE)?.fields.Coding).toMatch(/Unicode/);
      const parts = messages.filter((m) => /ID \(8 bit\) 42, part \d of \d/.test(m.fields['User Data Header'] ?? ''));
      const ordered = parts.sort((a, b) => Number(/part (\d)/.exec(a.fields['User Data Header'] ?? '')?.[1]) - Number(/part (\d)/.exec(b.fields['User Data Header'] ?? '')?.[1]));
      expect(ordered.map((m) => m.text).join('')).toBe(LONG);
      expect(messages).toHaveLength(phone.modem.messages('SM').length);
    });

    if (full) {
      await step('deleteallsms 1', async (signal) => {
        await gammu(config, ['deleteallsms', '1'], signal);
        expect(phone.modem.messages('SM')).toEqual([]);
      });
    }

    await step('getussd', async (signal) => {
      const expected = world.network.ussd(MODEM, USSD_CODES.balance).text as string;
      expect((await gammu(config, ['getussd', USSD_CODES.balance], signal)).stdout).toMatch(new RegExp(`Service reply\\s+: "${expected.replace(/[.]/g, '\\.')}"`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// gammu-smsd

export async function gammuSmsdChecks(profile: ModemProfileName, full: boolean): Promise<void> {
  await inWorld('gammu-smsd', profile, async (world) => {
    const phone = world.modem(MODEM);
    const smsd = new GammuSmsd(world, phone);
    const step = <T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
      world.step(`gammu-smsd ${what} on ${profile}`, [MODEM], STEP_MS, run, () => `--- gammu-smsd log (last lines) ---\n${smsd.log()}\n--- inbox ---\n${smsd.listing('inbox')}`);
    try {
      smsd.start();
      const sends = full ? [SHORT, LONG] : [LONG];
      await step('sends (gammu-smsd-inject, multipart with -len)', async (signal) => {
        for (const text of sends) await smsd.inject(PHONE, text, text.length > 160 ? ['-len', String(text.length)] : [], signal);
        for (const text of sends) await arrives(world, PHONE, text);
      });
      const receives = full ? [SHORT, LONG, UNICODE] : [LONG];
      await step('receives into the inbox files (multipart joined)', async () => {
        for (const text of receives) await world.phoneSends(PHONE, MODEM, text);
        await world.until('the inbox holds every message', () => smsd.inbox().length >= receives.length, STEP_MS);
        expect(smsd.inbox()).toEqual(receives.map((text) => ({ sender: PHONE, content: Buffer.from(text, 'utf8') })));
      });
      await step('stops on SIGTERM', () => smsd.stop());
    } finally {
      await smsd.kill();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// smstools3

export async function smstoolsChecks(profile: ModemProfileName, full: boolean): Promise<void> {
  await inWorld('smstools', profile, async (world) => {
    const phone = world.modem(MODEM);
    const smsd = new Smstools(world, phone, { memoryStart: modemProfile(profile).storageIndexBase });
    const step = <T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
      world.step(`smstools ${what} on ${profile}`, [MODEM], STEP_MS, run, () => `--- smstools log (last lines) ---\n${smsd.log()}`);
    try {
      smsd.start();
      const sends = full ? [SHORT, LONG, UNICODE] : [LONG];
      await step('sends from the outgoing spool (multipart, UCS2)', async () => {
        for (const text of sends) smsd.send(PHONE, text);
        for (const text of sends) await arrives(world, PHONE, text);
        await world.until('every message is in the sent spool', () => smsd.files('sent').length === sends.length, STEP_MS);
      });
      if (full) {
        await step('asks for a status report and files it', async () => {
          const name = smsd.send(PHONE, 'Report me', { Report: 'yes' });
          await arrives(world, PHONE, 'Report me');
          await world.until('the message is in the sent spool', () => smsd.files('sent').some((f) => f.name === name), STEP_MS);
          const id = smsd.files('sent').find((f) => f.name === name)?.headers.Message_id;
          const submission = world.network.submissions({ from: MODEM }).find((s) => s.text === 'Report me');
          expect(id).toBe(String(submission?.messageReference));
          // smstools files the report with the message reference of the message it answers.
          const report = (): string | undefined => smsd.files('report').find((f) => f.text.includes(`\nMessage_id: ${id}\n`))?.text;
          await world.until('the status report is filed', () => report() !== undefined, STEP_MS);
          expect(report()).toMatch(/^SMS STATUS REPORT\n/);
          expect(report()).toMatch(/\nStatus: 0,Ok,short message received by the SME$/);
        });
      }
      const receives = full ? [SHORT, LONG, UNICODE] : [LONG];
      await step('receives into the incoming spool (multipart combined)', async () => {
        for (const text of receives) await world.phoneSends(PHONE, MODEM, text);
        const texts = (): string[] => smsd.files('incoming').map((f) => f.text).sort();
        await world.until('every message is in the incoming spool', () => texts().length >= receives.length, STEP_MS);
        expect(texts()).toEqual([...receives].sort());
      });
      await step('stops on SIGTERM', () => smsd.stop());
    } finally {
      await smsd.kill();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// serialport-gsm

export async function serialportGsmChecks(profile: ModemProfileName): Promise<void> {
  await inWorld('serialport-gsm', profile, async (world) => {
    const phone = world.modem(MODEM);
    const inboxText = 'Waiting in the inbox';
    phone.modem.injectSms({ from: PHONE, text: inboxText });
    const client = new SerialportGsm(phone, { sends: [{ to: PHONE, text: 'serialport-gsm short' }, { to: PHONE, text: UNICODE }] });
    const step = <T>(what: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> => world.step(`serialport-gsm ${what} on ${profile}`, [MODEM], STEP_MS, run);
    try {
      await step('initializes', async (signal) => {
        expect(await client.waitFor((e) => e.event === 'initialized', signal)).toMatchObject({ status: 'success' });
      });
      await step('reads the inbox', async (signal) => {
        const inbox = await client.waitFor((e) => e.event === 'inbox', signal);
        expect(inbox).toMatchObject({ status: 'success', messages: [{ sender: PHONE.replace('+', ''), text: inboxText }] });
      });
      await step('sends short and Unicode texts', async (signal) => {
        await client.waitFor((e) => e.event === 'listening', signal);
        expect(client.events.filter((e) => e.event === 'sent').map((e) => e.status)).toEqual(['success', 'success']);
        await arrives(world, PHONE, 'serialport-gsm short');
        await arrives(world, PHONE, UNICODE);
      });
      await step('hears a multipart message from a peer (onNewMessage)', async (signal) => {
        await world.phoneSends(PHONE, MODEM, LONG);
        const message = await client.waitFor((e) => e.event === 'message', signal);
        expect(message).toMatchObject({ sender: PHONE.replace('+', ''), text: LONG, parts: 3 });
      });
      await step('closes the port and exits', () => client.quit());
    } finally {
      client.kill();
    }
  });
}
