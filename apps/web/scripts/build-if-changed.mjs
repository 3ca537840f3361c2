// `next build`, unless .next already holds a build of these sources with these settings: NEXT_PUBLIC_* are inlined at
// build time, so they are part of what is built. Used by ./start-optimistic-messaging.sh and the browser tests.
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sourceDigest } from "./source-digest.mjs";

const app = join(import.meta.dirname, "..");
const stamp = join(app, ".next", `build-${sourceDigest(app)}`);

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
