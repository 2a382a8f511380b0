/**
 * Conformance: HSM-Hot's console on a socat pty with the real serialport bindings, used from
 * picocom inside tmux as an operator would. HSM-Hot runs against the HSM-Cold stand-in; after
 * setting up, its clock follows real time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hotConsole } from '../../hsm-hot/console-commands.ts';
import { serveConsoleOnPty } from '../../hw-profiles/sim/console-pty.ts';
import { HotRig } from '../hot/rig.ts';
import { PIN, PLATFORM } from '../hot/wallet-fixture.ts';
import { tempDir } from '../helpers/temp.ts';
import { enrolOperator, totpCode } from './operator-driver.ts';
import { FAST_CONSOLE_KDF, PASSWORD } from './harness.ts';
import { TmuxTerminal, terminalTools } from './tmux-terminal.ts';

const picocom = terminalTools('picocom');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(!picocom.available)('HSM-Hot console from a real terminal program over a pty', () => {
  it('picocom: login, status, link, api-keys, lock with a TOTP code, unlock with the PIN, logout', async () => {
    const dir = tempDir('hot-tty-');
    const rig = await HotRig.create();
    cleanups.push(() => rig.close());
    await rig.until(() => rig.hot.linkUp);
    const random = rig.random.fork('console');
    const { host, commands } = hotConsole(rig.hot, { random });
    const pty = await serveConsoleOnPty({ dir, name: 'hot-console', clock: rig.clock, random, store: rig.hot.store, host, commands, kdf: FAST_CONSOLE_KDF });
    cleanups.push(() => pty.close());
    const secret = await enrolOperator(pty.server.credentials, rig.clock, random);
    await rig.clock.advance(30_000 - (rig.clock.now() % 30_000));
    cleanups.push(rig.clock.runScaled(1));

    const term = TmuxTerminal.start(dir, ['picocom', '-b', '115200', '-q', pty.terminalPath]);
    cleanups.push(() => term.close());
    term.line('');
    await term.waitFor('hsm-hot(running/link:up)>');
    term.line('login');
    await term.waitFor(/challenge [0-9a-f]{32} {2}\(scrypt N=1024 r=8 p=1 salt=[0-9a-f]{32}\)\npassword:/);
    term.line(PASSWORD);
    await term.waitFor('logged in\nhsm-hot(running/link:up)$');

    term.line('status');
    const status = await term.waitFor(/node +\d+\.\d+\.\d+\nhsm-hot\(running\/link:up\)\$/);
    expect(status).toMatch(/\$ status\ndevice +hsm-hot\nstate +running \{link:active\.up, host:listening\}/);
    term.line('link');
    expect(await term.waitFor(/outbox +\d+\nhsm-hot\(running\/link:up\)\$/)).toMatch(/\$ link\nstate +up\n/);
    term.line('api-keys');
    expect(await term.waitFor(/\$ api-keys\nkey +label +scopes +registered\n[^\n]+\n[^\n]+\nhsm-hot\(running\/link:up\)\$/)).toContain(PLATFORM.publicKey);

    term.line('lock');
    await term.waitFor('2FA code:');
    term.line(totpCode(secret, rig.clock.now()));
    await term.waitFor('locked; HSM-Hot is locked\nhsm-hot(locked)$');
    expect(rig.hot.state).toBe('locked');

    // A code works once per 30-second step: move the world to the next step for a fresh one.
    await rig.clock.advance(30_000 - (rig.clock.now() % 30_000));
    term.line('unlock');
    await term.waitFor('2FA code:');
    term.line(totpCode(secret, rig.clock.now()));
    await term.waitFor('device PIN:');
    term.line(PIN);
    await term.waitFor(/unlocked; HSM-Hot is running\nhsm-hot\(running\/link:(up|down)\)\$/);

    term.line('logout');
    const end = await term.waitFor(/logged out\nhsm-hot\(running\/link:(up|down)\)>/);
    expect(end).not.toContain(PASSWORD);
    expect(term.screen()).not.toContain(PIN);
    expect(pty.server.session.loggedIn).toBe(false);
    term.press('C-a', 'C-x');
  });
});
