// Preloaded by the bench (NODE_OPTIONS=--require, so in every node of the run): at exit, the
// process's own CPU time and peak resident memory (getrusage(2)) as one JSON line appended to
// $HSM_BENCH_USAGE_FILE. See scripts/bench/processes.ts.
'use strict';
const { appendFileSync } = require('node:fs');

const file = process.env.HSM_BENCH_USAGE_FILE;
if (file !== undefined) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    appendFileSync(file, `${JSON.stringify({ pid: process.pid, cpuUs: usage.userCPUTime + usage.systemCPUTime, maxRssKiB: usage.maxRSS })}\n`);
  });
}
