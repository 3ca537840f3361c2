// Bundles the service worker (src/sw/service-worker.ts and the app modules it imports) into public/sw.js, one classic
// script as every browser runs it. Run before `next build` (scripts/build-if-changed.mjs, `npm run build`).
import { join } from "node:path";
import { build } from "vite";

const app = join(import.meta.dirname, "..");

await build({
  configFile: false,
  root: app,
  logLevel: "warn",
  publicDir: false,
  resolve: { alias: { "@": join(app, "src") } },
  build: {
    outDir: join(app, "public"),
    emptyOutDir: false,
    copyPublicDir: false,
    minify: true,
    lib: { entry: join(app, "src", "sw", "service-worker.ts"), formats: ["iife"], name: "omServiceWorker", fileName: () => "sw.js" },
  },
});
