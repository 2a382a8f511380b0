import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, execArgvFor, moduleBeside, packagePath, packageVersion } from '../../shared/package.ts';

describe('the package the code runs from', () => {
  it('finds its root, its version and the files beside the code', () => {
    expect(packageVersion()).toBe((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    expect(existsSync(packagePath('hw-profiles', 'profiles', 'sim.json'))).toBe(true);
  });

  it('names a sibling module in the form its caller runs from, and the loader only a source needs', () => {
    expect(moduleBeside('file:///opt/hsm/hw-profiles/sim/devices-processes.ts', 'device-process')).toBe('/opt/hsm/hw-profiles/sim/device-process.ts');
    expect(moduleBeside('file:///opt/hsm/dist/hw-profiles/sim/devices-processes.js', 'device-process')).toBe('/opt/hsm/dist/hw-profiles/sim/device-process.js');
    expect(execArgvFor('/opt/hsm/dist/hw-profiles/sim/device-process.js')).toEqual([]);
    expect(execArgvFor('/opt/hsm/hw-profiles/sim/device-process.ts')).toEqual(['--import', expect.stringMatching(/\/node_modules\/tsx\//)]);
  });
});
