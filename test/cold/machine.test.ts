import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, waitFor as waitForState, type AnyActorRef, type SnapshotFrom } from 'xstate';
import { SimulatedClock } from '../../shared/clock.ts';
import { HsmError } from '../../shared/errors.ts';
import { coldMachine, type ColdEvent, type DeviceInspection } from '../../hsm-cold/machine.ts';

/** xstate's waitFor waits forever by default: a machine that never gets there fails the test instead of hanging it. */
function waitFor<A extends AnyActorRef>(actor: A, predicate: (snapshot: SnapshotFrom<A>) => boolean): Promise<SnapshotFrom<A>> {
  return waitForState(actor, predicate, { timeout: 30_000 });
}

function machineWith(options: { inspection: DeviceInspection; pin?: string; erasesOn?: string }) {
  const sent: Array<(e: ColdEvent) => void> = [];
  const calls: string[] = [];
  const watcher = (name: string) =>
    fromCallback<ColdEvent>(({ sendBack }) => {
      calls.push(`start ${name}`);
      sent.push(sendBack);
      return () => calls.push(`stop ${name}`);
    });
  const machine = coldMachine.provide({
    actors: {
      inspectDevice: fromPromise(async () => options.inspection),
      unlockVault: fromPromise(async ({ input }: { input: { pin: string } }) => {
        if (input.pin === options.erasesOn) throw new HsmError('VAULT_ERASED', 'erased');
        if (input.pin !== (options.pin ?? '1234')) throw new HsmError('PIN_WRONG', 'wrong PIN; 9 attempts left');
      }),
      provisionDevice: fromPromise(async ({ input }: { input: { input: unknown } }) => {
        if (input.input === 'bad') throw new HsmError('COLD_CONFIG', 'configuration coins: at least one coin');
        calls.push('provisioned');
      }),
      startServices: fromPromise<void>(async () => {
        calls.push('services started');
      }),
      stopServices: fromPromise<void>(async () => {
        calls.push('services stopped');
      }),
      watchLink: watcher('link'),
      watchModems: watcher('modems'),
      watchChannel: watcher('channel'),
      serveInbox: watcher('inbox'),
    },
    actions: { sweep: () => void calls.push('sweep') },
  });
  return { machine, calls, sent };
}

describe('HSM-Cold machine', () => {
  it('boots into provisioning, refuses a bad configuration, then runs', async () => {
    const { machine, calls } = machineWith({ inspection: { provisioned: false, vault: 'uninitialised' } });
    const actor = createActor(machine).start();
    await waitFor(actor, (s) => s.matches({ provisioning: 'waiting' }));
    actor.send({ type: 'PROVISION', input: 'bad' });
    await waitFor(actor, (s) => s.matches({ provisioning: 'waiting' }) && s.context.lastError !== undefined);
    expect(actor.getSnapshot().context.lastError).toEqual({ code: 'COLD_CONFIG', message: 'configuration coins: at least one coin' });
    actor.send({ type: 'PROVISION', input: {} });
    await waitFor(actor, (s) => s.matches('running'));
    expect(actor.getSnapshot().context.lastError).toBeUndefined();
    expect(calls).toEqual(expect.arrayContaining(['provisioned', 'services started', 'start link', 'start modems', 'start channel', 'start inbox']));
    actor.stop();
  });

  it('a provisioned device waits locked; a wrong PIN keeps it locked, the right one runs it', async () => {
    const { machine } = machineWith({ inspection: { provisioned: true, vault: 'locked' } });
    const actor = createActor(machine).start();
    await waitFor(actor, (s) => s.matches('locked'));
    actor.send({ type: 'UNLOCK', pin: '0000' });
    await waitFor(actor, (s) => s.matches('locked') && s.context.lastError?.code === 'PIN_WRONG');
    actor.send({ type: 'UNLOCK', pin: '1234' });
    await waitFor(actor, (s) => s.matches('running'));
    actor.stop();
  });

  it('an unlock that erases the secrets ends in erased, which only provisioning leaves', async () => {
    const { machine } = machineWith({ inspection: { provisioned: true, vault: 'locked' }, erasesOn: '9999' });
    const actor = createActor(machine).start();
    await waitFor(actor, (s) => s.matches('locked'));
    actor.send({ type: 'UNLOCK', pin: '9999' });
    await waitFor(actor, (s) => s.matches('erased'));
    actor.send({ type: 'UNLOCK', pin: '1234' });
    expect(actor.getSnapshot().matches('erased')).toBe(true);
    const booted = createActor(machineWith({ inspection: { provisioned: true, vault: 'erased' } }).machine).start();
    await waitFor(booted, (s) => s.matches('erased'));
    actor.stop();
    booted.stop();
  });

  it('tracks link, modems and channel in parallel regions, from the actors it runs', async () => {
    const { machine, sent } = machineWith({ inspection: { provisioned: true, vault: 'locked' } });
    const actor = createActor(machine).start();
    await waitFor(actor, (s) => s.matches('locked'));
    actor.send({ type: 'UNLOCK', pin: '1234' });
    await waitFor(actor, (s) => s.matches('running'));
    const [link, modems, channel] = sent;
    expect(actor.getSnapshot().matches({ running: { link: 'down', modems: 'usable', channel: 'none' } })).toBe(true);
    link!({ type: 'LINK_UP', peerEpoch: 3 });
    modems!({ type: 'MODEMS_DEGRADED', reason: 'no modem registered' });
    channel!({ type: 'CHANNEL', phase: 'pending', cId: 17 });
    expect(actor.getSnapshot().matches({ running: { link: 'up', modems: 'degraded', channel: 'pending' } })).toBe(true);
    expect(actor.getSnapshot().context).toMatchObject({ modemsDegradedReason: 'no modem registered', channelId: 17 });
    channel!({ type: 'CHANNEL', phase: 'open', cId: 17 });
    modems!({ type: 'MODEMS_USABLE' });
    link!({ type: 'LINK_DOWN', reason: 'nothing heard' });
    expect(actor.getSnapshot().matches({ running: { link: 'down', modems: 'usable', channel: 'open' } })).toBe(true);
    expect(actor.getSnapshot().context.linkDownReason).toBe('nothing heard');
    channel!({ type: 'CHANNEL', phase: 'closed', cId: 17 });
    expect(actor.getSnapshot().matches({ running: { channel: 'closed' } })).toBe(true);
    actor.stop();
  });

  it('sweeps every minute on the device clock, and LOCK stops the services and the sweeps', async () => {
    const clock = new SimulatedClock();
    const { machine, calls } = machineWith({ inspection: { provisioned: true, vault: 'locked' } });
    const actor = createActor(machine, { clock }).start();
    await waitFor(actor, (s) => s.matches('locked'));
    actor.send({ type: 'UNLOCK', pin: '1234' });
    await waitFor(actor, (s) => s.matches('running'));
    await clock.advance(3 * 60_000 + 1);
    expect(calls.filter((c) => c === 'sweep')).toHaveLength(3);
    expect(actor.getSnapshot().context.sweeps).toBe(3);
    actor.send({ type: 'LOCK' });
    await waitFor(actor, (s) => s.matches('locked'));
    expect(calls).toEqual(expect.arrayContaining(['services stopped', 'stop link', 'stop inbox']));
    await clock.advance(5 * 60_000);
    expect(calls.filter((c) => c === 'sweep')).toHaveLength(3);
    actor.stop();
  });
});
