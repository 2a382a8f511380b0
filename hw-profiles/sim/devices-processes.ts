/**
 * The two HSMs as separate processes (`hsm sim --processes`): each runs the firmware through
 * `runDevice` (device-process.ts) on ptys made by socat, opened with the real serialport
 * bindings, just as on a Raspberry Pi with its UARTs and USB modems.
 *
 *   HSM-Hot ─ link-hot ═pty═ relay-hot ─┐            ┌─ relay-cold ═pty═ link-cold ─ HSM-Cold
 *                                       └─ the rig ──┘   (link noise is injected here)
 *   HSM-Cold ─ modem-sim1, modem-sim2 ═pty═ emulated modems on the rig's GSM network
 *
 * The rig's world clock leads: after every advance the devices' clocks are moved to the same
 * instant and the rig waits until both have run what fell due (process-protocol.ts). The rig
 * plays the operator over IPC as InProcessDevices does directly, and `kill` is a power cut:
 * SIGKILL, then the same device started again on the same state directory and unlocked.
 *
 * The rig supervises its devices as systemd does on a Pi (restart-policy.ts): a device process
 * that dies on its own (a crash, a `kill -9` from outside) is started again after RestartSec
 * and unlocked, within the units' start limit; each step is an event (`device.exited`,
 * `device.restarting`, `device.restarted`, `device.failed`) and `/status` shows the count.
 * A message to a device that is already gone is dropped, never an error of the rig's; and no
 * device process or socat outlives the rig (lifeline.ts).
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HsmError } from '../../shared/errors.ts';
import type { TimerHandle } from '../../shared/clock.ts';
import { createPairingFile } from '../../shared/link/pairing.ts';
import { DEVICE_NODE_FLAGS, execArgvFor, moduleBeside } from '../../shared/package.ts';
import { openSerialPort, type Port } from '../../shared/port.ts';
import type { SeededRandom } from '../../shared/random.ts';
import { loadProfile, parseProfile, type PortSpec, type Profile, type Role } from '../profile.ts';
import type { DeviceStates, DeviceSupervision, DevicesContext, RigDevices } from './devices.ts';
import { EmulatedModem } from './gsm/emulated-modem.ts';
import { serveModemOnPty, type ServedModem } from './gsm/modem-pty.ts';
import type { DeviceView } from './dashboard/device-view.ts';
import { sendToChild } from './ipc-send.ts';
import { tieDirectory, tieProcess } from './lifeline.ts';
import type { DeviceStatus, DeviceToRig, OperatorCall, RigToDevice } from './process-protocol.ts';
import { RESTART_POLICY, RestartBudget, restartsAfter } from './restart-policy.ts';
import { createPtyPair, type PtyPair } from './uart/pty-pair.ts';
import { LINK_BAUD_RATE } from './world-config.ts';

/** device-process.ts, or its compiled .js: a compiled rig starts compiled devices, with node alone. */
const DEVICE_ENTRY = moduleBeside(import.meta.url, 'device-process');
/** Real time a device gets to follow a clock step before the rig goes on without it. */
const CLOCK_ACK_LIMIT_MS = 10_000;
/** Real time a device gets to answer the dashboard's `view` request. */
const VIEW_LIMIT_MS = 5_000;
/** Real time a device gets to stop cleanly before it is killed. */
const STOP_LIMIT_MS = 15_000;
/**
 * World time moves in steps the devices follow: short ones while bytes are crossing the ptys
 * or a device waits for a modem's answer, longer ones (up to a device's next timer) once all
 * is quiet, so a device never sees a timeout the wire did not cause.
 */
const BUSY_STEP_MS = 50;
const QUIET_STEP_MS = 10_000;
const QUIET_AFTER_REAL_MS = 2;

interface DeviceProcess {
  role: Role;
  child: ChildProcess;
  status: DeviceStatus;
  exited: Promise<void>;
  alive: boolean;
  /** Set when the rig ends the process itself (a stop, a `kill` fault): no restart follows. */
  endedByRig?: boolean;
}

/** What the supervisor knows of one device (`/status`). */
interface Supervised extends DeviceSupervision {
  budget: RestartBudget;
  timer: TimerHandle | undefined;
}

