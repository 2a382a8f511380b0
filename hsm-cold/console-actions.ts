/**
 * HSM-Cold's privileged console commands (each asks a TOTP code first; zeroize is two-step):
 * the operator's rotation window, the policy, unlock / lock / reboot, the guided provisioning
 * (the new mnemonic is shown once, here and nowhere else), interactive pairing with HSM-Hot
 * (both consoles show the same 6-digit code), and zeroize.
 * @module
 */
import { fields, formatTime } from '../shared/console/format.ts';
import type { CommandContext, CommandSpec } from '../shared/console/registry.ts';
import { cancelled } from '../shared/console/session.ts';
import { MNEMONIC_WORD_COUNTS, validateMnemonic, type MnemonicWordCount } from '../shared/crypto/hd.ts';
import { COINS, type Coin } from '../shared/crypto/networks.ts';
import { HsmError, isHsmError } from '../shared/errors.ts';
import { pairingRecord } from '../shared/link/pairing.ts';
import { checkPinFormat, type KdfCost } from '../shared/store/vault.ts';
import { parseColdConfig, type ColdConfigInput } from './config.ts';
import type { ColdDevice } from './main.ts';
import { loadColdConfig } from './provisioning.ts';
import { COLD_RECORDS, SINGLETON } from './records.ts';

export interface ColdActionOptions {
  provisionDefaults?: ColdConfigInput;
  kdf?: KdfCost;
}

const SETTLE_MS = 60_000;

/** Resolves once `done()` holds (checked on every machine change), or rejects after `limitMs`. */
function waitForDevice(device: ColdDevice, ctx: CommandContext, done: () => boolean, what: string, limitMs = SETTLE_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    if (done()) {
      resolve();
      return;
    }
    const finish = (error?: HsmError): void => {
      off();
      ctx.clock.clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const off = device.onChange(() => {
      if (done()) finish();
    });
    const timer = ctx.clock.setTimeout(() => finish(new HsmError('CONSOLE_TIMEOUT', `HSM-Cold did not ${what} within ${limitMs / 1000} s`)), limitMs);
    const onAbort = (): void => finish(cancelled('stopped waiting (the action goes on)'));
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}

function isSettled(device: ColdDevice): boolean {
  const s = device.snapshot;
  return !s.matches('booting') && !s.matches('unlocking') && !s.matches('starting') && !s.matches('stopping') && !s.matches({ provisioning: 'saving' });
}

function requireState(device: ColdDevice, state: 'locked' | 'running' | 'provisioning', action: string): void {
  if (!device.snapshot.matches(state)) {
    const value = device.snapshot.value;
    throw new HsmError('CONSOLE_WRONG_STATE', `${action} needs HSM-Cold to be ${state}; it is ${typeof value === 'string' ? value : Object.keys(value)[0]}`);
  }
}

function windowCommands(device: ColdDevice): CommandSpec[] {
  return [
    {
      path: 'channel open-window',
      summary: 'accept a new channel for the next <minutes>, outside the nightly window',
      access: 'privileged',
      args: [{ name: 'minutes', kind: 'int', min: 1, max: 720 }],
      run: (ctx, args) => {
        requireState(device, 'running', 'opening the window');
        const until = device.openWindow(args.int('minutes'));
        ctx.out.ok(`rotation window open until ${formatTime(until)}`);
      },
    },
    {
      path: 'channel close',
      summary: 'close the rotation window an operator opened',
      access: 'privileged',
      run: (ctx) => {
        requireState(device, 'running', 'closing the window');
        if (device.store.get(COLD_RECORDS.channelState, SINGLETON)?.operatorWindowUntil === undefined) {
          throw new HsmError('CONSOLE_NOTHING_TO_DO', 'no operator window is open');
        }
        device.closeWindow();
        ctx.out.ok('operator window closed');
      },
    },
  ];
}

const POLICY_FIELDS = { 'max-per-tx': 'maxPerTx', 'max-per-period': 'maxPerPeriod', 'max-count': 'maxCountPerPeriod', 'period-hours': 'periodHours' } as const;

function policySetCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'policy set',
    summary: 'change one limit of a coin\'s policy (amounts in the smallest unit)',
    access: 'privileged',
    args: [
      { name: 'coin', kind: 'word', pattern: /[A-Za-z]{3,4}/, expected: 'a coin code such as BTC' },
      { name: 'limit', kind: 'enum', values: Object.keys(POLICY_FIELDS) },
      { name: 'value', kind: 'word', pattern: /0|[1-9][0-9]{0,19}/, expected: 'a whole number' },
    ],
    run: (ctx, args) => {
      const coin = args.str('coin').toUpperCase() as Coin;
      if (!(COINS as readonly string[]).includes(coin)) throw new HsmError('CONSOLE_BAD_ARGUMENT', `coin must be one of ${COINS.join(', ')}`, { field: 'coin' });
      const current = loadColdConfig(device.store).coins[coin];
      if (current === undefined) throw new HsmError('COIN_NOT_SERVED', `${coin} is not served by this device`, { field: 'coin' });
      const field = POLICY_FIELDS[args.str('limit') as keyof typeof POLICY_FIELDS];
      const text = args.str('value');
      const value = field === 'maxPerTx' || field === 'maxPerPeriod' ? text : Number(text);
      const policy = device.setCoinPolicy(coin, { ...current.policy, [field]: value });
      ctx.out.ok(`${coin} ${args.str('limit')}: ${String(current.policy[field])} → ${String(policy[field])}`);
    },
  };
}

