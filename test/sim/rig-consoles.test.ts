/**
 * The rig serves both devices' consoles on ptys listed in its ready information; an operator
 * logs in with the password the rig set from the world seed, over the real serialport bindings.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { consolePassword } from '../../hw-profiles/sim/rig-consoles.ts';
import type { Rig } from '../../hw-profiles/sim/rig.ts';
import { SerialTerminal } from '../helpers/serial-terminal.ts';
import { tempDir } from '../helpers/temp.ts';
import { testRig } from './rig-helpers.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function login(rig: Rig, name: 'hot' | 'cold'): Promise<SerialTerminal> {
  const term = await SerialTerminal.open(rig.ready.consoles[name] as string);
  cleanups.push(() => term.close());
  term.line('');
  await term.waitFor(new RegExp(`hsm-${name}\\(running/link:up\\)> $`));
  term.line('login');
  await term.waitFor('password: ');
  term.line(rig.ready.consolePassword as string);
  await term.waitFor(new RegExp(`logged in\\n(?:.*\\n)?hsm-${name}\\(running/link:up\\)\\$ $`));
  return term;
}

describe('the rig serves both consoles', () => {
  it.each([
    ['in one process', false],
    ['as separate processes, each serving its own', true],
  ])('%s: lists the console ptys and the operator password; login, status and link work on both; stop closes them', async (_how, processes) => {
    const rig = await testRig({ seed: 'consoles', stateDir: tempDir('rig-consoles-'), processes });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await rig.stop();
    });
    expect(rig.ready.consoles).toEqual({ hot: `${rig.ready.stateDir}/consoles/hot`, cold: `${rig.ready.stateDir}/consoles/cold` });
    expect(rig.ready.consolePassword).toBe(consolePassword('consoles'));
    expect(rig.ready.consolePassword).toMatch(/^[0-9a-f]{16}$/);

    const hot = await login(rig, 'hot');
    hot.line('status');
    const hotStatus = await hot.waitFor(/node +\d+\.\d+\.\d+\nhsm-hot\(running\/link:up\)\$ $/);
    expect(hotStatus).toMatch(/device +hsm-hot\nstate +running \{link:active\.up, host:listening\}/);
    expect(hotStatus).toMatch(new RegExp(`identity +${rig.ready.hostApi.identity}\\n`));
    expect(hotStatus).toMatch(new RegExp(`host API +${rig.ready.hostApi.url}\\n`));
    hot.line('link');
    const hotLink = await hot.waitFor(/outbox +\d+\nhsm-hot\(running\/link:up\)\$ $/);
    expect(hotLink).toMatch(/state +up\n/);
    expect(hotLink).toMatch(new RegExp(`peer identity +${rig.devices.coldIdentity}\\n`));

    const cold = await login(rig, 'cold');
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

    await hot.close();
    await cold.close();
    await rig.stop();
    stopped = true;
    expect(existsSync(rig.ready.consoles.hot as string)).toBe(false);
    expect(existsSync(rig.ready.consoles.cold as string)).toBe(false);
  }, 300_000);
});
