/**
 * One HSM as the simulated rig runs it in `--processes` mode: a child process (forked by
 * devices-processes.ts) that runs the firmware through `runDevice` on the simulated hardware's
 * ptys, with the real serialport bindings, exactly as `hsm hot|cold --profile` would.
 *
 * World time comes from the rig (process-protocol.ts `clock`): the device's clock is a
 * simulated clock that follows it. Timings on the wire (link retransmission and keepalive, AT
 * command timeouts) run in real time, as the bytes do. The rig plays the operator over IPC:
 * provisioning, pairing by file, unlocking.
 * @module
 */
import { RealClock, SimulatedClock } from '../../shared/clock.ts';
import { createLogger } from '../../shared/log.ts';
import { SeededRandom } from '../../shared/random.ts';
import { identityPublicKey } from '../../shared/store/identity.ts';
import type { PairingFile } from '../../shared/link/pairing.ts';
import { OperatorCredentials } from '../../shared/console/operator.ts';
import { deviceConsole } from '../device-console.ts';
import { runDevice, type RunningDevice } from '../run-device.ts';
import { coldView, hotView, type DeviceView } from './dashboard/device-view.ts';
import type { DeviceStatus, DeviceToRig, OperatorCall, RigToDevice } from './process-protocol.ts';
import { PLATFORM_KEY_SCOPES, coldConfig, hotConfig } from './world-config.ts';

/** How long an operator action waits (real time) for the device to be ready for it. */
const READY_LIMIT_MS = 120_000;

let device: RunningDevice | undefined;
let clock: SimulatedClock | undefined;
let kdf: { N: number; r: number; p: number } | undefined;
let random: SeededRandom | undefined;
let nextAsk = 1;
const asks = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

function send(message: DeviceToRig): void {
  process.send?.(message);
}

function status(): DeviceStatus {
  return { ...deviceStatus(), ...nextDue() };
}

function nextDue(): { nextDue?: number } {
  const due = clock?.nextDue();
  if (clock === undefined || due === undefined) return {};
  return { nextDue: clock.now() + (due - clock.monotonic()) };
}

function deviceStatus(): DeviceStatus {
  if (device === undefined) return { state: 'starting', detail: '"starting"', linkUp: false, running: false };
  if (device.hot !== undefined) {
    const hot = device.hot;
    return {
      state: hot.state,
      detail: hot.state,
      running: hot.state === 'running',
      linkUp: hot.state === 'running' && hot.linkUp,
      ...(hot.hostUrl === undefined ? {} : { hostUrl: hot.hostUrl }),
      ...(hot.identity === undefined ? {} : { identity: hot.identity }),
    };
  }
  const cold = device.cold as NonNullable<RunningDevice['cold']>;
  const running = cold.snapshot.matches('running');
  const identity = safeIdentity(cold);
  return {
    state: device.state(),
    detail: JSON.stringify(cold.snapshot.value),
    running,
    linkUp: cold.snapshot.matches({ running: { link: 'up' } }),
    awaiting: cold.modemsAwaitingReply,
    ...(identity === undefined ? {} : { identity }),
  };
}

/** HSM-Cold's identity once provisioned (read once: it never changes while the process runs). */
let coldIdentity: string | undefined;
function safeIdentity(cold: NonNullable<RunningDevice['cold']>): string | undefined {
  if (coldIdentity !== undefined) return coldIdentity;
  try {
    coldIdentity = identityPublicKey(cold.store) ?? undefined;
  } catch {
    coldIdentity = undefined;
  }
  return coldIdentity;
}

/** What the dashboard shows of this device; null before the firmware runs or while it stops. */
function dashboardView(): DeviceView | null {
  if (device === undefined || clock === undefined) return null;
  try {
    return device.hot !== undefined ? hotView(device.hot, clock) : coldView(device.cold as NonNullable<RunningDevice['cold']>, clock);
  } catch {
    return null;
  }
}

