"use client";
import { useEffect } from "react";
import { useSession } from "@/hooks/use-session";
import { ApiError } from "@/lib/api";
import { renew } from "@/lib/auth";
import { detectHost } from "@/lib/hosts";
import { renewalDelay, RENEW_RETRY_MS } from "@/lib/session-renewal";

/** Renders nothing: detects the host as the app opens, and renews the session — on open, on a timer, and when the
 * page comes back to the foreground (a phone's timers sleep with it) — while less than half its lifetime is left. */
export function SessionKeeper() {
  const state = useSession();
  const session = state.status === "signed-in" ? state.session : null;

  useEffect(() => {
    void detectHost();
  }, []);

  useEffect(() => {
    if (!session) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let refused = false;
    const check = () => {
      clearTimeout(timer);
      const delay = renewalDelay(session, Date.now());
      if (delay === null || refused) return;
      if (delay > 0) {
        timer = setTimeout(check, delay);
        return;
      }
      renew(session).catch((error: unknown) => {
        // Refused (the first sign-in is too old): the token lives on to its expiry; anything else may pass later.
        if (error instanceof ApiError && error.code === "unauthorized") refused = true;
        else timer = setTimeout(check, RENEW_RETRY_MS);
      });
    };
    const onVisible = () => {
      if (document.visibilityState === "visible") check();
    };
    check();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      refused = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [session]);

  return null;
}
