/**
 * The ARM slice's common part: an emulated ARM install (the bench's runner over
 * scripts/pi/emulate.sh), the probe of its native packages (probes/bindings.mjs), and the
 * checks every architecture passes: lmdb through a SIGKILL, msgpackr round trips, serialport
 * over a socat pty, each with the ARM build of its addon mapped in the process.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSerialPort } from '../../shared/port.ts';
import { SeededRandom } from '../../shared/random.ts';
import { createPtyPair } from '../../hw-profiles/sim/uart/pty-pair.ts';
import { HsmProcess, emulatedRunner, type EmulatedArch, type Runner } from '../../scripts/bench/processes.ts';
import { osTool, type OsTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const PROBE = new URL('./probes/bindings.mjs', import.meta.url).pathname;

/** qemu-user for the architecture (Debian's qemu-user-static). */
export function qemuFor(arch: EmulatedArch): OsTool {
  return osTool(arch === 'arm64' ? 'qemu-aarch64-static' : 'qemu-arm-static', 'qemu-user-static');
}

/** Node's directory name for the architecture's prebuilt addons (`linux-arm64`, `linux-arm`). */
export function nodeArch(arch: EmulatedArch): string {
  return arch === 'arm64' ? 'arm64' : 'arm';
}

/** Sets up the emulated install once for the file (fetch and npm ci by the ARM node, cached). */
export function useEmulated(arch: EmulatedArch): () => Runner {
  let runner: Runner | undefined;
  beforeAll(async () => {
    runner = await emulatedRunner(arch);
  });
  return () => {
    if (runner === undefined) throw new Error('the emulated install is not set up');
    return runner;
  };
}

/** Starts the probe in the install (copied there, so it resolves the install's own packages). */
export function startProbe(runner: Runner, args: string[]): HsmProcess {
  const script = join(runner.root, 'arm-probe.mjs');
  copyFileSync(PROBE, script);
  return new HsmProcess(runner, [runner.root, ...args], { script });
}

/** Runs the probe to its end: its JSON lines, merged. */
export async function runProbe(runner: Runner, args: string[]): Promise<Record<string, any>> {
  const probe = startProbe(runner, args);
  const code = await probe.exited;
  expect(code, probe.output()).toBe(0);
  const lines = probe.output().split('\n').filter((l) => l.startsWith('{'));
  return Object.assign({}, ...lines.map((l) => JSON.parse(l) as Record<string, unknown>));
}

/** The bindings checks, on an emulated install of `arch`. */
export function bindingsSuite(arch: EmulatedArch, runner: () => Runner): void {
  const addons = nodeArch(arch);
  const socat = osTool('socat', 'socat');

  describe(`native packages installed by the ${arch} node`, () => {
    it(`npm ci by the ${arch} node installed the ${arch} builds of lmdb and msgpackr-extract, and only those`, () => {
      const run = spawnSync(runner().node, ['-p', 'process.arch'], { env: runner().env, encoding: 'utf8' });
      expect(run.stdout.trim(), run.stderr).toBe(addons);
      expect(readdirSync(join(runner().root, 'node_modules', '@lmdb'))).toEqual([`lmdb-linux-${addons}`]);
      expect(readdirSync(join(runner().root, 'node_modules', '@msgpackr-extract'))).toEqual([`msgpackr-extract-linux-${addons}`]);
      // A production install: the development tools are not there.
      for (const devOnly of ['tsx', 'esbuild', 'typescript', 'vitest', 'bitcoinjs-lib']) expect(existsSync(join(runner().root, 'node_modules', devOnly)), devOnly).toBe(false);
    });

    it('lmdb: every transaction reported committed survives a SIGKILL, whole and audited', async () => {
      const dir = join(tempDir('hsm-arm-store-'), 'store');
      const writer = startProbe(runner(), ['store-writer', dir]);
      const committed = (): number => Math.max(0, ...[...writer.output().matchAll(/^committed (\d+)$/gm)].map((m) => Number(m[1])));
      // Some commits, then the power cut in the middle of the next ones.
      await writer.line((line) => line.startsWith('committed ') && committed() >= 5, 'five commits', 20 * 60_000);
      writer.child.kill('SIGKILL');
      await writer.exited;
      const reported = committed();
      const check = await runProbe(runner(), ['store-check', dir]);
      expect(check.committed).toBeGreaterThanOrEqual(reported);
      expect(check).toMatchObject({ bad: [], beyond: 0, auditProblems: [] });
      expect(check.auditEntries).toBeGreaterThanOrEqual(check.committed);
      expect(check.arch).toBe(addons);
      expect(check.natives.filter((n: string) => n.startsWith(`@lmdb/lmdb-linux-${addons}/`) && n.includes('.glibc.')), check.natives.join(', ')).toHaveLength(1);
    });

    it('msgpackr: 200 round trips through its native string extractor', async () => {
      const result = await runProbe(runner(), ['msgpack', `arm-${arch}`]);
      expect(result).toMatchObject({ roundTrips: 200, native: true, arch: addons });
      expect(result.natives.filter((n: string) => n.startsWith(`@msgpackr-extract/msgpackr-extract-linux-${addons}/`) && n.includes('.glibc.')), result.natives.join(', ')).toHaveLength(1);
    });

    it.skipIf(!socat.available)('serialport: 4 KiB each way over a socat pty', async () => {
      const dir = tempDir('hsm-arm-pty-');
      const pair = await createPtyPair({ linkA: join(dir, 'arm'), linkB: join(dir, 'host') });
      const sent = new SeededRandom(`serial-${arch}`).bytes(4096);
      try {
        const echo = startProbe(runner(), ['serial-echo', pair.pathA, String(sent.length)]);
        await echo.line((line) => line.includes('"open"'), 'the ARM side to open its port', 20 * 60_000);
        const host = await openSerialPort({ path: pair.pathB, baudRate: 115200 });
        const received: number[] = [];
        const done = new Promise<void>((resolve) =>
          host.onData((chunk) => {
            received.push(...chunk);
            if (received.length >= sent.length) resolve();
          }),
        );
        host.write(sent);
        await done;
        await host.close();
        expect(await echo.exited, echo.output()).toBe(0);
        expect(Uint8Array.from(received)).toEqual(sent.map((b) => b ^ 0xff));
        const natives = echo.output().split('\n').filter((l) => l.includes('"natives"')).map((l) => JSON.parse(l) as { natives: string[] })[0]?.natives ?? [];
        expect(natives).toContain(`@serialport/bindings-cpp/prebuilds/linux-${addons}/@serialport+bindings-cpp.${arch === 'arm64' ? 'armv8' : 'armv7'}.glibc.node`);
      } finally {
        await pair.close();
      }
    });
  });
}
