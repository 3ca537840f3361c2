// What a build of the web app is made of, as one hash: its sources and its NEXT_PUBLIC_* settings (inlined at build
// time). Names the build: the stamp of scripts/build-if-changed.mjs and the service worker's cache (scripts/build-sw.mjs).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

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

/** 16 hex digits naming what `next build` in `app` would build with the current environment. */
export function sourceDigest(app) {
  const digest = createHash("sha256");
  const settings = Object.entries(process.env).filter(([name]) => name.startsWith("NEXT_PUBLIC_")).sort();
  digest.update(JSON.stringify(settings));
  for (const file of files(app).sort()) digest.update(relative(app, file)).update(readFileSync(file));
  return digest.digest("hex").slice(0, 16);
}
