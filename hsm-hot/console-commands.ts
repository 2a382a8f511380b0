/**
 * HSM-Hot's diagnostics console: the host (prompt state, banner, what `setup` asks) and the
 * read-only commands over `HsmHot`; the privileged ones are in console-actions.ts. The names
 * follow HSM-Cold's console (hsm-cold/console-commands.ts) where the two devices share a notion.
 *
 *   const { host, commands } = hotConsole(hot, { random });
 *   serveConsole({ port, clock, random, store: hot.store, host, commands });
 *
 * Nothing here prints a secret: requests are listed without their vc_code, PSBT or raw
 * transaction, and the vault, seed and link key are only ever named by their state.
 * @module
 */
import { auditCommands, printChecks } from '../shared/console/common-commands.ts';
import { linkStatusRows, stateText } from '../shared/console/device-views.ts';
import { fields, formatDuration, formatTime, table } from '../shared/console/format.ts';
import type { CommandContext, CommandSpec } from '../shared/console/registry.ts';
import { cryptoSelfTest, storeSelfTest, type CheckResult } from '../shared/console/selftest.ts';
import type { ConsoleHost } from '../shared/console/session.ts';
import { HsmError } from '../shared/errors.ts';
import { packageVersion } from '../shared/package.ts';
import { linkEpochCollection } from '../shared/link/epoch.ts';
import { pairingRecord } from '../shared/link/pairing.ts';
import type { ChannelSummary } from '../shared/link/messages.ts';
import type { RandomSource } from '../shared/random.ts';
import { STORE_FORMAT } from '../shared/store/store.ts';
import { Vault } from '../shared/store/vault.ts';
import { hotActionCommands } from './console-actions.ts';
import { apiKeyList, coldReport, lastColdEvent, recentRequests } from './console-views.ts';
import { pendingRequestsCollection, requestsCollection } from './requests.ts';
import { HOT_APP, HOT_SCHEMA_VERSION, type HsmHot } from './main.ts';

const FIRMWARE_VERSION = packageVersion();

export interface HotConsoleOptions {
  random: RandomSource;
}

/** `running/link:up`, `locked`, `unpaired`... */
export function hotPromptState(hot: HsmHot): string {
  const state = hot.state;
  return state === 'running' ? `running/link:${hot.linkUp ? 'up' : 'down'}` : state;
}

/** The store is open from boot on; before that (or after stop) there is nothing to read. */
function storeOf(hot: HsmHot): HsmHot['store'] | undefined {
  try {
    return hot.store;
  } catch {
    return undefined;
  }
}

function statusCommand(hot: HsmHot): CommandSpec {
  return {
    path: 'status',
    summary: 'machine state, uptime, boot epoch, versions',
    access: 'read',
    run: (ctx) => {
      const store = storeOf(hot);
      const vault = hot.vaultState;
      const error = hot.error;
      const link = hot.link;
      const pairing = store === undefined ? undefined : pairingRecord(store);
      const requests = store === undefined ? undefined : { pending: store.count(pendingRequestsCollection), total: store.count(requestsCollection) };
      ctx.out.lines(
        fields([
          ['device', HOT_APP],
          ['state', stateText(hot.machineState)],
          ['uptime', formatDuration(hot.uptimeMs())],
          ['boot epoch', store?.get(linkEpochCollection, 'boot')?.epoch],
          ['clock', formatTime(ctx.clock.now())],
          ['vault', vault === undefined ? undefined : vault.state === 'locked' ? `locked (${vault.attemptsLeft} PIN attempts left)` : vault.state],
          ['identity', hot.identity],
          ['last error', error === null ? undefined : `${error.message} [${error.code}]`],
          ['link', link === undefined ? (pairing === undefined ? 'not paired' : 'not running') : link.session.state],
          ['host API', hot.hostUrl ?? 'not listening'],
          ['requests', requests === undefined ? undefined : `${requests.pending} pending, ${requests.total} in all`],
          ['firmware', FIRMWARE_VERSION],
          ['store', `format ${STORE_FORMAT}, schema ${HOT_SCHEMA_VERSION}`],
          ['node', process.versions.node],
        ]),
      );
    },
  };
}

