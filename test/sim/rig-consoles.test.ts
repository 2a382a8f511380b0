/**
 * The rig serves both devices' consoles, listed in its ready information: always on Unix
 * sockets (nothing outside npm needed), and on ptys with the real serialport bindings when
 * socat is installed. An operator logs in with the password the rig set from the world seed,
 * by either way in; a socket takes one terminal at a time; stop closes them all.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { consolePassword } from '../../hw-profiles/sim/rig-consoles.ts';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { osTool } from '../helpers/os-tools.ts';
import { SerialTerminal } from '../helpers/serial-terminal.ts';
import { tempDir } from '../helpers/temp.ts';
import { testRig } from './rig-helpers.ts';

/** The ptys, and the device processes' ports, come from socat. */
const socat = osTool('socat', 'socat');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startRig(processes: boolean): Promise<{ rig: Rig; stop: () => Promise<void> }> {
  const rig = await testRig({ seed: 'consoles', stateDir: tempDir('rig-consoles-'), processes });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) await rig.stop();
    stopped = true;
  };
  cleanups.push(stop);
  return { rig, stop };
}

/** A terminal on the console's socket once the previous one has let go of it. */
async function connectWhenFree(path: string): Promise<SerialTerminal> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const term = await SerialTerminal.connect(path);
    cleanups.push(() => term.close());
    term.line('');
    if (!(await term.waitFor(/in use by another terminal|[>$] $/)).includes('in use') || Date.now() > deadline) return term;
    await term.close();
  }
}

async function login(rig: Rig, name: 'hot' | 'cold', way: 'socket' | 'pty'): Promise<SerialTerminal> {
  const term = way === 'socket' ? await connectWhenFree(rig.ready.consoleSockets[name] as string) : await SerialTerminal.open(rig.ready.consoles[name] as string);
  cleanups.push(() => term.close());
  term.line('');
  await term.waitFor(new RegExp(`hsm-${name}\\(running/link:up\\)> $`));
  term.line('login');
  await term.waitFor('password: ');
  term.line(rig.ready.consolePassword as string);
  await term.waitFor(new RegExp(`logged in\\n(?:.*\\n)?hsm-${name}\\(running/link:up\\)\\$ $`));
  return term;
}