/** Waits in real time: the rig moves world time meanwhile. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + READY_LIMIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function ask(hotIdentity: string): Promise<unknown> {
  const id = nextAsk++;
  return new Promise((resolve, reject) => {
    asks.set(id, { resolve, reject });
    send({ type: 'ask', id, question: 'pairing-file', hotIdentity });
  });
}

async function perform(call: OperatorCall): Promise<unknown> {
  const running = device as RunningDevice;
  const kdfOption = kdf === undefined ? {} : { kdf };
  if (call.method === 'console-password') {
    const store = running.hot?.store ?? (running.cold as NonNullable<RunningDevice['cold']>).store;
    const credentials = new OperatorCredentials({ store, clock: clock as SimulatedClock, random: (random as SeededRandom).fork('console-password'), ...kdfOption });
    if (!credentials.exists()) await credentials.create(call.password);
    return {};
  }
  if (running.cold !== undefined) {
    const cold = running.cold;
    await until(() => cold.snapshot.matches('provisioning') || cold.snapshot.matches('locked') || cold.snapshot.matches('running'), 'HSM-Cold to boot');
    switch (call.method) {
      case 'provision-cold':
        await cold.provision({ pin: call.pin, mnemonic: call.mnemonic, config: coldConfig(), ...kdfOption });
        await until(() => cold.snapshot.matches('running'), 'HSM-Cold to run');
        return { identity: safeIdentity(cold) };
      case 'unlock':
        cold.unlock(call.pin);
        await until(() => cold.snapshot.matches('running'), 'HSM-Cold to run');
        return { identity: safeIdentity(cold) };
      case 'import-pairing':
        await cold.importPairing(call.file as PairingFile);
        return {};
      default:
        throw new Error(`HSM-Cold has no operator action ${call.method}`);
    }
  }
  const hot = running.hot as NonNullable<RunningDevice['hot']>;
  switch (call.method) {
    case 'provision-hot': {
      const result = await hot.provision({
        pin: call.pin,
        mnemonic: { restore: call.mnemonic },
        platformKeys: [{ key: call.platformKey, scopes: [...PLATFORM_KEY_SCOPES], label: 'platform' }],
        pairing: { method: 'file', file: async (hotIdentity: string) => (await ask(hotIdentity)) as PairingFile },
      });
      if (!result.paired) throw new Error(`pairing failed: ${result.pairingError?.message ?? 'unknown'}`);
      return {};
    }
    case 'unlock':
      await hot.unlock(call.pin);
      return {};
    default:
      throw new Error(`HSM-Hot has no operator action ${call.method}`);
  }
}

async function onMessage(message: RigToDevice): Promise<void> {
  switch (message.type) {
    case 'start': {
      clock = new SimulatedClock({ start: message.now });
      kdf = message.kdf;
      const follower = clock;
      // Work due now (a zero-delay timer) runs even while world time stands still.
      setInterval(() => {
        const due = follower.nextDue();
        if (due !== undefined && due <= follower.monotonic()) void follower.advance(0);
      }, 2).unref();
      random = new SeededRandom(message.seed);
      const log = createLogger({ name: `hsm-${message.role}`, level: message.logLevel as 'info', destination: process.stderr, format: message.logFormat });
      device = await runDevice(message.role, message.profile, {
        clock,
        wireClock: new RealClock(),
        random: random.fork('device'),
        log,
        attachConsole: deviceConsole({ clock, random: random.fork('console'), log, ...(message.kdf === undefined ? {} : { kdf: message.kdf, vaultKdf: message.kdf }) }),
        stateDir: message.stateDir,
        ...(message.role === 'hot' ? { hotConfig: hotConfig() } : {}),
        ...(message.kdf === undefined ? {} : { kdf: message.kdf }),
      });
      send({ type: 'started', status: status() });
      return;
    }
    case 'clock': {
      const follower = clock as SimulatedClock;
      if (message.now > follower.now()) await follower.advanceTo(message.now);
      else await follower.advance(0);
      send({ type: 'clock-ack', id: message.id, status: status() });
      return;
    }
    case 'call':
      try {
        const value = await perform(message.call);
        send({ type: 'result', id: message.id, ok: true, value, status: status() });
      } catch (error) {
        send({ type: 'result', id: message.id, ok: false, error: (error as Error).message, status: status() });
      }
      return;
    case 'answer': {
      const pending = asks.get(message.id);
      asks.delete(message.id);
      if (message.ok) pending?.resolve(message.value);
      else pending?.reject(new Error(message.error ?? 'the rig refused'));
      return;
    }
    case 'view':
      send({ type: 'view', id: message.id, view: dashboardView() });
      return;
    case 'stop':
      await device?.stop();
      process.exit(0);
  }
}

process.on('message', (message: RigToDevice) => {
  onMessage(message).catch((error: unknown) => {
    send({ type: 'failed', error: (error as Error).message });
    process.exitCode = 1;
  });
});
// Ctrl-C at a terminal reaches the whole process group: the rig stops its devices itself.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => {
  void (device?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});
// The rig is gone: nothing is left to drive this device.
process.on('disconnect', () => {
  void (device?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});
