/**
 * HSM-Cold's life cycle as an xstate machine (DESIGN.md, rule 1): pure, every effect a named
 * actor or action that main.ts provides.
 *
 *   booting ─▶ locked ──UNLOCK──▶ unlocking ─▶ starting ─▶ running
 *      │                                          ▲           │ LOCK
 *      └─▶ provisioning ──PROVISION──▶ provisioning.saving ─┘  ▼
 *                                                           stopping ─▶ locked
 *   running (parallel):
 *     link      down ⇄ up                       (LINK_UP / LINK_DOWN from the link actor)
 *     modems    usable ⇄ degraded               (no modem can send: degraded)
 *     channel   none → pending → open → closed  (CHANNEL from the domain, after each change)
 *     upkeep    a sweep every minute on the device clock (expiry, time checks, checkpoints)
 *
 * Domain state (channels, approvals, outboxes) lives in the store, not in this machine: after a
 * reboot the machine starts fresh and `startServices` resumes from the store.
 * @module
 */
import { assign, fromCallback, fromPromise, setup, type ActorRefFrom } from 'xstate';

export type ChannelPhase = 'none' | 'pending' | 'open' | 'closed';

export interface DeviceInspection {
  provisioned: boolean;
  vault: 'uninitialised' | 'locked' | 'unlocked' | 'erased';
}

export type ColdEvent =
  | { type: 'UNLOCK'; pin: string }
  | { type: 'PROVISION'; input: unknown }
  | { type: 'LOCK' }
  | { type: 'LINK_UP'; peerEpoch: number }
  | { type: 'LINK_DOWN'; reason: string }
  | { type: 'MODEMS_USABLE' }
  | { type: 'MODEMS_DEGRADED'; reason: string }
  | { type: 'CHANNEL'; phase: ChannelPhase; cId?: number };

export interface ColdContext {
  lastError: { code: string; message: string } | undefined;
  linkDownReason: string | undefined;
  modemsDegradedReason: string | undefined;
  channelId: number | undefined;
  sweeps: number;
}

function errorOf(error: unknown): { code: string; message: string } {
  const e = error as { code?: string; message?: string };
  return { code: e.code ?? 'INTERNAL', message: e.message ?? String(error) };
}

/** Placeholders: main.ts provides the real effects with `coldMachine.provide(...)`. */
const notProvided = (name: string) => (): never => {
  throw new Error(`invariant failed: ${name} was not provided`);
};

