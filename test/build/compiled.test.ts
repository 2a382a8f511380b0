/**
 * The compiled code (`npm run build` → dist/, what `npm ci` produces and a device runs): plain
 * node runs the CLI and the device processes it starts, with neither tsx nor esbuild loaded or
 * started in any process, and nothing at run time comes from outside the production
 * dependencies. The build runs first, so what is checked is the current sources compiled.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_NODE_FLAGS } from '../../shared/package.ts';
import { osTool } from '../helpers/os-tools.ts';
import { tempDir } from '../helpers/temp.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const HSM = join(ROOT, 'bin/hsm.mjs');
const DIST = join(ROOT, 'dist');
const TRACE = new URL('../helpers/trace-node.mjs', import.meta.url).pathname;
const socat = osTool('socat', 'socat');

interface TraceLine {
  pid: number;
  module?: string;
  spawn?: string;
  call?: string;
  args?: string[];
  execArgv?: string[] | null;
}

/** Runs compiled `hsm <args>` with every node process traced; `until` says when to stop it. */
async function tracedHsm(args: string[], until?: (line: string) => boolean): Promise<{ code: number | null; output: string; trace: TraceLine[] }> {
  const traceFile = join(tempDir('hsm-trace-'), 'trace.jsonl');
  const { HSM_RUN_SOURCES: _sources, ...env } = process.env;
  const child = spawn(process.execPath, [HSM, ...args], {
    env: { ...env, HSM_TRACE_FILE: traceFile, NODE_OPTIONS: `--import=${TRACE} ${env.NODE_OPTIONS ?? ''}`.trim(), NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    output += `${line}\n`;
    if (until?.(line) === true) child.kill('SIGTERM');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const trace = readFileSync(traceFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TraceLine);
  return { code, output, trace };
}

/** What must never show up at run time: the TypeScript loader, esbuild, or a TypeScript source. */
function checkPlainNode(trace: TraceLine[]): void {
  const modules = trace.flatMap((t) => (t.module === undefined ? [] : [t.module]));
  expect(modules.length).toBeGreaterThan(0);
  expect(modules.filter((m) => /\/node_modules\/(tsx|esbuild|@esbuild)\//.test(m))).toEqual([]);
  expect(modules.filter((m) => /\.[cm]?ts$/.test(m))).toEqual([]);
  // Our own modules all come from dist/.
  const own = modules.filter((m) => m.includes(ROOT) && !m.includes('/node_modules/') && !m.includes('/test/helpers/trace-'));
  expect(own.filter((m) => !m.includes(`${ROOT}dist/`) && !m.endsWith('/bin/hsm.mjs'))).toEqual([]);
  for (const started of trace.filter((t) => t.spawn !== undefined)) {
    expect(started.spawn, JSON.stringify(started)).not.toMatch(/tsx|esbuild/);
    expect(started.args?.join(' ') ?? '', JSON.stringify(started)).not.toMatch(/tsx|esbuild|\.ts\b/);
    // A device process gets its V8 flags and nothing else: no loader.
    expect(started.execArgv ?? [], JSON.stringify(started)).toEqual(started.call === 'fork' ? DEVICE_NODE_FLAGS : []);
  }
}

/** The packages a compiled module imports by name (`pkg`, `@scope/pkg`). */
function importedPackages(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^import [^;]*? from |^export [^;]*? from |^import |\bimport\()\s*['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] as string)));
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
}

describe('the compiled code (dist/)', () => {
  beforeAll(() => {
    const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
  }, 300_000);

  it('hsm --help runs with node alone and loads only commander beside its own modules', async () => {
    const { code, output, trace } = await tracedHsm(['--help']);
    expect(code, output).toBe(0);
    expect(output).toContain('Commands:');
    checkPlainNode(trace);
    const packages = new Set(trace.flatMap((t) => (t.module?.includes('/node_modules/') === true ? [t.module.split('/node_modules/')[1]?.split('/')[0]] : [])));
    expect([...packages]).toEqual(['commander']);
    expect(trace.filter((t) => t.spawn !== undefined)).toEqual([]);
  });

  it.skipIf(!socat.available)('hsm hot --profile sim starts the device with node alone: no tsx, no esbuild, no TypeScript (its simulated hardware is on socat ptys)', async () => {
    const stateDir = tempDir('hsm-compiled-hot-');
    const { code, output, trace } = await tracedHsm(['hot', '--profile', 'sim', '--state-dir', stateDir], (line) => line.includes('"device started"'));
    expect(output).toContain('"device started"');
    expect(code, output).toBe(0);
    checkPlainNode(trace);
    // The device's firmware ran, from dist/.
    expect(trace.some((t) => t.module?.endsWith('/dist/hsm-hot/main.js') === true)).toBe(true);
  });

  describe.skipIf(!socat.available)('with socat', () => {
    it('hsm sim --processes forks both device processes with node alone: no loader flags, no tsx, no esbuild', async () => {
      const stateDir = join(tempDir('hsm-compiled-sim-'), 'world');
      const { code, output, trace } = await tracedHsm(['sim', '--processes', '--state-dir', stateDir], (line) => line.startsWith('READY '));
      expect(output).toContain('READY ');
      expect(code, output).toBe(0);
      checkPlainNode(trace);
      const forks = trace.filter((t) => t.call === 'fork');
      expect(forks.map((f) => relative(ROOT, f.spawn ?? ''))).toEqual(['dist/hw-profiles/sim/device-process.js', 'dist/hw-profiles/sim/device-process.js']);
      // Three node processes loaded modules: the rig and its two devices.
      expect(new Set(trace.filter((t) => t.module !== undefined).map((t) => t.pid)).size).toBe(3);
    }, 180_000);
  });

  it('imports no development dependency at run time (the bench and its oracle aside)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const devOnly = new Set(['scripts/cli/bench.js', 'scripts/bench/', 'scripts/gsm/', 'test/']);
    const offenders = jsFiles(DIST)
      .filter((file) => ![...devOnly].some((prefix) => relative(DIST, file).startsWith(prefix)))
      .flatMap((file) => importedPackages(file).filter((p) => !(p in pkg.dependencies)).map((p) => `${relative(DIST, file)}: ${p}`));
    expect(offenders).toEqual([]);
    // The check sees the imports there are.
    expect(importedPackages(join(DIST, 'scripts/hsm.js'))).toEqual(['commander']);
    expect(importedPackages(join(DIST, 'scripts/bench/crypto.js'))).toContain('@scure/bip32');
    expect(pkg.dependencies).not.toHaveProperty('tsx');
  });

  it('without a build, bin/hsm.mjs says how to make one', () => {
    const copy = tempDir('hsm-unbuilt-');
    cpSync(join(ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
    expect(existsSync(join(copy, 'dist'))).toBe(false);
    const { HSM_RUN_SOURCES: _sources, ...env } = process.env;
    const run = spawnSync(process.execPath, [join(copy, 'bin/hsm.mjs'), '--help'], { env, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('npm run build');
  });
});
