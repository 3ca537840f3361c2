"use client";
import { useEffect, useState } from "react";
import { detectHost, type Host } from "@/lib/hosts";

/** Where the app runs; null until known (a Farcaster client answers within about a second). */
export function useHost(): Host | null {
  const [host, setHost] = useState<Host | null>(null);
  useEffect(() => {
    let live = true;
    void detectHost().then((found) => live && setHost(found));
    return () => {
      live = false;
    };
  }, []);
  return host;
}
