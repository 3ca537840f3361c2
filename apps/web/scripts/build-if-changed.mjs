// `next build`, unless .next already holds a build of these sources with these settings: NEXT_PUBLIC_* are inlined at
// build time, so they are part of what is built. Used by ./start-optimistic-messaging.sh and the browser tests.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const app = join(import.meta.dirname, "..");
// Outputs of builds and tools, not inputs (hashing them would make every build stale), and what no build contains:
// the unit tests with their stand-ins, and the documentation; public/sw.js is built from src/sw.
const SKIPPED = new Set(["node_modules", ".next", "next-env.d.ts", "testing", "sw.js"]);
const skipped = (name) =>
  SKIPPED.has(name) || name.endsWith(".tsbuildinfo") || name.endsWith(".test.ts") || name.endsWith(".md");

function files(folder) {
  return readdirSync(folder, { withFileTypes: true })
    .filter((entry) => !skipped(entry.name))
    .flatMap((entry) => (entry.isDirectory() ? files(join(folder, entry.name)) : [join(folder, entry.name)]));
}

const digest = createHash("sha256");
const settings = Object.entries(process.env).filter(([name]) => name.startsWith("NEXT_PUBLIC_")).sort();
digest.update(JSON.stringify(settings));
for (const file of files(app).sort()) digest.update(relative(app, file)).update(readFileSync(file));
const stamp = join(app, ".next", `build-${digest.digest("hex").slice(0, 16)}`);

if (existsSync(stamp)) {
  console.error("web: the production build is up to date");
} else {
  console.error("web: building for production (next build)…");
  const quiet = process.argv.includes("--quiet");
  const worker = spawnSync(process.execPath, [join(app, "scripts", "build-sw.mjs")], { cwd: app, stdio: "inherit" });
  if (worker.status !== 0) process.exit(worker.status ?? 1);
  const result = spawnSync(join(app, "node_modules", ".bin", "next"), ["build"], {
    cwd: app,
    stdio: quiet ? ["ignore", "ignore", "inherit"] : "inherit",
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(stamp, "");
}