export class ProcessDevices implements RigDevices {
  private readonly dir: string;
  private readonly pairs: PtyPair[] = [];
  private readonly modems: ServedModem[] = [];
  private readonly relayPorts: Port[] = [];
  private readonly procs = new Map<Role, DeviceProcess>();
  private readonly pending = new Map<number, (message: DeviceToRig) => void>();
  private nextId = 1;
  private bitFlipRate = 0;
  private lastActivity = 0;
  private readonly noise: SeededRandom;
  private profile!: Profile;
  private hostPort = 0;
  private unfollow: (() => void) | undefined;
  private stopped = false;
  /** Restarts start once the rig is up; a device failing during boot fails the boot. */
  private supervising = false;
  private readonly supervised: Record<Role, Supervised> = { hot: supervisedDevice(), cold: supervisedDevice() };
  private readonly forgetDir: () => void;

  private constructor(private readonly ctx: DevicesContext) {
    this.dir = mkdtempSync(join(tmpdir(), 'hsm-sim-ports-'));
    this.forgetDir = tieDirectory(this.dir);
    this.noise = ctx.random.fork('link-noise');
  }

  static async start(ctx: DevicesContext): Promise<ProcessDevices> {
    const devices = new ProcessDevices(ctx);
    try {
      await devices.boot();
    } catch (error) {
      await devices.stop().catch(() => undefined);
      throw error;
    }
    return devices;
  }

  /** The device processes' ids (diagnostics, and the tests that check they are separate). */
  pids(): { hot: number | undefined; cold: number | undefined } {
    const pid = (role: Role): number | undefined => (this.procs.get(role)?.alive === true ? this.procs.get(role)?.child.pid : undefined);
    return { hot: pid('hot'), cold: pid('cold') };
  }

  /** The terminal ends of the devices' consoles, which each device process serves itself. */
  consolePaths(): { hot: string; cold: string } {
    return { hot: join(this.ctx.consoles.dir, 'hot'), cold: join(this.ctx.consoles.dir, 'cold') };
  }

  /** The ptys the devices hold: their ends of the link, and HSM-Cold's two modems. */
  ports(): { linkHot: string; linkCold: string; modems: [string, string] } {
    const at = (name: string): string => join(this.dir, name);
    return { linkHot: at('link-hot'), linkCold: at('link-cold'), modems: [at('modem-sim1'), at('modem-sim2')] };
  }

  /** The same across restarts of HSM-Hot: its host API keeps the port it was given. */
  get hostUrl(): string {
    return `ws://127.0.0.1:${this.hostPort}`;
  }

  get hotIdentity(): string {
    return this.require('hot').status.identity as string;
  }

  get coldIdentity(): string {
    return this.require('cold').status.identity as string;
  }

  states(): DeviceStates {
    return { hot: this.procs.get('hot')?.status.detail ?? 'stopped', cold: this.procs.get('cold')?.status.detail ?? 'stopped' };
  }

