// Entry point: `node main.js <config.json>` runs one scenario and prints one JSON line on stdout (logs go to stderr).
"use strict";
const fs = require("node:fs");
const scenarios = require("./scenarios");

async function main() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const run = scenarios[cfg.scenario];
  if (!run) throw new Error(`unknown scenario ${cfg.scenario}`);
  const t0 = process.cpuUsage();
  const result = await run(cfg);
  const cpu = process.cpuUsage(t0);
  return { ok: true, scenario: cfg.scenario, ...result, loadgen_total_cpu_s: (cpu.user + cpu.system) / 1e6 };
}

main().then(
  (out) => { process.stdout.write(JSON.stringify(out) + "\n"); process.exit(0); },
  (err) => { process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.message || err) }) + "\n"); process.exit(0); },
);
