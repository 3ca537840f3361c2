"use client";
// "Turn on notifications" for the start page: what this place offers (src/lib/notify-offer.ts), whether it is on, and
// the actions, each run on a tap only (a browser's permission prompt is never shown on load).
import { useCallback, useEffect, useState } from "react";
import { useHost } from "@/hooks/use-host";
import { addToFarcaster, farcasterAsked } from "@/lib/farcaster-notify";
import { notifyOffer, type NotifyOffer } from "@/lib/notify-offer";
import { pushAbilities, pushIsOn, turnOffPush, turnOnPush } from "@/lib/push";
import type { Session } from "@/lib/session";

export interface Notifications {
  offer: NotifyOffer;
  /** The host is known: `offer` is final. */
  decided: boolean;
  /** Web Push is on for this address in this browser. */
  on: boolean;
  busy: boolean;
  problem: string | null;
  turnOn(): void;
  turnOff(): void;
  addToFarcaster(): void;
}

export function useNotifications(session: Session): Notifications {
  const host = useHost();
  const { token, address } = session;
  const [asked, setAsked] = useState(() => farcasterAsked(address));
  const [on, setOn] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const offer = notifyOffer(host, pushAbilities(), asked);

  useEffect(() => {
    if (offer !== "web-push") return;
    let live = true;
    void pushIsOn(address).then((yes) => live && setOn(yes), () => undefined);
    return () => {
      live = false;
    };
  }, [offer, address]);

  const run = useCallback((work: () => Promise<void>) => {
    setBusy(true);
    setProblem(null);
    work()
      .catch((e: unknown) => setProblem(e instanceof Error ? e.message : "That did not work"))
      .finally(() => setBusy(false));
  }, []);

  return {
    offer,
    decided: host !== null,
    on,
    busy,
    problem,
    turnOn: () =>
      run(async () => {
        await turnOnPush(token, address);
        setOn(true);
      }),
    turnOff: () =>
      run(async () => {
        await turnOffPush(token, address);
        setOn(false);
      }),
    addToFarcaster: () =>
      run(async () => {
        await addToFarcaster(token, address);
        setAsked(true);
      }),
  };
}
