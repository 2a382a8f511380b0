/**
 * Console conformance at the port level: the operator console's serial line carries text both
 * ways intact (CR/LF, UTF-8, long lines), the device's end is held exclusively, and the
 * terminal's end may come and go while the device keeps its end open. Run over a socat pty
 * pair (the simulated console) and over the line HSM_TEST_CONSOLE names: the device's port, then
 * the port a terminal would use at the other end of the cable (or the USB gadget's host side).
 *
 *   HSM_TEST_CONSOLE=/dev/ttyGS0,/dev/ttyACM0 npx vitest run test/hardware/console.test.ts
 *
 * The console itself (shared/console) plugs into runDevice's `attachConsole`; once it is there
 * this suite drives a login over the same line.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openSerialPort, type Port } from '../../shared/port.ts';
import { emulatedLine, hardwareTarget, realLine, skipUnlessDevice, type Line, type Target } from './target.ts';

const real = hardwareTarget('HSM_TEST_CONSOLE', "the console's two ends: the device's port, then the terminal's, e.g. /dev/ttyGS0,/dev/ttyACM0", { min: 2, max: 2 });

const emulated = emulatedLine(['console', 'console-terminal']);
const device = realLine(real, 'HSM_TEST_CONSOLE_BAUD');

function text(port: Port, until: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const off = port.onData((chunk) => {
      got += Buffer.from(chunk).toString('utf8');
      if (got.includes(until)) {
        off();
        resolve(got);
      }
    });
  });
}

function conformance(name: string, target: Target<Line>): void {
  describe(name, () => {
    let line: Promise<Line> | undefined;
    const ports: Port[] = [];
    const open = async (path: string, baudRate: number): Promise<Port> => {
      const port = await openSerialPort({ path, baudRate });
      ports.push(port);
      return port;
    };
    afterAll(async () => {
      for (const p of ports) await p.close().catch(() => undefined);
      if (line !== undefined) await (await line).close();
    });

    it("the device's end is its alone: a second open is refused", async (ctx) => {
      skipUnlessDevice(ctx, target);
      const l = await (line ??= target.open());
      const first = await open(l.a, l.baudRate);
      await expect(openSerialPort({ path: l.a, baudRate: l.baudRate })).rejects.toMatchObject({ code: 'PORT_OPEN' });
      await first.close();
    });

    it('carries lines both ways intact: CR LF, UTF-8, a 4 KiB line', async (ctx) => {
      skipUnlessDevice(ctx, target);
      const l = await (line ??= target.open());
      const dev = await open(l.a, l.baudRate);
      const term = await open(l.b, l.baudRate);
      const prompt = 'hsm-cold login: ';
      const atTerminal = text(term, prompt);
      dev.write(Buffer.from(`\r\nHSM-Cold console — Grüße, ж\r\n${prompt}`, 'utf8'));
      expect(await atTerminal).toBe(`\r\nHSM-Cold console — Grüße, ж\r\n${prompt}`);
      const long = `${'status '.repeat(585)}END`;
      const atDevice = text(dev, 'END\r');
      term.write(Buffer.from(`${long}\r`, 'utf8'));
      expect(await atDevice).toBe(`${long}\r`);
      await term.close();
      await dev.close();
    });

    it("the terminal's end can go and come back while the device keeps its end open", async (ctx) => {
      skipUnlessDevice(ctx, target);
      const l = await (line ??= target.open());
      const dev = await open(l.a, l.baudRate);
      const term = await open(l.b, l.baudRate);
      await term.close();
      expect(dev.isOpen).toBe(true);
      const again = await open(l.b, l.baudRate);
      const got = text(again, 'still here');
      dev.write(Buffer.from('still here'));
      expect(await got).toBe('still here');
    });
  });
}

conformance('console conformance: a socat pty pair', emulated);
conformance('console conformance: the line HSM_TEST_CONSOLE names', device);
