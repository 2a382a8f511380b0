/**
 * HSM-Hot's lifecycle as an xstate machine (DESIGN.md rule 1): no I/O here, only named
 * effects that main.ts provides with `.provide()`.
 *
 *   booting ─▶ routing ─┬─▶ uninitialised ──PROVISION──▶ provisioning ──▶ checking
 *                       ├─▶ locked ──UNLOCK──▶ unlocking ──▶ checking
 *                       ├─▶ unpaired ──PAIR──▶ pairing ──▶ checking
 *                       ├─▶ erased (too many wrong PINs)
 *                       └─▶ running ─LOCK─▶ checking           (checking = booting again)
 *
 * `running` has two regions: `link` (the serial link to HSM-Cold: attaching → down ⇄ up, with
 * a retry after a failure to open the port) and `host` (the WebSocket host API). Durable state
 * lives in the store, never in a snapshot: entering `running` re-reads it, and attaching the
 * link sends RESUME work (`resume`) that re-asks HSM-Cold for whatever is still pending.
 * A reboot or zeroize (main.ts) stops this machine and boots a new one from `booting`; a
 * zeroized store (erased vault, no identity) routes to `uninitialised`.
 * @module
 */
import { assign, fromCallback, fromPromise, setup, type EventObject } from 'xstate';
import type { PairingInput, ProvisioningInput } from './provisioning.ts';

export interface DeviceCheck {
  provisioned: boolean;
  unlocked: boolean;
  paired: boolean;
  erased: boolean;
  attemptsLeft: number;
}

export interface HotError {
  code: string;
  message: string;
  field?: string;
}

export type HotMachineEvent =
  | { type: 'UNLOCK'; pin: string }
  | { type: 'PROVISION'; input: ProvisioningInput }
  | { type: 'PAIR'; input: PairingInput }
  | { type: 'LOCK' }
  | { type: 'SHUTDOWN' }
  | { type: 'LINK_ATTACHED' }
  | { type: 'LINK_UP' }
  | { type: 'LINK_DOWN' }
  | { type: 'LINK_FAILED'; error: HotError }
  | { type: 'HOST_LISTENING'; host: string; port: number }
  | { type: 'HOST_FAILED'; error: HotError };

export interface HotContext {
  check: DeviceCheck | null;
  error: HotError | null;
  host: { host: string; port: number } | null;
  linkUp: boolean;
}

/** An error of any kind as the machine keeps it: code, message and field, nothing else. */
export function toHotError(error: unknown): HotError {
  const e = error as { code?: unknown; message?: unknown; field?: unknown };
  const out: HotError = {
    code: typeof e?.code === 'string' ? e.code : 'INTERNAL',
    message: typeof e?.message === 'string' ? e.message : 'unexpected failure',
  };
  if (typeof e?.field === 'string') out.field = e.field;
  return out;
}

function provided(name: string): never {
  throw new Error(`invariant failed: ${name} is provided by main.ts`);
}

const inspectState = {
  invoke: {
    src: 'inspect',
    onDone: { target: 'routing', actions: 'rememberCheck' },
    onError: { target: 'failed', actions: 'recordError' },
  },
} as const;

