/**
 * HSM-Cold's diagnostics console: the host (prompt state, banner, what `setup` asks) and the
 * read-only commands over `ColdDevice`; the privileged ones are in console-actions.ts.
 *
 *   const { host, commands } = coldConsole(device, { random });
 *   serveConsole({ port, clock, random, store: device.store, host, commands });
 * @module
 */
import { auditCommands, printChecks } from '../shared/console/common-commands.ts';
import { linkStatusRows, stateText } from '../shared/console/device-views.ts';
import { fields, formatDuration, formatTime, sanitizeInline, shorten, table } from '../shared/console/format.ts';
import type { CommandContext, CommandSpec } from '../shared/console/registry.ts';
import { cryptoSelfTest, storeSelfTest, type CheckResult } from '../shared/console/selftest.ts';
import type { ConsoleHost } from '../shared/console/session.ts';
import { BATCH_SIZE, MAX_BATCH_NO, batchContentString, batchRange } from '../shared/crypto/batch-content.ts';
import { addressBatchChunks } from '../shared/crypto/batch-derivation.ts';
import { bytesToHex, sha256 } from '../shared/crypto/hash.ts';
import { CHAIN, accountSpec, importAccountXpub } from '../shared/crypto/hd.ts';
import { COINS, getNetwork, type Coin } from '../shared/crypto/networks.ts';
import { parseOuts } from '../shared/crypto/request-string.ts';
import { HsmError } from '../shared/errors.ts';
import { packageVersion } from '../shared/package.ts';
import { linkEpochCollection } from '../shared/link/epoch.ts';
import { pairingRecord } from '../shared/link/pairing.ts';
import type { RandomSource } from '../shared/random.ts';
import { STORE_FORMAT } from '../shared/store/store.ts';
import { Vault, type KdfCost } from '../shared/store/vault.ts';
import { batchAccount } from './batches.ts';
import type { ColdConfigInput } from './config.ts';
import { coldActionCommands } from './console-actions.ts';
import { recentApprovals, recentRefusals, recentSms, registrationText, signalText } from './console-views.ts';
import { COLD_APP, COLD_SCHEMA_VERSION, type ColdDevice } from './main.ts';
import { evaluatePolicy, spendsInPeriod } from './policy.ts';
import { loadColdConfig } from './provisioning.ts';
import { timeTrust } from './time-trust.ts';

const FIRMWARE_VERSION = packageVersion();

export interface ColdConsoleOptions {
  random: RandomSource;
  /** Defaults offered by the guided `provision` (from the hardware profile). */
  provisionDefaults?: ColdConfigInput;
  /** Vault KDF cost for `provision` (tests use a cheap one). */
  kdf?: KdfCost;
}

/** `running/link:up`, `locked`, `provisioning`... */
export function coldPromptState(device: ColdDevice): string {
  const snapshot = device.snapshot;
  if (snapshot.matches('running')) return `running/link:${snapshot.matches({ running: { link: 'up' } }) ? 'up' : 'down'}`;
  const value = snapshot.value as unknown;
  return typeof value === 'string' ? value : (Object.keys(value as object)[0] ?? 'unknown');
}

export { stateText };

function requireCoin(device: ColdDevice, text: string | undefined): Coin {
  const config = loadColdConfig(device.store);
  const served = Object.keys(config.coins) as Coin[];
  if (text === undefined) return served[0] as Coin;
  const coin = text.toUpperCase() as Coin;
  if (!(COINS as readonly string[]).includes(coin) || config.coins[coin] === undefined) {
    throw new HsmError('CONSOLE_BAD_ARGUMENT', `coin must be one this device serves (${served.join(', ')}), got "${text.slice(0, 8)}"`, { field: 'coin' });
  }
  return coin;
}

const COIN_ARG = { name: 'coin', kind: 'word', pattern: /[A-Za-z]{3,4}/, expected: 'a coin code such as BTC' } as const;

function statusCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'status',
    summary: 'machine state, uptime, boot epoch, versions',
    access: 'read',
    run: (ctx) => {
      const status = device.status();
      const epoch = device.store.get(linkEpochCollection, 'boot')?.epoch;
      const channel = status.channel;
      ctx.out.lines(
        fields([
          ['device', COLD_APP],
          ['state', stateText(status.state)],
          ['uptime', formatDuration(device.uptimeMs())],
          ['boot epoch', epoch],
          ['clock', formatTime(ctx.clock.now())],
          ['vault', device.vault.state],
          ['last error', status.lastError === undefined ? undefined : `${status.lastError.message} [${status.lastError.code}]`],
          ['link', status.link === undefined ? (pairingRecord(device.store) === undefined ? 'not paired' : 'not running') : status.link.state],
          ['channel', channel === undefined ? 'none open' : `${channel.cId} (${channel.status})`],
          ['window', status.window === undefined ? undefined : `${status.window.open ? 'open' : 'closed'}: ${status.window.reason}`],
          ['time trusted', status.time?.trusted],
          ['firmware', FIRMWARE_VERSION],
          ['store', `format ${STORE_FORMAT}, schema ${COLD_SCHEMA_VERSION}`],
          ['node', process.versions.node],
        ]),
      );
    },
  };
}

function linkCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'link',
    summary: 'serial link to HSM-Hot: session state and statistics',
    access: 'read',
    run: (ctx) => {
      const link = device.status().link;
      const pairing = pairingRecord(device.store);
      if (link === undefined) {
        ctx.out.line(pairing === undefined ? 'not paired with HSM-Hot (pair)' : `paired with ${pairing.peerIdentity}; the link runs while HSM-Cold is running`);
        return;
      }
      ctx.out.lines(fields(linkStatusRows(link, pairing)));
    },
  };
}

function modemCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'modem',
    summary: 'each SIM: registration, operator, signal, IMSI tail; the outbound queue',
    access: 'read',
    run: (ctx) => {
      const status = device.status();
      if (status.modems.length === 0) {
        ctx.out.line('the modems run while HSM-Cold is running');
        return;
      }
      ctx.out.lines(
        table(
          ['modem', 'state', 'registration', 'operator', 'signal', 'IMSI', 'score', 'last error'],
          status.modems.map((m) => [m.name, m.state, registrationText(m.regStat), m.operator, signalText(m.rssi), m.imsiTail === undefined ? undefined : `…${m.imsiTail}`, m.score, m.lastError]),
        ),
      );
      ctx.out.line(`outbound queue: ${status.outbox.queued} queued, ${status.outbox.sending} sending, ${status.outbox.failed} failed`);
    },
  };
}

function smsCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'sms',
    summary: 'recent SMS traffic, numbers masked and keys shortened',
    access: 'read',
    args: [{ name: 'count', kind: 'int', min: 1, max: 50, optional: true }],
    run: (ctx, args) => {
      const lines = recentSms(device.store, args.optionalInt('count') ?? 10);
      if (lines.length === 0) {
        ctx.out.line('no SMS yet');
        return;
      }
      ctx.out.lines(table(['time', 'dir', 'number', 'state', 'text'], lines.map((l) => [formatTime(l.at), l.direction, l.number, l.state, l.text])));
    },
  };
}

function channelCommands(device: ColdDevice): CommandSpec[] {
  const current = (ctx: CommandContext): void => {
    const status = device.status();
    const describe = (c: typeof status.channel): string =>
      c === undefined ? 'none' : `${c.cId} (${c.status}, H_ID ${c.hId}, QH ${shorten(c.qh)}, created ${formatTime(c.createdAt)}${c.expiresAt === undefined ? '' : `, expires ${formatTime(c.expiresAt)}`})`;
    ctx.out.lines(
      fields([
        ['open channel', describe(status.channel)],
        ['pending channel', describe(status.pendingChannel)],
        ['rotation window', status.window === undefined ? 'unknown while HSM-Cold is not running' : `${status.window.open ? 'open' : 'closed'}: ${status.window.reason}`],
        [
          'refused requests',
          status.refusedChannelRequests.count === 0
            ? 'none'
            : `${status.refusedChannelRequests.count}, last ${formatTime(status.refusedChannelRequests.lastAt ?? 0)}: ${status.refusedChannelRequests.lastReason ?? ''}`,
        ],
      ]),
    );
  };
  return [
    { path: 'channel', summary: 'the open and pending channels and the rotation window', access: 'read', run: current },
    { path: 'channel current', summary: 'the same as channel', access: 'read', run: current },
    {
      path: 'channel list',
      summary: 'recent channels, newest first',
      access: 'read',
      args: [{ name: 'count', kind: 'int', min: 1, max: 50, optional: true }],
      run: (ctx, args) => {
        const channels = device.recentChannels(args.optionalInt('count') ?? 10);
        if (channels.length === 0) {
          ctx.out.line('no channels yet');
          return;
        }
        ctx.out.lines(
          table(
            ['cId', 'status', 'H_ID', 'created', 'opened', 'expires', 'closed / reason'],
            channels.map((c) => [
              c.cId,
              c.status,
              c.hId,
              formatTime(c.createdAt),
              c.openedAt === undefined ? undefined : formatTime(c.openedAt),
              c.expiresAt === undefined ? undefined : formatTime(c.expiresAt),
              c.closedAt === undefined ? undefined : `${formatTime(c.closedAt)} ${sanitizeInline(c.closeReason ?? '', 60)}`,
            ]),
          ),
        );
      },
    },
  ];
}

/** Addresses are derived in slices so progress shows and ^C takes effect between them. */
const BATCH_SLICE = 250;

function batchCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'batch verify',
    summary: 'derive an address batch as the V-Device will check it (progress, first/last, content hash)',
    access: 'read',
    args: [
      { name: 'type', kind: 'enum', values: ['hot', 'cold'] },
      { name: 'batch', kind: 'int', min: 0, max: MAX_BATCH_NO },
      { ...COIN_ARG, optional: true },
    ],
    run: async (ctx, args) => {
      const type = args.str('type') as 'hot' | 'cold';
      const coin = requireCoin(device, args.optionalStr('coin'));
      const account = batchAccount(device.store, type, coin);
      if (account === undefined) throw new HsmError('BATCH_NO_ACCOUNT', `no ${type} ${coin} account is known${type === 'hot' ? ' (HSM-Hot has not pinned its xpubs yet)' : ''}`);
      const range = batchRange(args.int('batch'));
      const spec = accountSpec(getNetwork(account.network), account.type, account.account);
      const node = importAccountXpub(account.xpub, spec);
      ctx.out.line(`batch ${range.batchNo}: ${type} ${coin} ${account.type}, account ${account.account} (${shorten(account.xpub, 8)}), indexes ${range.from}..${range.from + BATCH_SIZE - 1}`);
      const addresses: string[] = [];
      for (let from = range.from; from < range.from + BATCH_SIZE; from += BATCH_SLICE) {
        for await (const chunk of addressBatchChunks(node, spec, CHAIN.external, from, BATCH_SLICE, { signal: ctx.signal })) addresses.push(...chunk.addresses);
        ctx.out.line(`derived ${addresses.length}/${BATCH_SIZE}`);
      }
      const content = batchContentString(addresses);
      ctx.out.lines(
        fields([
          ['first', `0,${addresses[0]}`],
          ['last', `${BATCH_SIZE - 1},${addresses[BATCH_SIZE - 1]}`],
          ['content SHA-256', bytesToHex(sha256(new TextEncoder().encode(content)))],
        ]),
      );
    },
  };
}

function policyCommands(device: ColdDevice): CommandSpec[] {
  const show = (ctx: CommandContext): void => {
    const config = loadColdConfig(device.store);
    const now = ctx.clock.now();
    const rows = (Object.keys(config.coins) as Coin[]).map((coin) => {
      const policy = config.coins[coin]!.policy;
      const used = spendsInPeriod(device.store, coin, policy.periodHours * 3_600_000, now);
      return [
        coin,
        policy.maxPerTx,
        policy.maxPerPeriod,
        `${used.total}`,
        `${used.count}/${policy.maxCountPerPeriod}`,
        `${policy.periodHours} h`,
        policy.allowList.length === 0 ? 'any' : `${policy.allowList.length} addresses`,
      ];
    });
    ctx.out.lines(table(['coin', 'max per request', 'max per period', 'used in period', 'requests', 'period', 'destinations'], rows));
  };
  return [
    { path: 'policy', summary: 'the spending policy per coin and what the current period used', access: 'read', run: show },
    { path: 'policy show', summary: 'the same as policy', access: 'read', run: show },
    {
      path: 'policy test',
      summary: 'would the policy approve this amount (to this address) now? nothing is recorded',
      access: 'read',
      args: [COIN_ARG, { name: 'amount', kind: 'word', pattern: /0|[1-9][0-9]{0,19}/, expected: 'an amount in the smallest unit' }, { name: 'address', kind: 'word', pattern: /[A-Za-z0-9]{20,90}/, expected: 'an address', optional: true }],
      run: (ctx, args) => {
        const coin = requireCoin(device, args.str('coin'));
        const config = loadColdConfig(device.store);
        const coinConfig = config.coins[coin]!;
        const amount = BigInt(args.str('amount'));
        const address = args.optionalStr('address');
        const payments = address === undefined ? [] : (() => {
          const outs = parseOuts(`${address},${amount}`, getNetwork(coinConfig.network));
          return outs.kind === 'payments' ? outs.payments : [];
        })();
        const verdict = evaluatePolicy(device.store, coin, coinConfig.policy, payments, amount, ctx.clock.now());
        if (verdict.ok) ctx.out.ok(`would be approved by policy (${amount} in ${coin}'s smallest unit)`);
        else ctx.out.warn(`would be refused: ${verdict.message} [${verdict.code}]`);
        if (address === undefined && coinConfig.policy.allowList.length > 0) ctx.out.line('the allow-list was not checked: no address given');
      },
    },
  ];
}

function approvalsCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'approvals',
    summary: 'recent approvals and refusals',
    access: 'read',
    args: [{ name: 'count', kind: 'int', min: 1, max: 50, optional: true }],
    run: (ctx, args) => {
      const count = args.optionalInt('count') ?? 10;
      const approvals = recentApprovals(device.store, count);
      ctx.out.heading('approvals');
      if (approvals.length === 0) ctx.out.line('none');
      else
        ctx.out.lines(
          table(
            ['time', 'user_tx_no', 'kind', 'coin', 'amount', 'cId', 'request hash'],
            approvals.map((a) => [formatTime(a.approvedAt), sanitizeInline(a.userTxNo, 32), a.kind, a.coin, a.amount, a.cId, shorten(a.requestHash, 8)]),
          ),
        );
      const refusals = recentRefusals(device.store, count);
      ctx.out.heading('refusals');
      if (refusals.length === 0) ctx.out.line('none');
      else ctx.out.lines(table(['time', 'user_tx_no', 'cId', 'code', 'reason'], refusals.map((r) => [formatTime(r.at), sanitizeInline(r.userTxNo, 32), r.cId, r.code, sanitizeInline(r.message, 80)])));
    },
  };
}

function timeCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'time',
    summary: 'the clock, its time sources and their skew',
    access: 'read',
    run: (ctx) => {
      const config = loadColdConfig(device.store);
      const now = ctx.clock.now();
      const trust = timeTrust(device.store, config, now);
      ctx.out.lines(
        fields([
          ['local clock', formatTime(now)],
          ['trusted', trust.trusted ? 'yes' : `no: ${trust.reason ?? 'unknown'}`],
          ['max skew', `${config.time.maxSkewSeconds} s`],
          ['samples count for', `${config.time.sampleMaxAgeMinutes} min`],
          ['rotation window', `${config.rotation.from}-${config.rotation.to} ${config.rotation.timeZone}`],
        ]),
      );
      if (trust.samples.length === 0) ctx.out.line('no recent samples from the modems or HSM-Hot');
      else ctx.out.lines(table(['source', 'offset', 'age'], trust.samples.map((s) => [s.source, `${(s.offsetMs / 1000).toFixed(1)} s`, formatDuration(s.ageMs)])));
    },
  };
}

function selftestCommand(device: ColdDevice, random: RandomSource): CommandSpec {
  return {
    path: 'selftest',
    summary: 'crypto known answers, a store round trip, a link ping, AT to each modem',
    access: 'read',
    run: async (ctx) => {
      const results: CheckResult[] = [...cryptoSelfTest(), storeSelfTest(device.store, random, ctx.clock.now())];
      const status = device.status();
      if (status.link === undefined) {
        results.push({ name: 'link ping', status: 'skip', detail: 'the link is not running (locked or not paired)' });
      } else if (status.link.state !== 'up') {
        results.push({ name: 'link ping', status: 'skip', detail: `the link is ${status.link.state}` });
      } else {
        try {
          const rtt = await device.linkEcho(random.bytes(16), 10_000);
          results.push({ name: 'link ping', status: 'pass', detail: `link.echo answered in ${Math.round(rtt)} ms` });
        } catch (error) {
          results.push({ name: 'link ping', status: 'fail', detail: `${(error as HsmError).code ?? 'failed'}` });
        }
      }
      if (status.modems.length === 0) results.push({ name: 'modem AT', status: 'skip', detail: 'the modems run while HSM-Cold is running' });
      else for (const m of await device.pingModems()) results.push({ name: `modem ${m.name} AT`, status: m.ok ? 'pass' : 'fail', detail: m.detail });
      printChecks(ctx.out, results);
    },
  };
}

/** Before the first console password is set on a provisioned device, its PIN proves physical custody. */
function authorizeSetup(device: ColdDevice, random: RandomSource): ConsoleHost['authorizeSetup'] {
  return async (ctx) => {
    const state = device.vault.state;
    if (state === 'uninitialised' || state === 'erased') return;
    const pin = await ctx.ask('device PIN (the device is provisioned): ', { secret: true });
    const check = new Vault(device.store, random);
    check.unlock(pin);
    check.lock();
  };
}

export interface ColdConsole {
  host: ConsoleHost;
  commands: CommandSpec[];
}

export function coldConsole(device: ColdDevice, options: ColdConsoleOptions): ColdConsole {
  return {
    host: {
      name: COLD_APP,
      state: () => coldPromptState(device),
      banner: () => [`firmware ${FIRMWARE_VERSION}, store schema ${COLD_SCHEMA_VERSION}`],
      authorizeSetup: authorizeSetup(device, options.random),
    },
    commands: [
      statusCommand(device),
      linkCommand(device),
      modemCommand(device),
      smsCommand(device),
      ...channelCommands(device),
      batchCommand(device),
      ...policyCommands(device),
      approvalsCommand(device),
      timeCommand(device),
      selftestCommand(device, options.random),
      ...auditCommands({ store: device.store, app: COLD_APP }),
      ...coldActionCommands(device, options),
    ],
  };
}
