"use client";
import { usePathname } from "next/navigation";
import { useEffect } from "react";
import { keepPageOffline, registerServiceWorker } from "@/lib/push";

/** Registers the service worker once, and has it keep each page the app's router shows (it sees only navigations). */
export function OfflineKeeper() {
  const pathname = usePathname();
  useEffect(registerServiceWorker, []);
  useEffect(() => keepPageOffline(window.location.href), [pathname]);
  return null;
}
