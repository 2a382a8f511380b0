import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, initialTransition, transition, waitFor } from 'xstate';
import { SimulatedClock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { hotMachine, type DeviceCheck, type HotMachineEvent } from '../../hsm-hot/machine.ts';

interface Fake {
  check: DeviceCheck;
  calls: string[];
  linkStarts: number;
  sendLink?: (event: HotMachineEvent) => void;
  sendHost?: (event: HotMachineEvent) => void;
  pinOk: string;
  pairFails?: boolean;
}

const device = (over: Partial<DeviceCheck> = {}): DeviceCheck => ({ provisioned: true, unlocked: false, paired: true, erased: false, attemptsLeft: 10, ...over });

/** The machine with effects that only record what they were asked to do. */
function fakeMachine(fake: Fake): typeof hotMachine {
  return hotMachine.provide({
    actors: {
      inspect: fromPromise(async () => ({ ...fake.check })),
      unlock: fromPromise<void, { pin: string }>(async ({ input }) => {
        fake.calls.push('unlock');
        if (input.pin !== fake.pinOk) throw new HsmError('PIN_WRONG', 'wrong PIN; 9 attempts left', { field: 'pin' });
        fake.check = { ...fake.check, unlocked: true };
      }),
      provision: fromPromise(async () => {
        fake.calls.push('provision');
        fake.check = { ...fake.check, provisioned: true, unlocked: true, paired: true };
      }),
      pair: fromPromise(async () => {
        fake.calls.push('pair');
        if (fake.pairFails) throw new HsmError('PAIR_TIMEOUT', 'the peer did not complete the pairing exchange in time');
        fake.check = { ...fake.check, paired: true };
      }),
      link: fromCallback(({ sendBack }) => {
        fake.linkStarts++;
        fake.sendLink = (event) => sendBack(event);
        return () => fake.calls.push('link stopped');
      }),
      hostApi: fromCallback(({ sendBack }) => {
        fake.sendHost = (event) => sendBack(event);
        return () => fake.calls.push('host stopped');
      }),
    },
    actions: {
      openRuntime: () => void fake.calls.push('openRuntime'),
      closeRuntime: () => void fake.calls.push('closeRuntime'),
      lockVault: () => {
        fake.calls.push('lockVault');
        fake.check = { ...fake.check, unlocked: false };
      },
      resume: () => void fake.calls.push('resume'),
    },
  });
}

function start(fake: Fake) {
  const clock = new SimulatedClock();
  const actor = createActor(fakeMachine(fake), { clock });
  actor.start();
  return { actor, clock };
}

const stateOf = (value: unknown): string => (typeof value === 'string' ? value : Object.keys(value as object)[0] as string);

describe('hsm-hot machine: pure transitions', () => {
  it('starts by inspecting the store, and waits for the PIN in locked', () => {
    const [initial] = initialTransition(hotMachine);
    expect(initial.value).toBe('booting');
    const [locked] = transition(hotMachine, hotMachine.resolveState({ value: 'locked', context: initial.context }), { type: 'UNLOCK', pin: '1234' });
    expect(locked.value).toBe('unlocking');
    const [ignored] = transition(hotMachine, hotMachine.resolveState({ value: 'locked', context: initial.context }), { type: 'PROVISION', input: {} as never });
    expect(ignored.value).toBe('locked');
    const [stopped] = transition(hotMachine, hotMachine.resolveState({ value: 'locked', context: initial.context }), { type: 'SHUTDOWN' });
    expect(stopped.status).toBe('done');
  });
});

describe('hsm-hot machine: with stub effects', () => {
  it('an unprovisioned device provisions, then runs with both regions', async () => {
    const fake: Fake = { check: device({ provisioned: false, paired: false }), calls: [], linkStarts: 0, pinOk: '1234' };
    const { actor } = start(fake);
    await waitFor(actor, (s) => s.matches('uninitialised'));
    actor.send({ type: 'PROVISION', input: {} as never });
    await waitFor(actor, (s) => s.matches('running'));
    expect(fake.calls).toEqual(['provision', 'openRuntime']);
    expect(actor.getSnapshot().matches({ running: { link: { active: 'attaching' }, host: 'starting' } })).toBe(true);
    fake.sendHost?.({ type: 'HOST_LISTENING', host: '127.0.0.1', port: 4321 });
    fake.sendLink?.({ type: 'LINK_ATTACHED' });
    fake.sendLink?.({ type: 'LINK_UP' });
    expect(actor.getSnapshot().context).toMatchObject({ host: { host: '127.0.0.1', port: 4321 }, linkUp: true });
    expect(fake.calls.at(-1)).toBe('resume');
    fake.sendLink?.({ type: 'LINK_DOWN' });
    expect(actor.getSnapshot().matches({ running: { link: { active: 'down' } } })).toBe(true);
  });

  it('a wrong PIN stays locked with the error; the right one runs; LOCK locks the vault again', async () => {
    const fake: Fake = { check: device(), calls: [], linkStarts: 0, pinOk: '1234' };
    const { actor } = start(fake);
    await waitFor(actor, (s) => s.matches('locked'));
    actor.send({ type: 'UNLOCK', pin: '0000' });
    await waitFor(actor, (s) => s.matches('locked') && s.context.error !== null);
    expect(actor.getSnapshot().context.error).toEqual({ code: 'PIN_WRONG', message: 'wrong PIN; 9 attempts left', field: 'pin' });
    actor.send({ type: 'UNLOCK', pin: '1234' });
    await waitFor(actor, (s) => s.matches('running'));
    expect(actor.getSnapshot().context.error).toBeNull();
    actor.send({ type: 'LOCK' });
    await waitFor(actor, (s) => s.matches('locked'));
    // xstate stops the invoked actors after the exit and transition actions of the same step.
    expect(fake.calls.slice(-4)).toEqual(['closeRuntime', 'lockVault', 'host stopped', 'link stopped']);
  });

  it('routes an erased vault to erased and an unpaired device to unpaired; a failed pairing keeps it there', async () => {
    const erased = start({ check: device({ erased: true }), calls: [], linkStarts: 0, pinOk: '' });
    await waitFor(erased.actor, (s) => s.matches('erased'));
    erased.actor.send({ type: 'UNLOCK', pin: '1234' });
    expect(stateOf(erased.actor.getSnapshot().value)).toBe('erased');

    const fake: Fake = { check: device({ unlocked: true, paired: false }), calls: [], linkStarts: 0, pinOk: '', pairFails: true };
    const { actor } = start(fake);
    await waitFor(actor, (s) => s.matches('unpaired'));
    actor.send({ type: 'PAIR', input: {} as never });
    await waitFor(actor, (s) => s.matches('unpaired') && s.context.error !== null);
    expect(actor.getSnapshot().context.error?.code).toBe('PAIR_TIMEOUT');
    fake.pairFails = false;
    actor.send({ type: 'PAIR', input: {} as never });
    await waitFor(actor, (s) => s.matches('running'));
  });

  it('a link that cannot open its port retries after the delay, on the injected clock', async () => {
    const fake: Fake = { check: device({ unlocked: true }), calls: [], linkStarts: 0, pinOk: '' };
    const { actor, clock } = start(fake);
    await waitFor(actor, (s) => s.matches('running'));
    expect(fake.linkStarts).toBe(1);
    fake.sendLink?.({ type: 'LINK_FAILED', error: { code: 'PORT_UNAVAILABLE', message: 'unplugged' } });
    expect(actor.getSnapshot().matches({ running: { link: 'retrying' } })).toBe(true);
    clock.advanceSync(4_999);
    expect(fake.linkStarts).toBe(1);
    clock.advanceSync(1);
    expect(fake.linkStarts).toBe(2);
    expect(actor.getSnapshot().matches({ running: { link: { active: 'attaching' } } })).toBe(true);
  });

  it('SHUTDOWN from running stops the regions and closes the runtime', async () => {
    const fake: Fake = { check: device({ unlocked: true }), calls: [], linkStarts: 0, pinOk: '' };
    const { actor } = start(fake);
    await waitFor(actor, (s) => s.matches('running'));
    actor.send({ type: 'SHUTDOWN' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(fake.calls).toEqual(['openRuntime', 'closeRuntime', 'host stopped', 'link stopped']);
  });
});