function lifecycleCommands(device: ColdDevice): CommandSpec[] {
  return [
    {
      path: 'unlock',
      summary: 'unlock the vault with the device PIN and start the services',
      access: 'privileged',
      run: async (ctx) => {
        requireState(device, 'locked', 'unlock');
        const pin = await ctx.ask('device PIN: ', { secret: true });
        checkPinFormat(pin);
        device.unlock(pin);
        await waitForDevice(device, ctx, () => isSettled(device), 'unlock');
        if (device.snapshot.matches('running')) {
          ctx.out.ok('unlocked; HSM-Cold is running');
          return;
        }
        const error = device.snapshot.context.lastError;
        throw new HsmError(error?.code ?? 'UNLOCK_FAILED', error?.message ?? 'the vault did not unlock');
      },
    },
    {
      path: 'lock',
      summary: 'stop the services and forget the vault key until the next unlock',
      access: 'privileged',
      run: async (ctx) => {
        requireState(device, 'running', 'lock');
        device.lock();
        await waitForDevice(device, ctx, () => device.snapshot.matches('locked'), 'lock');
        ctx.out.ok('locked');
      },
    },
    {
      path: 'reboot',
      summary: 'restart the device\'s services from boot (it comes back locked)',
      access: 'privileged',
      run: async (ctx) => {
        ctx.out.line('rebooting...');
        await device.restart();
        await waitForDevice(device, ctx, () => isSettled(device), 'boot');
        const value = device.snapshot.value;
        ctx.out.ok(`rebooted; HSM-Cold is ${typeof value === 'string' ? value : Object.keys(value)[0]}`);
      },
    },
  ];
}

async function askWithDefault(ctx: CommandContext, label: string, fallback: string | undefined): Promise<string> {
  for (;;) {
    const answer = (await ctx.ask(fallback === undefined ? `${label}: ` : `${label} [${fallback}]: `)).trim();
    if (answer !== '') return answer;
    if (fallback !== undefined) return fallback;
    ctx.out.line(`${label} is needed`);
  }
}