function linkCommand(hot: HsmHot): CommandSpec {
  return {
    path: 'link',
    summary: 'serial link to HSM-Cold: session state and statistics',
    access: 'read',
    run: (ctx) => {
      const store = storeOf(hot);
      const pairing = store === undefined ? undefined : pairingRecord(store);
      const link = hot.link;
      if (link === undefined) {
        ctx.out.line(pairing === undefined ? 'not paired with HSM-Cold (pair)' : `paired with ${pairing.peerIdentity}; the link runs while HSM-Hot is running`);
        return;
      }
      ctx.out.lines(fields(linkStatusRows(link.status(), pairing)));
    },
  };
}

function channelCommand(hot: HsmHot): CommandSpec {
  const describe = (c: ChannelSummary | null | undefined): string =>
    c === null || c === undefined
      ? 'none'
      : `${c.cId} (${c.status}, created ${formatTime(c.createdAt)}${c.expiresAt === undefined ? '' : `, expires ${formatTime(c.expiresAt)}`})`;
  const show = (ctx: CommandContext): void => {
    const store = storeOf(hot);
    const report = store === undefined ? undefined : coldReport(store);
    const event = store === undefined ? undefined : lastColdEvent(store);
    ctx.out.line('as HSM-Cold last reported it (HSM-Hot keeps no channel of its own):');
    ctx.out.lines(
      fields([
        ['reported at', report === undefined ? 'never' : `${formatTime(report.at)} (${formatDuration(Math.max(0, ctx.clock.now() - report.at))} ago)`],
        ['open channel', report === undefined ? undefined : describe(report.status.channel)],
        ['pending channel', report === undefined ? undefined : describe(report.status.pendingChannel)],
        ['time trusted', report?.status.timeTrusted],
        ['last event', event === undefined ? 'none' : `${event.kind} at ${formatTime(event.at)}${event.details === '' ? '' : `: ${event.details}`}`],
      ]),
    );
    if (report !== undefined && report.status.modems.length > 0) {
      ctx.out.lines(table(['modem', 'usable', 'registered', 'signal', 'queued'], report.status.modems.map((m) => [`…${m.id.slice(-4)}`, m.usable, m.registered, m.signal, m.queued])));
    }
  };
  return { path: 'channel', summary: "HSM-Cold's channels and modems as it last reported them (read-only here)", access: 'read', run: show };
}

function requestsCommands(hot: HsmHot): CommandSpec[] {
  const show = (ctx: CommandContext, count: number): void => {
    const store = storeOf(hot);
    const lines = store === undefined ? [] : recentRequests(store, count);
    if (lines.length === 0) {
      ctx.out.line('no tx requests yet');
      return;
    }
    ctx.out.lines(
      table(
        ['no', 'requested', 'user_tx_no', 'coin', 'kind', 'amount', 'outs', 'cId', 'state', 'settled', 'txid / code'],
        lines.map((l) => [l.no, formatTime(l.requestedAt), l.userTxNo, l.coin, l.kind, l.amount, l.outputs, l.cId, l.status, l.settledAt === undefined ? undefined : formatTime(l.settledAt), l.outcome]),
      ),
    );
  };
  const count = [{ name: 'count', kind: 'int', min: 1, max: 50, optional: true }] as const;
  return [
    { path: 'requests', summary: 'recent tx requests and their state (no vc_code, PSBT or transaction shown)', access: 'read', args: count, run: (ctx, args) => show(ctx, args.optionalInt('count') ?? 10) },
    { path: 'approvals', summary: 'the same as requests: each one HSM-Cold approved or refused', access: 'read', args: count, run: (ctx, args) => show(ctx, args.optionalInt('count') ?? 10) },
  ];
}

function apiKeysCommands(hot: HsmHot): CommandSpec[] {
  const show = (ctx: CommandContext): void => {
    const store = storeOf(hot);
    const keys = store === undefined ? [] : apiKeyList(store);
    if (keys.length === 0) {
      ctx.out.line('no platform keys are registered (they are registered at provisioning)');
      return;
    }
    ctx.out.lines(table(['key', 'label', 'scopes', 'registered'], keys.map((k) => [k.key, k.label, k.scopes, formatTime(k.registeredAt)])));
  };
  return [
    { path: 'api-keys', summary: "the platform's registered public keys and their scopes", access: 'read', run: show },
    { path: 'api-keys list', summary: 'the same as api-keys', access: 'read', run: show },
  ];
}

