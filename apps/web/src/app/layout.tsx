import type { Metadata, Viewport } from "next";
import { OfflineKeeper } from "@/components/offline-keeper";
import { SessionKeeper } from "@/components/session-keeper";
import "./globals.css";

export const metadata: Metadata = {
  title: "Optimistic Messaging",
  description: "Wallet chat: instant over the server, settled on XMTP and on-chain.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1, themeColor: "#0f172a" };

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      {/* next dev puts its indicator at the top right: the header keeps clear of it there. */}
      <body className={process.env.NODE_ENV === "development" ? "dev-tools" : undefined}>
        <SessionKeeper />
        <OfflineKeeper />
        <main className="app">{children}</main>
      </body>
    </html>
  );
}