/** The configuration, asked field by field with the profile's values as defaults. */
async function askConfiguration(ctx: CommandContext, defaults: ColdConfigInput | undefined): Promise<unknown> {
  const coinDefault = Object.keys(defaults?.coins ?? {})[0] ?? 'BTC';
  const coin = (await askWithDefault(ctx, 'coin', coinDefault)).toUpperCase();
  const base = (defaults?.coins as Record<string, { network?: string; addressType?: string; account?: number; policy?: Record<string, unknown> }> | undefined)?.[coin];
  const policy = base?.policy ?? {};
  const text = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
  const config = {
    vDeviceNumbers: [await askWithDefault(ctx, 'V-Device number', defaults?.vDeviceNumbers?.[0])],
    adminNumbers: [await askWithDefault(ctx, 'administrator number', defaults?.adminNumbers?.[0])],
    coins: {
      [coin]: {
        network: await askWithDefault(ctx, 'network', base?.network ?? `${coin.toLowerCase()}-main`),
        addressType: await askWithDefault(ctx, 'address type (p2pkh, p2wpkh)', base?.addressType ?? 'p2wpkh'),
        account: Number(await askWithDefault(ctx, 'account', text(base?.account ?? 0))),
        policy: {
          maxPerTx: await askWithDefault(ctx, 'max per request (smallest unit)', text(policy.maxPerTx)),
          maxPerPeriod: await askWithDefault(ctx, 'max per period (smallest unit)', text(policy.maxPerPeriod)),
          maxCountPerPeriod: Number(await askWithDefault(ctx, 'max requests per period', text(policy.maxCountPerPeriod ?? 10))),
          periodHours: Number(await askWithDefault(ctx, 'period (hours)', text(policy.periodHours ?? 24))),
          allowList: (policy.allowList as string[] | undefined) ?? [],
        },
      },
    },
    rotation: {
      ...(defaults?.rotation ?? {}),
      from: await askWithDefault(ctx, 'rotation window from (HH:MM)', defaults?.rotation?.from ?? '23:00'),
      to: await askWithDefault(ctx, 'rotation window to (HH:MM)', defaults?.rotation?.to ?? '04:00'),
      timeZone: await askWithDefault(ctx, 'time zone', defaults?.rotation?.timeZone ?? 'Asia/Shanghai'),
    },
    ...(defaults?.alerts !== undefined ? { alerts: defaults.alerts } : {}),
    ...(defaults?.time !== undefined ? { time: defaults.time } : {}),
  };
  return parseColdConfig(config);
}

/** A restored mnemonic's errors, without the words (an unknown word is likely a typo of a secret one). */
async function askMnemonic(ctx: CommandContext): Promise<string> {
  const words = await ctx.ask('mnemonic words (not echoed): ', { secret: true });
  try {
    return validateMnemonic(words);
  } catch (error) {
    if (isHsmError(error, 'MNEMONIC_UNKNOWN_WORD')) throw new HsmError('MNEMONIC_UNKNOWN_WORD', `${error.field ?? 'a word'} is not in the BIP39 English wordlist`, { field: error.field });
    throw error;
  }
}

function showMnemonicOnce(ctx: CommandContext, mnemonic: string): void {
  const words = mnemonic.split(' ');
  ctx.out.warn('write these words down now, in order: they are shown this once and never stored');
  for (let i = 0; i < words.length; i += 4) {
    ctx.out.line(words.slice(i, i + 4).map((w, j) => `${String(i + j + 1).padStart(2)} ${w.padEnd(10)}`).join(' ').trimEnd());
  }
}

