import { spawn } from 'node:child_process';

const HSM = new URL('../../bin/hsm.mjs', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `hsm <args>` as a user would (through the package bin), optionally feeding stdin;
 * `env` replaces variables of this process's environment (PATH...).
 */
export function hsm(args: string[], stdin?: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCommand(process.execPath, [HSM, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, ...(stdin === undefined ? {} : { stdin }) });
}

/** Runs a program to its end with exactly `env`, feeding `stdin` (or nothing); its output and exit code. */
export function runCommand(command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; stdin?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
