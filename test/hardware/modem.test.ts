/**
 * Modem conformance: the driver (shared/gsm/modem.ts) and the doctor's probe against a modem
 * over the real serialport bindings: an emulated SIM800C served on a socat pty, and the real
 * modem HSM_TEST_MODEM names. On a real modem the suite changes nothing on the SIM (it lists
 * stored messages but deletes none) and sends an SMS only to HSM_TEST_MODEM_SMS_TO.
 *
 *   HSM_TEST_MODEM=/dev/ttyUSB2 [HSM_TEST_MODEM_BAUD=115200] [HSM_TEST_MODEM_PIN_FILE=/etc/hsm/sim1.pin]
 *   [HSM_TEST_MODEM_SMS_TO=+49...] npx vitest run test/hardware/modem.test.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../shared/clock.ts';
import { Modem } from '../../shared/gsm/modem.ts';
import { openSerialPort } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { probeModemPort } from '../../hw-profiles/doctor/modems.ts';
import { readPin } from '../../hw-profiles/run-device.ts';
import { EmulatedModem } from '../../hw-profiles/sim/gsm/emulated-modem.ts';
import { serveModemOnPty } from '../../hw-profiles/sim/gsm/modem-pty.ts';
import { SimulatedGsmNetwork, defaultCarriers } from '../../hw-profiles/sim/gsm/network.ts';
import { eventually } from '../helpers/eventually.ts';
import { envNumber, hardwareTarget, skipUnlessDevice, socat, type Target } from './target.ts';

const clock = new RealClock();
const real = hardwareTarget('HSM_TEST_MODEM', "a modem's AT port, e.g. /dev/ttyUSB2");

interface ModemUnderTest {
  path: string;
  baudRate: number;
  pin: string | undefined;
  /** Where a test SMS may go, and how to see it arrived (emulated network only). */
  smsTo: string | undefined;
  delivered?: (to: string, text: string) => boolean;
  close(): Promise<void>;
}

const emulated: Target<ModemUnderTest> = {
  skipReason: socat.skipReason,
  async open() {
    const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: new SeededRandom('hw-modem/network') });
    for (const id of network.carrierIds) network.setFaults(id, { delayMs: [50, 150] });
    const sim = network.issueSim({ carrierId: 'A', msisdn: '+4917000000101' });
    const modem = new EmulatedModem({ clock, network, sim, profile: 'sim800c', random: new SeededRandom('hw-modem/modem') });
    modem.setSendDelay(200);
    // Not tempDir(): that is removed after each test, and the suite's tests share the modem.
    const dir = mkdtempSync(join(tmpdir(), 'hsm-hw-modem-'));
    const served = await serveModemOnPty(modem, join(dir, 'ttyS-sim800c'));
    return {
      path: served.path,
      baudRate: 115_200,
      pin: undefined,
      smsTo: '+4917099880011',
      delivered: (to, text) => network.deliveries({ to }).some((d) => d.text === text),
      async close() {
        await served.close();
        network.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const device: Target<ModemUnderTest> = {
  skipReason: real.skipReason,
  async open() {
    const pinFile = process.env.HSM_TEST_MODEM_PIN_FILE;
    return {
      path: (real.paths as string[])[0] as string,
      baudRate: envNumber('HSM_TEST_MODEM_BAUD', 115_200),
      pin: pinFile === undefined || pinFile === '' ? undefined : readPin({ file: pinFile }, 'HSM_TEST_MODEM_PIN_FILE', undefined),
      smsTo: process.env.HSM_TEST_MODEM_SMS_TO || undefined,
      async close() {},
    };
  },
};

function conformance(name: string, target: Target<ModemUnderTest>): void {
  describe(name, () => {
    let opened: Promise<ModemUnderTest> | undefined;
    let driver: Modem | undefined;
    const under = (): Promise<ModemUnderTest> => (opened ??= target.open());
    const started = async (): Promise<{ m: ModemUnderTest; modem: Modem }> => {
      const m = await under();
      driver ??= new Modem({
        clock,
        name: 'conformance',
        openPort: () => openSerialPort({ path: m.path, baudRate: m.baudRate }),
        ...(m.pin === undefined ? {} : { pin: m.pin }),
        timeouts: { commandMs: 10_000, sendMs: 90_000 },
      });
      if (driver.state === 'stopped') expect(await driver.start()).toBe('ready');
      return { m, modem: driver };
    };
    afterAll(async () => {
      await driver?.stop();
      if (opened !== undefined) await (await opened).close();
    });

    it('the driver brings it up and reads who it is', async (ctx) => {
      skipUnlessDevice(ctx, target);
      const { modem } = await started();
      expect(modem.state).toBe('ready');
      const identity = modem.identity;
      expect(identity?.imei).toMatch(/^[0-9]{14,17}$/);
      expect(identity?.imsi).toMatch(/^[0-9]{6,15}$/);
      expect(identity?.manufacturer.length).toBeGreaterThan(0);
    });

    it('registers on a network and reports its signal', async (ctx) => {
      skipUnlessDevice(ctx, target);
      const { modem } = await started();
      await modem.waitForRegistration(60_000, 1_000);
      const health = await modem.refreshHealth();
      expect(health.registered).toBe(true);
      expect(health.rssi === 99 || (health.rssi >= 0 && health.rssi <= 31)).toBe(true);
    }, 90_000);

    it('keeps network time it can report', async (ctx) => {
      skipUnlessDevice(ctx, target);
      const { modem } = await started();
      const { at, timeZoneMinutes } = await modem.networkTime();
      expect(Number.isFinite(at)).toBe(true);
      expect(Math.abs(timeZoneMinutes)).toBeLessThanOrEqual(14 * 60);
    });

    it('lists stored messages in PDU mode without deleting any', async (ctx) => {
      skipUnlessDevice(ctx, target);
      const { modem } = await started();
      const lines = await modem.command('AT+CMGL=4');
      for (const line of lines) expect(line).toMatch(/^\+CMGL: \d+,\d,.*,\d+$|^[0-9A-F]+$/);
    });

    it("the doctor's probe finds the same SIM, without the driver", async (ctx) => {
      skipUnlessDevice(ctx, target);
      const { m, modem } = await started();
      const imsi = modem.identity?.imsi;
      await modem.stop();
      const probe = await probeModemPort(m.path, m.baudRate, { clock, ignorePids: [process.pid], credentialsDirectory: undefined });
      expect(probe).toMatchObject({ answers: true, sim: 'ready', imsi, openError: undefined });
      expect(probe.regStat === 1 || probe.regStat === 5).toBe(true);
      expect(await modem.start()).toBe('ready');
    });

    it('sends an SMS', async (ctx) => {
      skipUnlessDevice(ctx, target);
      const m = await under();
      ctx.skip(m.smsTo === undefined, 'HSM_TEST_MODEM_SMS_TO is not set: no number to send a test SMS to');
      const { modem } = await started();
      const text = `hsm hardware test ${new Date().toISOString()}`;
      const sent = await modem.sendSms(m.smsTo as string, text);
      expect(sent.messageReferences).toHaveLength(1);
      if (m.delivered !== undefined) await eventually(() => m.delivered?.(m.smsTo as string, text) === true, 'the SMS reaches the network');
    }, 120_000);
  });
}

conformance('modem conformance: an emulated SIM800C on a pty', emulated);
conformance('modem conformance: the modem HSM_TEST_MODEM names', device);
