/**
 * Conformance: HSM-Cold's console on a socat pty with the real serialport bindings, used from
 * real terminal programs (picocom and tio) inside tmux, as an operator would. HSM-Cold runs in
 * the emulated world; after the world is set up its clock follows real time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { coldConsole } from '../../hsm-cold/console-commands.ts';
import { COLD_RECORDS } from '../../hsm-cold/records.ts';
import { serveConsoleOnPty, type ConsolePty } from '../../hw-profiles/sim/console-pty.ts';
import { CONSOLE_OPERATOR } from '../../shared/console/operator.ts';
import { FAST_KDF } from '../cold/fixture.ts';
import { coldWorld, type ColdWorld } from '../cold/world.ts';
import { tempDir } from '../helpers/temp.ts';
import { FAST_CONSOLE_KDF, PASSWORD } from './harness.ts';
import { enrolOperator, totpCode } from './operator-driver.ts';
import { TmuxTerminal, terminalTools } from './tmux-terminal.ts';

const picocom = terminalTools('picocom');
const tio = terminalTools('tio');

interface Setup {
  world: ColdWorld;
  pty: ConsolePty;
  secret: Uint8Array;
  stopClock: () => void;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(dir: string): Promise<Setup> {
  const world = await coldWorld();
  cleanups.push(() => world.shutdown());
  const random = world.random.fork('console');
  const { host, commands } = coldConsole(world.cold, { random, kdf: FAST_KDF });
  const pty = await serveConsoleOnPty({ dir, name: 'cold-console', clock: world.clock, random, store: world.cold.store, host, commands, kdf: FAST_CONSOLE_KDF });
  cleanups.push(() => pty.close());
  const secret = await enrolOperator(pty.server.credentials, world.clock, random);
  // Into the next TOTP step, so the code typed below is fresh; then follow real time.
  await world.clock.advance(30_000 - (world.clock.now() % 30_000));
  const stopClock = world.clock.runScaled(1);
  cleanups.push(stopClock);
  return { world, pty, secret, stopClock };
}

describe('HSM-Cold console from real terminal programs over a pty', () => {
  it.skipIf(!picocom.available)('picocom: login, status, modem, channel open-window 15 with a TOTP code, logout', async () => {
    const dir = tempDir('cold-tty-');
    const { world, pty, secret } = await setup(dir);
    const term = TmuxTerminal.start(dir, ['picocom', '-b', '115200', '-q', pty.terminalPath]);
    cleanups.push(() => term.close());

    term.line('');
    await term.waitFor('hsm-cold(running/link:up)>');
    term.line('login');
    await term.waitFor(/challenge [0-9a-f]{32} {2}\(scrypt N=1024 r=8 p=1 salt=[0-9a-f]{32}\)\npassword:/);
    term.line(PASSWORD);
    await term.waitFor('logged in\nhsm-cold(running/link:up)$');

    term.line('status');
    const status = await term.waitFor(/node {10}\d+\.\d+\.\d+\nhsm-cold\(running\/link:up\)\$/);
    expect(status).toMatch(/\$ status\ndevice {8}hsm-cold\nstate {9}running \{link:up, modems:usable/);

    term.line('modem');
    const modem = await term.waitFor(/outbound queue: \d+ queued, \d+ sending, \d+ failed\nhsm-cold/);
    expect(modem).toMatch(/sim1 +ready +home network +Carrier A/);
    expect(modem).toMatch(/sim2 +ready +home network +Carrier B/);

    term.line('channel open-window 15');
    await term.waitFor('2FA code:');
    term.line(totpCode(secret, world.clock.now()));
    const opened = await term.waitFor(/rotation window open until \d{4}-\d\d-\d\dT[\d:]+Z\nhsm-cold/);
    const until = world.cold.store.get(COLD_RECORDS.channelState, 'current')?.operatorWindowUntil;
    expect(until).toBeGreaterThan(world.clock.now() + 14 * 60_000);
    expect(opened).toContain(`rotation window open until ${new Date(until!).toISOString().replace(/\.\d{3}Z$/, 'Z')}`);

    term.line('logout');
    const end = await term.waitFor('logged out\nhsm-cold(running/link:up)>');
    expect(end).not.toContain(PASSWORD);
    expect(pty.server.session.loggedIn).toBe(false);
    // picocom's own escape: C-a C-x leaves it.
    term.press('C-a', 'C-x');
  });

  it.skipIf(!tio.available)('tio: arrow keys, backspace and ^C edit the line; brute-force logins lock the console', async () => {
    const dir = tempDir('cold-tty-');
    const { world, pty } = await setup(dir);
    const term = TmuxTerminal.start(dir, ['tio', '-b', '115200', pty.terminalPath]);
    cleanups.push(() => term.close());

    term.line('');
    await term.waitFor('hsm-cold(running/link:up)>');
    // An arrow key types nothing; backspace erases; ^C drops the line.
    term.type('hel');
    term.press('Left', 'Up', 'BSpace');
    term.type('lp');
    term.press('Enter');
    await term.waitFor('log in to see every command');
    term.type('zeroize');
    term.press('C-c');
    await term.waitFor('zeroize^C');

    for (let attempt = 1; attempt <= 5; attempt++) {
      term.line('login');
      await term.waitFor('password:');
      term.line(`guess-number-${attempt}`);
      await term.waitFor(attempt < 5 ? 'wrong password;' : 'too many failed attempts: the console is locked until');
      await world.clock.advance(16_000); // past the backoff
    }
    term.line('login');
    await term.waitFor('[CONSOLE_LOCKED_OUT]');
    const record = world.cold.store.get(CONSOLE_OPERATOR, 'operator')!;
    expect(record.lockedUntil).toBeGreaterThan(world.clock.now());
    expect(pty.server.session.loggedIn).toBe(false);
    expect(term.screen()).not.toContain('guess-number');
  });
});
