// Preloaded with `--import` through NODE_OPTIONS, so every node process of a run loads it: appends
// one JSON line to $HSM_TRACE_FILE for each module a process loads ({pid, module}) and for each
// process it starts ({pid, spawn, call, args, execArgv}). test/build/compiled.test.ts reads it to
// show what the compiled code loads and starts.
import childProcess from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createRequire, register, syncBuiltinESMExports } from 'node:module';

const file = process.env.HSM_TRACE_FILE;
if (file === undefined) throw new Error('trace-node.mjs needs HSM_TRACE_FILE');
const trace = (entry) => appendFileSync(file, `${JSON.stringify({ pid: process.pid, ...entry })}\n`);

// ES modules: a loader hook (trace-hooks.mjs) sees every module as it loads.
register('./trace-hooks.mjs', import.meta.url, { data: { file, pid: process.pid } });

// CommonJS modules (the packages ES modules import are CommonJS too): the loader's cache at exit.
const { cache } = createRequire(import.meta.url);
process.on('exit', () => {
  for (const path of Object.keys(cache)) trace({ module: path });
});

// Every way node starts a process (fork and exec reach spawn internally, so each is wrapped).
for (const name of ['spawn', 'spawnSync', 'fork', 'execFile', 'execFileSync', 'exec', 'execSync']) {
  const original = childProcess[name];
  childProcess[name] = function traced(command, ...rest) {
    const args = Array.isArray(rest[0]) ? rest[0].map(String) : [];
    const options = rest.find((r) => r !== null && typeof r === 'object' && !Array.isArray(r)) ?? {};
    trace({ spawn: String(command), call: name, args, execArgv: options.execArgv ?? null });
    return original.call(this, command, ...rest);
  };
}
syncBuiltinESMExports();