function timeCommand(hot: HsmHot): CommandSpec {
  return {
    path: 'time',
    summary: "the clock, which HSM-Cold takes as its time source, and HSM-Cold's own verdict",
    access: 'read',
    run: (ctx) => {
      const store = storeOf(hot);
      const report = store === undefined ? undefined : coldReport(store);
      const now = ctx.clock.now();
      ctx.out.lines(
        fields([
          ['local clock', formatTime(now)],
          ['source', 'this host (HSM-Hot is online; HSM-Cold asks it with link.time)'],
          ['HSM-Cold clock', report === undefined ? 'not reported yet' : `${formatTime(report.status.now)} when it last reported`],
          ['skew then', report === undefined ? undefined : `${((report.status.now - report.at) / 1000).toFixed(1)} s`],
          ['HSM-Cold trusts its time', report?.status.timeTrusted],
        ]),
      );
    },
  };
}

function selftestCommand(hot: HsmHot, random: RandomSource): CommandSpec {
  return {
    path: 'selftest',
    summary: 'crypto known answers, a store round trip, a link ping to HSM-Cold',
    access: 'read',
    run: async (ctx) => {
      const store = storeOf(hot);
      const results: CheckResult[] = [...cryptoSelfTest()];
      results.push(store === undefined ? { name: 'store round trip', status: 'fail', detail: 'the store is not open' } : storeSelfTest(store, random, ctx.clock.now()));
      const link = hot.link;
      if (link === undefined) {
        results.push({ name: 'link ping', status: 'skip', detail: `the link is not running (HSM-Hot is ${hot.state})` });
      } else if (!link.session.isUp) {
        results.push({ name: 'link ping', status: 'skip', detail: `the link is ${link.session.state}` });
      } else {
        const data = random.bytes(16);
        const started = ctx.clock.monotonic();
        const abort = new AbortController();
        const timeout = ctx.clock.sleep(10_000, abort.signal).then(
          () => Promise.reject(new HsmError('LINK_TIMEOUT', 'no echo within 10 s')),
          () => undefined,
        );
        const echo = link.rpc.call<{ data: Uint8Array }>('link.echo', { data });
        echo.catch(() => undefined);
        try {
          const reply = (await Promise.race([echo, timeout])) as { data: Uint8Array };
          const same = Buffer.compare(Buffer.from(reply.data), Buffer.from(data)) === 0;
          results.push(same ? { name: 'link ping', status: 'pass', detail: `link.echo answered in ${Math.round(ctx.clock.monotonic() - started)} ms` } : { name: 'link ping', status: 'fail', detail: 'HSM-Cold echoed different bytes' });
        } catch (error) {
          results.push({ name: 'link ping', status: 'fail', detail: `${(error as HsmError).code ?? 'failed'}` });
        } finally {
          abort.abort();
        }
      }
      printChecks(ctx.out, results);
    },
  };
}

/** Before the first console password is set on a provisioned device, its PIN proves physical custody. */
function authorizeSetup(hot: HsmHot, random: RandomSource): ConsoleHost['authorizeSetup'] {
  return async (ctx) => {
    const state = hot.vaultState?.state;
    if (state === undefined || state === 'uninitialised' || state === 'erased') return;
    const pin = await ctx.ask('device PIN (the device is provisioned): ', { secret: true });
    const check = new Vault(hot.store, random);
    check.unlock(pin);
    check.lock();
  };
}

export interface HotConsole {
  host: ConsoleHost;
  commands: CommandSpec[];
}

export function hotConsole(hot: HsmHot, options: HotConsoleOptions): HotConsole {
  return {
    host: {
      name: HOT_APP,
      state: () => hotPromptState(hot),
      banner: () => [`firmware ${FIRMWARE_VERSION}, store schema ${HOT_SCHEMA_VERSION}`],
      authorizeSetup: authorizeSetup(hot, options.random),
    },
    commands: [
      statusCommand(hot),
      linkCommand(hot),
      channelCommand(hot),
      ...requestsCommands(hot),
      ...apiKeysCommands(hot),
      timeCommand(hot),
      selftestCommand(hot, options.random),
      ...auditCommands({ store: hot.store, app: HOT_APP }),
      ...hotActionCommands(hot),
    ],
  };
}
