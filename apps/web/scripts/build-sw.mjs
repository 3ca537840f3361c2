// Bundles the service worker (src/sw/service-worker.ts and the app modules it imports) into public/sw.js, one classic
// script as every browser runs it. Run before `next build` (scripts/build-if-changed.mjs, `npm run build`). The build's
// name (its sources' digest) is written into it: each build is a new worker, whose shell cache is that build's own.
import { join } from "node:path";
import { build } from "vite";
import { sourceDigest } from "./source-digest.mjs";

const app = join(import.meta.dirname, "..");

await build({
  configFile: false,
  root: app,
  logLevel: "warn",
  publicDir: false,
  define: { __OM_BUILD__: JSON.stringify(sourceDigest(app)) },
  resolve: { alias: { "@": join(app, "src") } },
  build: {
    outDir: join(app, "public"),
    emptyOutDir: false,
    copyPublicDir: false,
    minify: true,
    lib: { entry: join(app, "src", "sw", "service-worker.ts"), formats: ["iife"], name: "omServiceWorker", fileName: () => "sw.js" },
  },
});
