/**
 * Records the AT transcripts in test/transcripts/ from the driver talking to the emulator, one
 * session per quirk profile: bring-up, a send with a status report, a single and a multipart
 * message received, and the profile's unsolicited reports. Each file says it comes from the
 * emulator: it shows what the emulator does, never evidence of what a real module does. Run
 * after a deliberate change to the driver's command sequence or to the emulator:
 *
 *   npx tsx scripts/gsm/record-transcripts.ts
 * @module
 */
import { writeFileSync } from 'node:fs';
import { SimulatedClock } from '../../shared/clock.ts';
import { Modem, type ModemOptions } from '../../shared/gsm/modem.ts';
import { SeededRandom } from '../../shared/random.ts';
import { EmulatedModemDevice } from '../../hw-profiles/sim/gsm/modem-device.ts';
import type { ModemProfileName } from '../../hw-profiles/sim/gsm/modem-profiles.ts';
import { SimulatedGsmNetwork, defaultCarriers } from '../../hw-profiles/sim/gsm/network.ts';
import { TRANSCRIPT_RANDOM, TranscriptRecorder } from '../../hw-profiles/sim/gsm/transcript.ts';

async function drive<T>(clock: SimulatedClock, promise: Promise<T>): Promise<T> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) await clock.advance(5);
  return promise;
}

async function until(clock: SimulatedClock, condition: () => boolean): Promise<void> {
  while (!condition()) await clock.advance(5);
}

interface Session {
  profile: ModemProfileName;
  driver: Pick<ModemOptions, 'quirks'>;
  extra?: (ctx: { clock: SimulatedClock; device: EmulatedModemDevice; modem: Modem }) => Promise<void>;
}

const SESSIONS: Session[] = [
  { profile: 'default', driver: {} },
  { profile: 'sim800c', driver: {} },
  {
    profile: 'e3372',
    driver: { quirks: { initCommands: ['AT^CURC=0'] } },
    extra: async ({ clock, device, modem }) => {
      device.modem.interleaveUrcs(true);
      device.modem.setLatency(20, '+CSQ');
      const health = modem.refreshHealth();
      await clock.advance(3);
      device.modem.emitUrc('^HCSQ:"LTE",59,50,161,24');
      await drive(clock, health);
      device.modem.interleaveUrcs(false);
    },
  },
  {
    // EC2x drivers turn the signal report on themselves; it comes when the signal changes.
    profile: 'ec25',
    driver: { quirks: { initCommands: ['AT+QINDCFG="csq",1'] } },
    extra: async ({ clock, device }) => {
      device.modem.setSignal(17);
      await clock.advance(100);
    },
  },
];

async function record(session: Session): Promise<string> {
  const clock = new SimulatedClock();
  const random = new SeededRandom(`transcript/${session.profile}`);
  const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: random.fork('network') });
  network.setFaults('A', { delayMs: [300, 300] });
  const sim = network.issueSim({ carrierId: 'A', msisdn: '+4917000000001', imsi: '001011234567890', iccid: '8900101000012345678' });
  const device = new EmulatedModemDevice({ clock, network, sim, profile: session.profile, imei: '861234567890123', random });
  device.modem.setSendDelay(2_000);
  const recorder = new TranscriptRecorder([
    `profile: ${session.profile}`,
    'source: the emulator, recorded by scripts/gsm/record-transcripts.ts (not a capture of a real module)',
    `driver: ${JSON.stringify(session.driver)}`,
  ]);
  device.modem.onTraffic((direction, bytes) => recorder.traffic(direction, bytes));
  const modem = new Modem({ clock, name: 'sim1', openPort: () => device.openHostPort(), random: TRANSCRIPT_RANDOM, ...session.driver });
  let received = 0;
  modem.setInboundHandler((sms) => {
    if (sms.kind === 'deliver') received++;
  });
  recorder.note('bring-up');
  await drive(clock, modem.start());
  await clock.advance(100);
  if (session.extra !== undefined) {
    recorder.note('profile specifics');
    await session.extra({ clock, device, modem });
  }
  recorder.note('send with a status report');
  await drive(clock, modem.sendSms('+4917099887766', 'CC:CHANNEL_OK:1:', { statusReport: true }));
  await clock.advance(1_000);
  recorder.note('a single message, then a multipart one with its parts reversed');
  device.modem.injectSms({ from: '+4917011111111', text: 'CC:PING:', timestamp: Date.UTC(2026, 0, 2, 10, 0, 0), concatReference: 1 });
  await until(clock, () => received === 1 && device.modem.messages().length === 0);
  device.modem.injectSms({ from: '+4917022222222', text: `CC:${'0123456789'.repeat(16)}:`, timestamp: Date.UTC(2026, 0, 2, 10, 1, 0), concatReference: 7, order: 'reverse' });
  await until(clock, () => received === 3 && device.modem.messages().length === 0);
  await clock.advance(100);
  await drive(clock, modem.stop());
  return recorder.toString();
}

for (const session of SESSIONS) {
  const path = new URL(`../../test/transcripts/${session.profile}.txt`, import.meta.url);
  writeFileSync(path, await record(session));
  process.stdout.write(`${path.pathname}\n`);
}