function provisionCommand(device: ColdDevice, options: ColdActionOptions): CommandSpec {
  return {
    path: 'provision',
    summary: 'guided provisioning: new or restored mnemonic, PIN, configuration',
    access: 'privileged',
    run: async (ctx) => {
      requireState(device, 'provisioning', 'provisioning');
      const mode = (await askWithDefault(ctx, 'new mnemonic or restore one? (new, restore)', 'new')).toLowerCase();
      if (mode !== 'new' && mode !== 'restore') throw new HsmError('CONSOLE_BAD_ANSWER', `answer new or restore, not "${mode.slice(0, 16)}"`, { field: 'mode' });
      let mnemonic: string | undefined;
      let words: MnemonicWordCount = 24;
      if (mode === 'restore') {
        mnemonic = await askMnemonic(ctx);
      } else {
        const count = Number(await askWithDefault(ctx, `words (${MNEMONIC_WORD_COUNTS.join(', ')})`, '24'));
        if (!(MNEMONIC_WORD_COUNTS as readonly number[]).includes(count)) throw new HsmError('CONSOLE_BAD_ANSWER', `a mnemonic has ${MNEMONIC_WORD_COUNTS.join(', ')} words`, { field: 'words' });
        words = count as MnemonicWordCount;
      }
      const pin = await ctx.ask('device PIN (4-64 characters, not echoed): ', { secret: true });
      checkPinFormat(pin);
      if ((await ctx.ask('device PIN again: ', { secret: true })) !== pin) throw new HsmError('CONSOLE_PIN_MISMATCH', 'the two PINs differ; nothing was provisioned', { field: 'pin' });
      const config = await askConfiguration(ctx, options.provisionDefaults);
      ctx.out.lines(fields([['mnemonic', mode === 'new' ? `new, ${words} words` : 'restored'], ['configuration', 'checked']]));
      if (!(await ctx.confirm('provision HSM-Cold now?'))) {
        ctx.out.line('not provisioned');
        return;
      }
      const result = await device.provision({ pin, config, words, ...(mnemonic !== undefined ? { mnemonic } : {}), ...(options.kdf !== undefined ? { kdf: options.kdf } : {}) });
      if (result.mnemonic !== undefined) {
        showMnemonicOnce(ctx, result.mnemonic);
        await ctx.ask('press Enter once the words are written down ');
      }
      ctx.out.lines(fields([['identity', result.identity], ...result.coldAccounts.map((a) => [`${a.coin} account ${a.account}`, a.xpub] as const)]));
      await waitForDevice(device, ctx, () => isSettled(device), 'start');
      ctx.out.ok('provisioned; HSM-Cold is starting its services');
    },
  };
}

function pairCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'pair',
    summary: 'pair with HSM-Hot: both consoles show a 6-digit code to compare',
    access: 'privileged',
    run: async (ctx) => {
      const existing = pairingRecord(device.store);
      if (existing !== undefined) {
        ctx.out.lines(fields([['paired with', existing.peerIdentity], ['since', formatTime(existing.pairedAt)], ['method', existing.method]]));
        return;
      }
      requireState(device, 'running', 'pairing');
      ctx.out.line('pairing over the link port; start the pairing on HSM-Hot\'s console too (^C stops)');
      const pairing = await device.beginPairing({ signal: ctx.signal, timeoutMs: 120_000 });
      const code = `${pairing.code.slice(0, 3)} ${pairing.code.slice(3)}`;
      ctx.out.lines(fields([['pairing code', code], ['HSM-Hot identity', pairing.peerIdentity]]));
      let same = false;
      try {
        same = await ctx.confirm('does HSM-Hot\'s console show the same code?');
      } finally {
        if (!same) await pairing.cancel();
      }
      if (!same) {
        ctx.out.warn('not paired: the codes must match on both consoles');
        return;
      }
      await pairing.confirm();
      ctx.out.ok('paired with HSM-Hot; the link is starting');
    },
  };
}

function zeroizeCommand(device: ColdDevice): CommandSpec {
  return {
    path: 'zeroize',
    summary: 'erase every secret (seed, identity, channel and link keys) and the provisioning',
    access: 'destructive',
    preview: (ctx) => {
      ctx.out.warn('zeroize erases the cold seed, the identity key, the channel keys and the link key,');
      ctx.out.warn('forgets the provisioning and the pairing, and closes the open channel.');
      ctx.out.warn('Only the mnemonic written down at provisioning can restore the cold keys.');
    },
    run: async (ctx) => {
      await device.zeroize('zeroized from the console');
      await waitForDevice(device, ctx, () => isSettled(device), 'boot');
      ctx.out.ok('zeroized; HSM-Cold waits to be provisioned again');
    },
  };
}

export function coldActionCommands(device: ColdDevice, options: ColdActionOptions): CommandSpec[] {
  return [...windowCommands(device), policySetCommand(device), ...lifecycleCommands(device), provisionCommand(device, options), pairCommand(device), zeroizeCommand(device)];
}
