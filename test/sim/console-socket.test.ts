/**
 * A console on a Unix socket, the way in that needs nothing outside npm: a fresh session per
 * terminal; input that ends (a script's pipe) is answered in full before the console hangs up;
 * a socket left by a killed run is replaced, anything else at the path is refused; a path too
 * long for a socket address still works; closing removes what was made.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serveConsoleOnSocket, type ServedConsoleSocket } from '../../hw-profiles/sim/console-socket.ts';
import { SimulatedClock } from '../../shared/clock.ts';
import type { CommandSpec } from '../../shared/console/registry.ts';
import { CONSOLE_COLLECTIONS } from '../../shared/console/serve.ts';
import { SeededRandom } from '../../shared/random.ts';
import { DeviceStore } from '../../shared/store/store.ts';
import { SerialTerminal } from '../helpers/serial-terminal.ts';
import { tempDir } from '../helpers/temp.ts';
import { FAST_CONSOLE_KDF } from '../console/harness.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(path: string): Promise<ServedConsoleSocket> {
  const clock = new SimulatedClock({ start: Date.UTC(2026, 2, 10, 8) });
  const store = DeviceStore.open(tempDir('console-socket-store-'), { app: 'test', schemaVersion: 1, clock, collections: [...CONSOLE_COLLECTIONS] });
  cleanups.push(() => store.close());
  // A command that takes a while, as a login's key derivation does.
  const slow: CommandSpec = {
    path: 'slow',
    summary: 'answers after a while',
    access: 'public',
    run: async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      ctx.out.line('slow answer');
    },
  };
  const served = await serveConsoleOnSocket(path, { clock, random: new SeededRandom('console-socket'), store, host: { name: 'hsm-test', state: () => 'running' }, commands: [slow], kdf: FAST_CONSOLE_KDF });
  cleanups.push(() => served.close());
  return served;
}

/** Sends `input`, ends the input, and collects everything until the console hangs up. */
function script(path: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path, allowHalfOpen: true });
    let output = '';
    socket.on('data', (d: Buffer) => (output += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(output.replace(/\r\n/g, '\n')));
    socket.end(input);
  });
}

describe('a console on a Unix socket', () => {
  it('answers everything a script sent before it hangs up, in a fresh session each time', async () => {
    const path = join(tempDir('console-socket-'), 'test.sock');
    await serve(path);
    const first = await script(path, 'help\nslow\nwhoami\n');
    expect(first).toMatch(/^hsm-test diagnostics console\n/);
    expect(first).toMatch(/login +/);
    expect(first).toMatch(/slow answer\nerror: whoami needs a login/);
    expect(first).toMatch(/hsm-test\(running\)> $/);
    expect(await script(path, 'whoami\n')).toMatch(/^hsm-test diagnostics console\n[\s\S]*whoami\nerror: whoami needs a login/);
  });

  it('replaces a socket a killed run left, refuses to replace anything else, and removes its socket when closed', async () => {
    const dir = tempDir('console-socket-');
    const path = join(dir, 'test.sock');
    // A run killed while it listened: the socket file stays, nobody answers on it.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const served = await serve(path);
    expect(await script(path, 'whoami\n')).toContain('whoami needs a login');
    await served.close();
    expect(existsSync(path)).toBe(false);

    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    await expect(serve(join(dir, 'notes.txt'))).rejects.toMatchObject({ code: 'CONSOLE_SOCKET', field: 'console' });
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('works at a path too long for a socket address, through a link to a short one', async () => {
    const deep = join(tempDir('console-socket-'), 'a-state-directory-with-a-long-name'.repeat(3), 'consoles');
    mkdirSync(deep, { recursive: true });
    const path = join(deep, 'hot.sock');
    expect(Buffer.byteLength(path)).toBeGreaterThan(108);
    const served = await serve(path);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    const target = readlinkSync(path);
    const term = await SerialTerminal.connect(path);
    cleanups.push(() => term.close());
    term.line('whoami');
    expect(await term.waitFor(/whoami needs a login/)).toContain('whoami');
    await term.close();
    await served.close();
    expect(existsSync(path)).toBe(false);
    expect(existsSync(dirname(target))).toBe(false);
  });
});
