"use client";
import { useNotifications } from "@/hooks/use-notifications";
import type { Session } from "@/lib/session";

/** The start page's offer to be told of messages while the app is closed; nothing where there is no way (MiniPay). */
export function NotificationsOffer({ session }: { session: Session }) {
  const n = useNotifications(session);
  // Marked once the host is known, so that "nothing offered" can be told from "not decided yet".
  if (!n.offer) return n.decided ? <span hidden data-testid="notifications" data-offer="none" /> : null;
  return (
    <div className="row" data-testid="notifications" data-offer={n.offer}>
      {n.offer === "farcaster" ? (
        <>
          <span className="muted">Add the app to your Farcaster client to be told of new messages.</span>
          <button className="secondary small" data-testid="farcaster-add" disabled={n.busy} onClick={n.addToFarcaster}>
            Add and notify me
          </button>
        </>
      ) : n.on ? (
        <>
          <span className="muted" data-testid="push-on">
            Notifications are on in this browser.
          </span>
          <button className="secondary small" data-testid="push-disable" disabled={n.busy} onClick={n.turnOff}>
            Turn off
          </button>
        </>
      ) : (
        <>
          <span className="muted">Be told of new messages while the app is closed.</span>
          <button className="secondary small" data-testid="push-enable" disabled={n.busy} onClick={n.turnOn}>
            Turn on notifications
          </button>
        </>
      )}
      {n.problem && (
        <p className="error" role="alert" data-testid="notifications-error">
          {n.problem}
        </p>
      )}
    </div>
  );
}