  /** Asks the device process what the dashboard shows of it (real time, as the dashboard waits). */
  view(role: Role): Promise<DeviceView | null> {
    const proc = this.procs.get(role);
    if (proc === undefined || !proc.alive || !proc.child.connected) return Promise.resolve(null);
    return new Promise((resolve) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, VIEW_LIMIT_MS);
      void proc.exited.then(() => resolve(null));
      this.pending.set(id, (message) => {
        clearTimeout(timer);
        resolve(message.type === 'view' ? message.view : null);
      });
      proc.child.send({ type: 'view', id } satisfies RigToDevice, (error) => {
        if (error !== null) resolve(null);
      });
    });
  }

  supervision(): Record<Role, DeviceSupervision> {
    const view = ({ state, restarts, lastExit }: Supervised): DeviceSupervision => ({ state, restarts, lastExit });
    return { hot: view(this.supervised.hot), cold: view(this.supervised.cold) };
  }

  linkNoise(bitFlipRate: number): void {
    this.bitFlipRate = bitFlipRate;
  }

  unplugModem(index: 0 | 1): void {
    this.modems[index]?.unplug().catch((error: unknown) => this.ctx.log.error({ sim: index + 1, err: (error as Error).message }, 'unplugging a modem failed'));
  }

  replugModem(index: 0 | 1): void {
    this.modems[index]?.replug().catch((error: unknown) => this.ctx.log.error({ sim: index + 1, err: (error as Error).message }, 'replugging a modem failed'));
  }

  /** A power cut: the process dies at once; the same device then boots again and is unlocked. */
  async kill(device: Role): Promise<void> {
    const proc = this.require(device);
    const { state } = this.supervised[device];
    if (!proc.alive || state !== 'running') throw new HsmError('CONTROL_INPUT', `HSM-${device} is ${state === 'running' ? 'starting' : state}: there is no process to kill`, { field: 'device' });
    proc.endedByRig = true;
    proc.child.kill('SIGKILL');
    await proc.exited;
    await this.startDevice(device);
    await this.operate(device, 'resumed');
    await this.ctx.waitFor(() => this.linkUp(), 'the HSM link to come up again', 300_000);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const role of ['hot', 'cold'] as const) {
      this.ctx.clock.clearTimeout(this.supervised[role].timer);
      const proc = this.procs.get(role);
      if (proc === undefined || !proc.alive) continue;
      proc.endedByRig = true;
      if (!this.send(proc, { type: 'stop' })) proc.child.kill('SIGKILL');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), STOP_LIMIT_MS);
      await proc.exited;
      clearTimeout(timer);
    }
    this.unfollow?.();
    for (const port of this.relayPorts.splice(0)) await port.close().catch(() => undefined);
    for (const modem of this.modems.splice(0)) await modem.close().catch(() => undefined);
    for (const pair of this.pairs.splice(0)) await pair.close().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
    this.forgetDir();
  }

  // ---------------------------------------------------------------------------------------

  private async boot(): Promise<void> {
    const { clock, network, sims } = this.ctx;
    const at = (name: string): string => join(this.dir, name);
    // The link, through the rig.
    this.pairs.push(await createPtyPair({ linkA: at('link-hot'), linkB: at('relay-hot') }));
    this.pairs.push(await createPtyPair({ linkA: at('relay-cold'), linkB: at('link-cold') }));
    await this.relayLink(at('relay-hot'), at('relay-cold'));
    // The consoles: the device's end here, the terminal's end where the rig lists it.
    mkdirSync(this.ctx.consoles.dir, { recursive: true, mode: 0o700 });
    for (const [role, terminal] of Object.entries(this.consolePaths())) {
      rmSync(terminal, { force: true });
      this.pairs.push(await createPtyPair({ linkA: at(`console-${role}`), linkB: terminal }));
    }
    // HSM-Cold's modems, served on ptys; serving waits for each to boot, in world time.
    const models = ['sim800c', 'e3372'] as const;
    for (const [i, sim] of sims.entries()) {
      const modem = new EmulatedModem({ clock, network, sim, profile: models[i], random: this.ctx.random.fork(`modem-sim${i + 1}`), simStore: this.ctx.simStore });
      this.modems.push(await this.ctx.settle(serveModemOnPty(modem, at(`modem-sim${i + 1}`), { onActivity: () => this.active() }), `modem SIM${i + 1} to boot`, 600_000));
    }
    this.hostPort = await freePort();
    this.profile = this.worldProfile(at);
    this.unfollow = clock.onAdvanced(
      (now) => this.follow(now),
      () => this.step(),
    );

    await this.startDevice('cold');
    await this.operate('cold', 'fresh');
    await this.startDevice('hot');
    await this.operate('hot', 'fresh');
    await this.ctx.waitFor(() => this.linkUp(), 'the HSM link to come up', 300_000);
    this.supervising = true;
  }

  /** The simulated profile (sim.json) with the world's ptys, SIMs and state directories. */
  private worldProfile(at: (name: string) => string): Profile {
    const base = loadProfile('sim');
    const { hot, cold } = base as Required<Pick<Profile, 'hot' | 'cold'>>;
    const candidates = [at('modem-sim1'), at('modem-sim2')];
    return parseProfile(
      {
        ...base,
        name: 'sim-world',
        hot: {
          ...hot,
          stateDir: this.ctx.stateDir('hot'),
          link: { ...hot.link, path: at('link-hot') },
          console: { ...(hot.console as PortSpec), path: at('console-hot') },
          hostApi: { host: '127.0.0.1', port: this.hostPort },
        },
        cold: {
          ...cold,
          console: { ...(cold.console as PortSpec), path: at('console-cold') },
          stateDir: this.ctx.stateDir('cold'),
          link: { ...cold.link, path: at('link-cold') },
          modems: cold.modems.map((spec, i) => {
            const sim = this.ctx.sims[i as 0 | 1];
            const emulated = { model: spec.model, carrier: sim.carrierId, msisdn: sim.msisdn, port: candidates[i] };
            return { ...spec, emulated, match: { by: 'imsi', value: sim.imsi }, candidates };
          }),
        },
      },
      'the simulated world',
    );
  }

  /** Bytes between the two link ptys, with bit flips while link noise is on. */
  private async relayLink(hotEnd: string, coldEnd: string): Promise<void> {
    const [a, b] = [await openSerialPort({ path: hotEnd, baudRate: LINK_BAUD_RATE }), await openSerialPort({ path: coldEnd, baudRate: LINK_BAUD_RATE })];
    this.relayPorts.push(a, b);
    const pipe = (from: Port, to: Port): void => {
      from.onData((chunk) => {
        this.active();
        const bytes = Uint8Array.from(chunk);
        if (this.bitFlipRate > 0) {
          for (let i = 0; i < bytes.length; i++) {
            if (this.noise.chance(this.bitFlipRate)) bytes[i] = (bytes[i] as number) ^ (1 << this.noise.int(8));
          }
        }
        if (to.isOpen) to.write(bytes);
      });
    };
    pipe(a, b);
    pipe(b, a);
  }

  private async startDevice(role: Role): Promise<void> {
    const { clock, kdf } = this.ctx;
    const child = fork(DEVICE_ENTRY, [], {
      execArgv: [...DEVICE_NODE_FLAGS, ...execArgvFor(DEVICE_ENTRY)],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let markExited: () => void = () => undefined;
    const proc: DeviceProcess = {
      role,
      child,
      status: { state: 'starting', detail: '"starting"', linkUp: false, running: false },
      exited: new Promise((resolve) => (markExited = resolve)),
      alive: true,
    };
    this.procs.set(role, proc);
    const untie = tieProcess(child.pid);
    let started = false;
    let failure: string | undefined;
    // A send to a process that just died fails with EPIPE; send() drops such messages, and
    // anything else the child object reports is the device's trouble, not the rig's.
    child.on('error', (error) => this.ctx.log.debug({ device: role, err: error.message }, 'a device process channel error'));
    child.on('exit', (code, signal) => {
      untie();
      proc.alive = false;
      proc.status = { ...proc.status, state: 'stopped', detail: '"stopped"', linkUp: false, running: false };
      failure ??= `the HSM-${role} process exited (${signal ?? code})`;
      markExited();
      if (this.stopped || proc.endedByRig === true) return;
      if (this.supervising) this.onDeviceDied(proc, code, signal);
      else this.ctx.log.error({ device: role, code, signal }, 'a device process exited while the rig was starting');
    });
    child.on('message', (message: DeviceToRig) => this.onMessage(proc, message, () => (started = true), (error) => (failure = error)));
    const seed = Buffer.from(this.ctx.random.fork(`hsm-${role}@${clock.now()}`).bytes(32)).toString('hex');
    this.send(proc, {
      type: 'start',
      role,
      profile: this.profile,
      stateDir: this.ctx.stateDir(role),
      now: clock.now(),
      seed,
      logLevel: this.ctx.log.level,
      logFormat: this.ctx.logFormat ?? 'json',
      ...(kdf === undefined ? {} : { kdf }),
    });
    await this.ctx.waitFor(() => started || failure !== undefined, `the HSM-${role} process to start`, 600_000);
    if (!started) throw new HsmError('RIG_PROCESSES', failure ?? `the HSM-${role} process did not start`, { field: 'processes' });
  }

  private onMessage(proc: DeviceProcess, message: DeviceToRig, onStarted: () => void, onFailed: (error: string) => void): void {
    switch (message.type) {
      case 'started':
        proc.status = message.status;
        onStarted();
        return;
      case 'clock-ack':
      case 'result':
        proc.status = message.status;
        this.pending.get(message.id)?.(message);
        this.pending.delete(message.id);
        return;
      case 'view':
        this.pending.get(message.id)?.(message);
        this.pending.delete(message.id);
        return;
      case 'ask':
        void this.pairingFile(message.hotIdentity).then(
          (file) => this.send(proc, { type: 'answer', id: message.id, ok: true, value: file }),
          (error: unknown) => this.send(proc, { type: 'answer', id: message.id, ok: false, error: (error as Error).message }),
        );
        return;
      case 'failed':
        this.ctx.log.error({ device: proc.role, err: message.error }, 'a device process failed');
        onFailed(message.error);
        return;
    }
  }

  /** Plays the operator: provisions a new device, or unlocks one that exists. */
  private async operate(role: Role, when: 'fresh' | 'resumed'): Promise<void> {
    const { keys } = this.ctx;
    const proc = this.require(role);
    const ready = role === 'cold' ? ['provisioning', 'locked'] : ['uninitialised', 'locked'];
    await this.ctx.waitFor(() => ready.includes(proc.status.state) || !proc.alive, `HSM-${role} to boot`, 600_000);
    const fresh = proc.status.state === 'provisioning' || proc.status.state === 'uninitialised';
    if (fresh && when === 'resumed') throw new HsmError('RIG_PROCESSES', `HSM-${role} came back unprovisioned`, { field: 'processes' });
    const pin = role === 'cold' ? keys.coldPin : keys.hotPin;
    let call: OperatorCall = { method: 'unlock', pin };
    if (fresh) {
      call =
        role === 'cold'
          ? { method: 'provision-cold', pin, mnemonic: keys.coldMnemonic }
          : { method: 'provision-hot', pin, mnemonic: keys.hotMnemonic, platformKey: keys.platformPublicKey };
    }
    await this.call(role, call);
    await this.call(role, { method: 'console-password', password: this.ctx.consoles.password });
  }

  private async pairingFile(hotIdentity: string): Promise<unknown> {
    const file = createPairingFile(hotIdentity, this.coldIdentity, this.ctx.random.fork('pairing'));
    await this.call('cold', { method: 'import-pairing', file });
    return file;
  }

  private async call(role: Role, call: OperatorCall): Promise<unknown> {
    const proc = this.require(role);
    const id = this.nextId++;
    let reply: Extract<DeviceToRig, { type: 'result' }> | undefined;
    this.pending.set(id, (message) => (reply = message as Extract<DeviceToRig, { type: 'result' }>));
    this.send(proc, { type: 'call', id, call });
    await this.ctx.waitFor(() => reply !== undefined || !proc.alive, `HSM-${role} to ${call.method}`, 600_000);
    if (reply === undefined) throw new HsmError('RIG_PROCESSES', `the HSM-${role} process exited during ${call.method}`, { field: 'processes' });
    if (!reply.ok) throw new HsmError('RIG_PROCESSES', `HSM-${role} ${call.method}: ${reply.error ?? 'failed'}`, { field: 'processes' });
    return reply.value;
  }

  /** Moves both devices' clocks to `now` and waits until they have run what fell due. */
  private async follow(now: number): Promise<void> {
    const acks = [...this.procs.values()]
      .filter((proc) => proc.alive && proc.child.connected)
      .map(
        (proc) =>
          new Promise<void>((resolve) => {
            const id = this.nextId++;
            const timer = setTimeout(() => {
              this.pending.delete(id);
              resolve();
            }, CLOCK_ACK_LIMIT_MS);
            void proc.exited.then(() => resolve());
            this.pending.set(id, () => {
              clearTimeout(timer);
              resolve();
            });
            if (!this.send(proc, { type: 'clock', id, now })) resolve();
          }),
      );
    await Promise.all(acks);
  }

  /** How far world time may move before the devices catch up (see BUSY_STEP_MS). */
  private step(): number {
    if (performance.now() - this.lastActivity < QUIET_AFTER_REAL_MS) return BUSY_STEP_MS;
    if ([...this.procs.values()].some((proc) => proc.alive && proc.status.awaiting === true)) return BUSY_STEP_MS;
    const now = this.ctx.clock.now();
    let step = QUIET_STEP_MS;
    for (const proc of this.procs.values()) {
      if (proc.alive && proc.status.nextDue !== undefined) step = Math.min(step, Math.max(BUSY_STEP_MS, proc.status.nextDue - now));
    }
    return step;
  }

  private active(): void {
    this.lastActivity = performance.now();
  }

  private linkUp(): boolean {
    return this.procs.get('hot')?.status.linkUp === true && this.procs.get('cold')?.status.running === true;
  }

  /**
   * Sends to a device process if it can still hear; a message to one that is gone (an exit the
   * rig has not seen yet shows as EPIPE) is dropped. Returns false when it was not sent.
   */
  private send(proc: DeviceProcess, message: RigToDevice): boolean {
    if (!proc.alive) return false;
    return sendToChild(proc.child, message, (error) =>
      this.ctx.log.debug({ device: proc.role, type: message.type, err: error.message }, 'a message to a device process that is gone was dropped'),
    );
  }

  /** A device process died on its own: restart it as systemd would (restart-policy.ts). */
  private onDeviceDied(proc: DeviceProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const { clock, log, publish } = this.ctx;
    const role = proc.role;
    const supervised = this.supervised[role];
    const exit = signal ?? `exit ${code}`;
    supervised.lastExit = { at: new Date(clock.now()).toISOString(), code, signal };
    publish('device.exited', { device: role, code, signal });
    if (!restartsAfter(code, signal)) {
      supervised.state = 'stopped';
      log.warn({ device: role, exit }, 'a device process stopped on its own; it is not restarted (Restart=on-failure)');
      return;
    }
    if (!supervised.budget.take(clock.now())) {
      supervised.state = 'failed';
      proc.status = { ...proc.status, detail: '"failed"' };
      publish('device.failed', { device: role, reason: `${RESTART_POLICY.burst} restarts within ${RESTART_POLICY.intervalMs / 60_000} min (the start limit)` });
      log.error({ device: role, exit }, 'a device process keeps dying: the start limit is reached, it stays down');
      return;
    }
    supervised.state = 'restarting';
    proc.status = { ...proc.status, detail: '"restarting"' };
    log.warn({ device: role, exit, inMs: RESTART_POLICY.delayMs }, 'a device process died; restarting it');
    publish('device.restarting', { device: role, exit, inMs: RESTART_POLICY.delayMs });
    supervised.timer = clock.setTimeout(() => void this.restart(role), RESTART_POLICY.delayMs);
  }

  private async restart(role: Role): Promise<void> {
    const supervised = this.supervised[role];
    supervised.timer = undefined;
    if (this.stopped) return;
    try {
      await this.startDevice(role);
      await this.operate(role, 'resumed');
      supervised.state = 'running';
      supervised.restarts++;
      this.ctx.publish('device.restarted', { device: role, pid: this.procs.get(role)?.child.pid, restarts: supervised.restarts });
    } catch (error) {
      // A process that died on the way was handed to onDeviceDied already; one that lives but
      // could not be unlocked is killed, so the next attempt (or the start limit) follows.
      this.ctx.log.error({ device: role, err: (error as Error).message }, 'restarting a device process failed');
      const proc = this.procs.get(role);
      if (proc?.alive === true && !this.stopped) proc.child.kill('SIGKILL');
    }
  }

  private require(role: Role): DeviceProcess {
    const proc = this.procs.get(role);
    if (proc === undefined) throw new Error(`invariant failed: no HSM-${role} process`);
    return proc;
  }
}

function supervisedDevice(): Supervised {
  return { state: 'running', restarts: 0, lastExit: null, budget: new RestartBudget(), timer: undefined };
}

/** A loopback port nothing listens on now, for HSM-Hot's host API across restarts. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
