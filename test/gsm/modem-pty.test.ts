/**
 * The emulated modem on a real pty: what it prints unasked while no program holds the port is
 * lost, as a UART's output is, instead of waiting in the pty for the next program.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../shared/clock.ts';
import { openSerialPort, type Port } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { EmulatedModem } from '../../hw-profiles/sim/gsm/emulated-modem.ts';
import { serveModemOnPty } from '../../hw-profiles/sim/gsm/modem-pty.ts';
import { SimulatedGsmNetwork, defaultCarriers } from '../../hw-profiles/sim/gsm/network.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const socat = osTool('socat', 'socat');
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** Collects what arrives on `port`; `until` waits for a pattern. */
function reader(port: Port): { text: () => string; until: (pattern: RegExp, timeoutMs?: number) => Promise<string> } {
  let text = '';
  port.onData((chunk) => (text += Buffer.from(chunk).toString('latin1')));
  return {
    text: () => text,
    async until(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(text)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return text;
    },
  };
}

describe.skipIf(!socat.available)('the emulated modem on a pty', () => {
  it('drops URCs while no program holds the port, and prints them while one does', async () => {
    const clock = new RealClock();
    const network = new SimulatedGsmNetwork({ clock, carriers: defaultCarriers(), random: new SeededRandom('modem-pty') });
    cleanups.push(async () => network.stop());
    const sim = network.issueSim({ carrierId: 'A', msisdn: '+4917000000001' });
    const modem = new EmulatedModem({ clock, network, sim, profile: 'default', random: new SeededRandom('modem-pty/modem') });
    const path = join(tempDir(), 'ttyUSB0');
    const served = await serveModemOnPty(modem, path);
    cleanups.push(() => served.close());

    expect(modem.injectSms({ from: '+4917011', text: 'while nobody listens' })).toEqual([1]);
    const first = await openSerialPort({ path, baudRate: 115_200 });
    const out = reader(first);
    first.write(Buffer.from('AT\r'));
    expect(await out.until(/OK\r\n$/)).toBe('AT\r\r\nOK\r\n');

    expect(modem.injectSms({ from: '+4917011', text: 'while someone listens' })).toEqual([2]);
    expect(await out.until(/\+CMTI: "SM",2\r\n$/)).toBe('AT\r\r\nOK\r\n\r\n+CMTI: "SM",2\r\n');
    await first.close();

    modem.injectSms({ from: '+4917011', text: 'after the port closed' });
    const second = await openSerialPort({ path, baudRate: 115_200 });
    cleanups.push(() => second.close());
    const again = reader(second);
    second.write(Buffer.from('AT+CPMS?\r'));
    expect(await again.until(/OK\r\n$/)).toBe('AT+CPMS?\r\r\n+CPMS: "SM",3,30,"SM",3,30,"SM",3,30\r\n\r\nOK\r\n');
  }, 60_000);
});
