"use client";
import { useCallback, useMemo, useSyncExternalStore } from "react";
import { parseLabels, readLabelsRaw, subscribeLabels } from "@/lib/contacts";
import { displayName } from "@/lib/names";

/** The name to show for an address, re-rendering when a label changes (here or in another tab). */
export function useNames(me: string | null): (address: string) => string {
  const raw = useSyncExternalStore(subscribeLabels, readLabelsRaw, () => "{}");
  const labels = useMemo(() => parseLabels(raw), [raw]);
  return useCallback((address: string) => displayName(address, me, labels), [me, labels]);
}