export const hotMachine = setup({
  types: { context: {} as HotContext, events: {} as HotMachineEvent },
  actors: {
    inspect: fromPromise<DeviceCheck>(async () => provided('inspect')),
    unlock: fromPromise<void, { pin: string }>(async () => provided('unlock')),
    provision: fromPromise<void, { input: ProvisioningInput }>(async () => provided('provision')),
    pair: fromPromise<void, { input: PairingInput }>(async () => provided('pair')),
    link: fromCallback<EventObject>(() => provided('link')),
    hostApi: fromCallback<EventObject>(() => provided('hostApi')),
  },
  actions: {
    openRuntime: () => provided('openRuntime'),
    closeRuntime: () => provided('closeRuntime'),
    lockVault: () => provided('lockVault'),
    resume: () => provided('resume'),
    rememberCheck: assign({ check: ({ event }) => (event as unknown as { output: DeviceCheck }).output }),
    recordError: assign({
      error: ({ event }) => {
        const e = event as { error?: unknown };
        return toHotError(e.error);
      },
    }),
    clearError: assign({ error: null }),
    linkUp: assign({ linkUp: true }),
    linkDown: assign({ linkUp: false }),
    hostListening: assign({
      host: ({ event }) => (event.type === 'HOST_LISTENING' ? { host: event.host, port: event.port } : null),
    }),
    hostClosed: assign({ host: null, linkUp: false }),
  },
  guards: {
    isErased: ({ context }) => context.check?.erased === true,
    isUnprovisioned: ({ context }) => context.check?.provisioned !== true,
    isLocked: ({ context }) => context.check?.unlocked !== true,
    isUnpaired: ({ context }) => context.check?.paired !== true,
  },
  delays: {
    LINK_RETRY: 5_000,
  },
}).createMachine({
  id: 'hsm-hot',
  initial: 'booting',
  context: { check: null, error: null, host: null, linkUp: false },
  on: { SHUTDOWN: '.stopped' },
  states: {
    booting: inspectState,
    checking: inspectState,
    routing: {
      always: [
        { guard: 'isErased', target: 'erased' },
        { guard: 'isUnprovisioned', target: 'uninitialised' },
        { guard: 'isLocked', target: 'locked' },
        { guard: 'isUnpaired', target: 'unpaired' },
        { target: 'running' },
      ],
    },
    uninitialised: {
      on: { PROVISION: 'provisioning' },
    },
    provisioning: {
      invoke: {
        src: 'provision',
        input: ({ event }) => ({ input: (event as Extract<HotMachineEvent, { type: 'PROVISION' }>).input }),
        onDone: { target: 'checking', actions: 'clearError' },
        onError: { target: 'checking', actions: 'recordError' },
      },
    },
    locked: {
      on: { UNLOCK: 'unlocking' },
    },
    unlocking: {
      invoke: {
        src: 'unlock',
        input: ({ event }) => ({ pin: (event as Extract<HotMachineEvent, { type: 'UNLOCK' }>).pin }),
        onDone: { target: 'checking', actions: 'clearError' },
        onError: { target: 'checking', actions: 'recordError' },
      },
    },
    unpaired: {
      on: { PAIR: 'pairing' },
    },
    pairing: {
      invoke: {
        src: 'pair',
        input: ({ event }) => ({ input: (event as Extract<HotMachineEvent, { type: 'PAIR' }>).input }),
        onDone: { target: 'checking', actions: 'clearError' },
        onError: { target: 'checking', actions: 'recordError' },
      },
    },
    running: {
      type: 'parallel',
      entry: 'openRuntime',
      exit: ['closeRuntime', 'hostClosed'],
      on: { LOCK: { target: 'checking', actions: 'lockVault' } },
      states: {
        link: {
          initial: 'active',
          states: {
            active: {
              invoke: { src: 'link' },
              initial: 'attaching',
              on: { LINK_FAILED: { target: 'retrying', actions: ['recordError', 'linkDown'] } },
              states: {
                attaching: { on: { LINK_ATTACHED: { target: 'down', actions: 'resume' } } },
                down: { on: { LINK_UP: { target: 'up', actions: 'linkUp' } } },
                up: { on: { LINK_DOWN: { target: 'down', actions: 'linkDown' } } },
              },
            },
            retrying: { after: { LINK_RETRY: 'active' } },
          },
        },
        host: {
          invoke: { src: 'hostApi' },
          initial: 'starting',
          states: {
            starting: {
              on: {
                HOST_LISTENING: { target: 'listening', actions: 'hostListening' },
                HOST_FAILED: { target: 'failed', actions: 'recordError' },
              },
            },
            listening: {},
            failed: {},
          },
        },
      },
    },
    erased: {},
    failed: {},
    stopped: { type: 'final' },
  },
});

export type HotMachine = typeof hotMachine;
