"use client";
// The start page's React wiring: one HomeStore per mount, read through useSyncExternalStore; the data work lives in
// the store.
import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { useNames } from "@/hooks/use-contacts";
import { HomeStore, type HomeState } from "@/lib/home-store";
import { distinctNames } from "@/lib/names";
import type { Session } from "@/lib/session";
import { xmtpAllowed, xmtpEnabled } from "@/lib/xmtp";

export interface Home extends HomeState {
  store: HomeStore;
  /** Everyone in the listed chats named apart: two DMs whose people share a name must not look alike. */
  nameOf: (address: string) => string;
  /** A wallet other than the burner is asked for XMTP's signature only on a tap (MiniPay signs no messages). */
  offerXmtp: boolean;
}

export function useHome(session: Session): Home {
  const [store] = useState(() => new HomeStore(session));
  const state = useSyncExternalStore(store.subscribe, store.getState, store.getState);
  const plainName = useNames(session.address);
  useEffect(() => store.start(), [store]);
  useEffect(() => store.sessionChanged(session.token), [store, session.token]);
  const nameOf = useMemo(
    () => distinctNames(state.list?.chats.flatMap((chat) => chat.members) ?? [], plainName),
    [state.list, plainName],
  );
  const { wallet, address } = session;
  const offerXmtp = xmtpEnabled() && wallet !== "minipay" && !state.xmtp && !xmtpAllowed({ kind: wallet, address });
  return { ...state, store, nameOf, offerXmtp };
}
