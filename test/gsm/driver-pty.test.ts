/**
 * The driver end to end with the real serialport bindings: the emulated modem served on a
 * socat pty (as `hsm modem-sim` serves it to Gammu), the driver opening the pty with
 * `openSerialPort`, real time throughout.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../shared/clock.ts';
import { openSerialPort } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { Modem } from '../../shared/gsm/modem.ts';
import { MODEM_POOL_COLLECTIONS, ModemPool } from '../../shared/gsm/modem-pool.ts';
import { EmulatedModem } from '../../hw-profiles/sim/gsm/emulated-modem.ts';
import { serveModemOnPty, type ServedModem } from '../../hw-profiles/sim/gsm/modem-pty.ts';
import { SimulatedGsmNetwork, defaultCarriers } from '../../hw-profiles/sim/gsm/network.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const socat = osTool('socat', 'socat');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function eventually(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function setup() {
  const clock = new RealClock();
  const dir = tempDir();
  const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: new SeededRandom('driver-pty') });
  for (const id of network.carrierIds) network.setFaults(id, { delayMs: [50, 150] });
  network.onEvent(() => undefined);
  cleanups.push(async () => network.stop());
  const sim = network.issueSim({ carrierId: 'A', msisdn: '+4917000000001' });
  const emulated = new EmulatedModem({ clock, network, sim, profile: 'sim800c', random: new SeededRandom('driver-pty/modem') });
  emulated.setSendDelay(100);
  const path = join(dir, 'ttyUSB-sim1');
  const served: ServedModem = await serveModemOnPty(emulated, path);
  cleanups.push(() => served.close());
  const modem = new Modem({
    clock,
    name: 'sim1',
    openPort: () => openSerialPort({ path, baudRate: 115_200 }),
    expect: { imsi: sim.imsi },
    watchdogMs: 1_000,
    failuresBeforeRecovery: 1,
    timeouts: { pingMs: 1_000, commandMs: 3_000, sendMs: 10_000 },
    quirks: { resetDelayMs: 3_500 },
  });
  const store = DeviceStore.open(join(dir, 'state'), { app: 'hsm-cold', schemaVersion: 1, clock, collections: MODEM_POOL_COLLECTIONS });
  const pool = new ModemPool({ store, clock, modems: [modem], retry: { initialMs: 500, maxMs: 2_000 } });
  cleanups.push(async () => {
    await pool.stop();
    await store.close();
  });
  return { clock, network, sim, emulated, served, modem, pool };
}

describe.skipIf(!socat.available)('the driver over a socat pty with the real serialport bindings', () => {
  it('identifies the SIM, sends, receives single/multipart/UCS-2 messages and deletes them', async () => {
    const { network, sim, emulated, modem, pool } = await setup();
    await pool.start();
    expect(modem.state).toBe('ready');
    expect(modem.identity).toMatchObject({ manufacturer: 'SIMCOM_Ltd', model: 'SIMCOM_SIM800C', imsi: sim.imsi, iccid: sim.iccid });

    const id = pool.enqueue('+4917099887766', 'Hello from the driver');
    await eventually(() => pool.message(id)?.state === 'sent');
    await eventually(() => network.deliveries({ to: '+4917099887766' }).length === 1);
    expect(network.deliveries({ to: '+4917099887766' })[0]).toMatchObject({ from: sim.msisdn, text: 'Hello from the driver' });

    const long = `${'The quick brown fox jumps over the lazy dog. '.repeat(4)}END`;
    emulated.injectSms({ from: '+4917011111111', text: 'single part' });
    emulated.injectSms({ from: '+4917022222222', text: long, order: 'reverse', referenceBits: 16 });
    emulated.injectSms({ from: '+4917033333333', text: 'Grüße aus Köln – ж' });
    await eventually(() => pool.pendingInbound().length === 3);
    expect(pool.pendingInbound().map((m) => [m.from, m.text, m.parts])).toEqual([
      ['+4917011111111', 'single part', 1],
      ['+4917022222222', long, 2],
      ['+4917033333333', 'Grüße aus Köln – ж', 1],
    ]);
    await eventually(() => emulated.messages().length === 0);
  }, 60_000);

  it('recovers when the pty disappears and comes back, and sends again', async () => {
    const { emulated, served, modem, pool, network } = await setup();
    const trail: string[] = [];
    modem.onEvent((e) => {
      if (e.type === 'state' || e.type === 'recovery') trail.push(JSON.stringify(e));
    });
    await pool.start();
    await served.unplug();
    await eventually(() => modem.state === 'recovering', 15_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await served.replug();
    await eventually(() => modem.state === 'ready', 60_000);
    const id = pool.enqueue('+4917099887766', 'after replug');
    await eventually(() => pool.message(id)?.state === 'sent', 30_000).catch((error: unknown) => {
      throw new Error(`${String(error)}; modem events: ${trail.join(' ')}; last error: ${modem.health.lastError ?? ''}`);
    });
    await eventually(() => network.deliveries({ to: '+4917099887766' }).length === 1);
    expect(emulated.invocations('+CMGS')).toBe(1);
  }, 120_000);
});