export const coldMachine = setup({
  types: {
    context: {} as ColdContext,
    events: {} as ColdEvent,
  },
  actors: {
    inspectDevice: fromPromise<DeviceInspection>(notProvided('inspectDevice')),
    unlockVault: fromPromise<void, { pin: string }>(notProvided('unlockVault')),
    provisionDevice: fromPromise<void, { input: unknown }>(notProvided('provisionDevice')),
    startServices: fromPromise<void>(notProvided('startServices')),
    stopServices: fromPromise<void>(notProvided('stopServices')),
    /** Reports LINK_UP / LINK_DOWN. */
    watchLink: fromCallback<ColdEvent>(notProvided('watchLink')),
    /** Reports MODEMS_USABLE / MODEMS_DEGRADED. */
    watchModems: fromCallback<ColdEvent>(notProvided('watchModems')),
    /** Reports CHANNEL after each channel change. */
    watchChannel: fromCallback<ColdEvent>(notProvided('watchChannel')),
    /** Works through the SMS inbox. */
    serveInbox: fromCallback<ColdEvent>(notProvided('serveInbox')),
  },
  actions: {
    sweep: notProvided('sweep'),
    recordError: assign({ lastError: ({ event }) => errorOf((event as unknown as { error: unknown }).error) }),
    clearError: assign({ lastError: undefined }),
  },
  guards: {
    needsProvisioning: ({ event }) => !(event as unknown as { output: DeviceInspection }).output.provisioned,
    vaultErased: ({ event }) => (event as unknown as { output: DeviceInspection }).output.vault === 'erased',
    erasedByUnlock: ({ event }) => errorOf((event as unknown as { error: unknown }).error).code === 'VAULT_ERASED',
  },
  delays: {
    SWEEP_INTERVAL: 60_000,
  },
}).createMachine({
  id: 'hsm-cold',
  initial: 'booting',
  context: { lastError: undefined, linkDownReason: undefined, modemsDegradedReason: undefined, channelId: undefined, sweeps: 0 },
  states: {
    booting: {
      invoke: {
        src: 'inspectDevice',
        onDone: [
          { guard: 'needsProvisioning', target: 'provisioning' },
          { guard: 'vaultErased', target: 'erased' },
          { target: 'locked' },
        ],
        onError: { target: 'failed', actions: 'recordError' },
      },
    },
    provisioning: {
      initial: 'waiting',
      states: {
        waiting: { on: { PROVISION: 'saving' } },
        saving: {
          invoke: {
            src: 'provisionDevice',
            input: ({ event }) => ({ input: (event as Extract<ColdEvent, { type: 'PROVISION' }>).input }),
            onDone: { target: '#hsm-cold.starting', actions: 'clearError' },
            onError: { target: 'waiting', actions: 'recordError' },
          },
        },
      },
    },
    locked: {
      on: { UNLOCK: 'unlocking' },
    },
    unlocking: {
      invoke: {
        src: 'unlockVault',
        input: ({ event }) => ({ pin: (event as Extract<ColdEvent, { type: 'UNLOCK' }>).pin }),
        onDone: { target: 'starting', actions: 'clearError' },
        onError: [
          { guard: 'erasedByUnlock', target: 'erased', actions: 'recordError' },
          { target: 'locked', actions: 'recordError' },
        ],
      },
    },
    starting: {
      invoke: {
        src: 'startServices',
        onDone: 'running',
        onError: { target: 'failed', actions: 'recordError' },
      },
    },
    running: {
      type: 'parallel',
      invoke: [
        { src: 'watchLink' },
        { src: 'watchModems' },
        { src: 'watchChannel' },
        { src: 'serveInbox' },
      ],
      on: { LOCK: 'stopping' },
      states: {
        link: {
          initial: 'down',
          states: {
            down: { on: { LINK_UP: { target: 'up', actions: assign({ linkDownReason: undefined }) } } },
            up: { on: { LINK_DOWN: { target: 'down', actions: assign({ linkDownReason: ({ event }) => event.reason }) } } },
          },
        },
        modems: {
          initial: 'usable',
          states: {
            usable: { on: { MODEMS_DEGRADED: { target: 'degraded', actions: assign({ modemsDegradedReason: ({ event }) => event.reason }) } } },
            degraded: { on: { MODEMS_USABLE: { target: 'usable', actions: assign({ modemsDegradedReason: undefined }) } } },
          },
        },
        channel: {
          initial: 'none',
          on: {
            CHANNEL: [
              { guard: ({ event }) => event.phase === 'none', target: '.none', actions: assign({ channelId: undefined }) },
              { guard: ({ event }) => event.phase === 'pending', target: '.pending', actions: assign({ channelId: ({ event }) => event.cId }) },
              { guard: ({ event }) => event.phase === 'open', target: '.open', actions: assign({ channelId: ({ event }) => event.cId }) },
              { target: '.closed', actions: assign({ channelId: ({ event }) => event.cId }) },
            ],
          },
          states: { none: {}, pending: {}, open: {}, closed: {} },
        },
        upkeep: {
          initial: 'waiting',
          states: {
            waiting: {
              after: {
                SWEEP_INTERVAL: { target: 'waiting', reenter: true, actions: ['sweep', assign({ sweeps: ({ context }) => context.sweeps + 1 })] },
              },
            },
          },
        },
      },
    },
    stopping: {
      invoke: { src: 'stopServices', onDone: 'locked', onError: { target: 'locked', actions: 'recordError' } },
    },
    erased: {
      on: { PROVISION: 'provisioning.saving' },
    },
    failed: {},
  },
});

export type ColdMachine = typeof coldMachine;
export type ColdActor = ActorRefFrom<ColdMachine>;
