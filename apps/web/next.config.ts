import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  reactStrictMode: true,
  // `next dev` serves its HMR socket and dev chunks to its own host only: without this, http://127.0.0.1:3000 (which
  // the server allows) stays on "Loading…" for ever.
  allowedDevOrigins: ["127.0.0.1", "localhost"],
  // Bottom-left, the default, covers the payment field at a mini-app's 424 px; the header makes room at the top
  // right in development (src/app/layout.tsx).
  devIndicators: { position: "top-right" },
  // The e2e stack runs several builds' worth of checks on a 2-core machine: keep the build to one job.
  experimental: { cpus: 1 },
};

export default nextConfig;
