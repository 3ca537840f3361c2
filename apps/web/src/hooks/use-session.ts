"use client";
import { useMemo, useSyncExternalStore } from "react";
import { parseSession, readSessionRaw, subscribeSession, type Session } from "@/lib/session";

export type SessionState = { status: "loading" } | { status: "signed-out" } | { status: "signed-in"; session: Session };

/** The stored session; "loading" during server rendering and hydration, so both render the same markup. */
export function useSession(): SessionState {
  const raw = useSyncExternalStore(subscribeSession, readSessionRaw, () => undefined);
  return useMemo(() => {
    if (raw === undefined) return { status: "loading" };
    const session = parseSession(raw);
    return session ? { status: "signed-in", session } : { status: "signed-out" };
  }, [raw]);
}