/** Login, status and link on both devices, and no secret on either screen. */
async function operate(rig: Rig, way: 'socket' | 'pty'): Promise<void> {
  const hot = await login(rig, 'hot', way);
  hot.line('status');
  const hotStatus = await hot.waitFor(/node +\d+\.\d+\.\d+\nhsm-hot\(running\/link:up\)\$ $/);
  expect(hotStatus).toMatch(/device +hsm-hot\nstate +running \{link:active\.up, host:listening\}/);
  expect(hotStatus).toMatch(new RegExp(`identity +${rig.ready.hostApi.identity}\\n`));
  expect(hotStatus).toMatch(new RegExp(`host API +${rig.ready.hostApi.url}\\n`));
  hot.line('link');
  const hotLink = await hot.waitFor(/outbox +\d+\nhsm-hot\(running\/link:up\)\$ $/);
  expect(hotLink).toMatch(/state +up\n/);
  expect(hotLink).toMatch(new RegExp(`peer identity +${rig.devices.coldIdentity}\\n`));

  const cold = await login(rig, 'cold', way);
  // The modems come up on their own time: wait for the state, never assume it.
  await rig.waitFor(() => /"modems":"usable"/.test(rig.devices.states().cold), 'HSM-Cold with usable modems');
  cold.line('status');
  const coldStatus = await cold.waitFor(/node +\d+\.\d+\.\d+\nhsm-cold\(running\/link:up\)\$ $/);
  expect(coldStatus).toMatch(/device +hsm-cold\nstate +running \{link:up, modems:usable/);
  cold.line('link');
  const coldLink = await cold.waitFor(/outbox +\d+\nhsm-cold\(running\/link:up\)\$ $/);
  expect(coldLink).toMatch(new RegExp(`peer identity +${rig.ready.hostApi.identity}\\n`));
  cold.line('modem');
  expect(await cold.waitFor(/outbound queue: .*\nhsm-cold/)).toMatch(/sim1 +ready +home network/);

  for (const screen of [hot.screen(), cold.screen()]) {
    for (const secret of [rig.ready.consolePassword as string, rig.keys.hotPin, rig.keys.coldPin, rig.keys.hotMnemonic.split(' ').slice(0, 3).join(' '), rig.keys.coldMnemonic.split(' ').slice(0, 3).join(' ')]) {
      expect(screen).not.toContain(secret);
    }
  }
  await logout(hot, 'hot');
  await logout(cold, 'cold');
}

/** Logging out leaves the console as it was found (a pty's session outlives its terminal). */
async function logout(term: SerialTerminal, name: 'hot' | 'cold'): Promise<void> {
  term.line('logout');
  await term.waitFor(new RegExp(`logged out\\n(?:.*\\n)*hsm-${name}\\(running/link:up\\)> $`));
  await term.close();
}

/** Each device's own console answers `status` on this way in. */
async function reach(rig: Rig, way: 'socket' | 'pty'): Promise<void> {
  for (const name of ['hot', 'cold'] as const) {
    const term = await login(rig, name, way);
    term.line('status');
    expect(await term.waitFor(new RegExp(`node +\\d+\\.\\d+\\.\\d+\\nhsm-${name}\\(running/link:up\\)\\$ $`))).toMatch(new RegExp(`device +hsm-${name}\\nstate +running `));
    await logout(term, name);
  }
}

function expectSockets(rig: Rig): void {
  expect(rig.ready.consoleSockets).toEqual({ hot: `${rig.ready.stateDir}/consoles/hot.sock`, cold: `${rig.ready.stateDir}/consoles/cold.sock` });
  expect(rig.ready.consolePassword).toBe(consolePassword('consoles'));
  expect(rig.ready.consolePassword).toMatch(/^[0-9a-f]{16}$/);
}

describe('the rig serves both consoles', () => {
  it('in one process: on sockets (ptys too when socat is installed); login, status and link work; one terminal per socket; stop removes them', async () => {
    const { rig, stop } = await startRig(false);
    expectSockets(rig);
    expect(rig.ready.consoles).toEqual(socat.available ? { hot: `${rig.ready.stateDir}/consoles/hot`, cold: `${rig.ready.stateDir}/consoles/cold` } : {});
    await operate(rig, 'socket');

    // Like a serial line, a socket takes one terminal at a time; the next gets the line back.
    const first = await connectWhenFree(rig.ready.consoleSockets.hot as string);
    const second = await SerialTerminal.connect(rig.ready.consoleSockets.hot as string);
    cleanups.push(() => second.close());
    await second.waitFor('the hsm-hot console is in use by another terminal');
    await first.close();
    await login(rig, 'hot', 'socket');

    await stop();
    for (const path of [...Object.values(rig.ready.consoleSockets), ...Object.values(rig.ready.consoles)]) expect(existsSync(path), path).toBe(false);
  }, 300_000);

  it.skipIf(!socat.available)('in one process, on the ptys with the real serialport bindings: login, status and link work on both', async () => {
    const { rig } = await startRig(false);
    await operate(rig, 'pty');
  }, 300_000);

  it.skipIf(!socat.available)('as separate processes, each serving its own on its pty, the sockets in front: login, status and link work both ways in', async () => {
    const { rig, stop } = await startRig(true);
    expectSockets(rig);
    expect(rig.ready.consoles).toEqual({ hot: `${rig.ready.stateDir}/consoles/hot`, cold: `${rig.ready.stateDir}/consoles/cold` });
    await operate(rig, 'pty');
    await reach(rig, 'socket');
    await stop();
    for (const path of [...Object.values(rig.ready.consoleSockets), ...Object.values(rig.ready.consoles)]) expect(existsSync(path), path).toBe(false);
  }, 300_000);
});
