import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  reactStrictMode: true,
  // The e2e stack runs several builds' worth of checks on a 2-core machine: keep the build to one job.
  experimental: { cpus: 1 },
};

export default nextConfig;
