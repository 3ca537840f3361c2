// The Farcaster mini-app manifest: what a Farcaster client shows of the app, and where it sends the app's events
// (`webhookUrl`: the server's POST /api/farcaster/webhook, which keeps the client's notification tokens).
import { farcasterManifest } from "@/lib/farcaster-manifest";

// Read at each request: FARCASTER_ACCOUNT_ASSOCIATION is set where the app is deployed, not where it is built.
export const dynamic = "force-dynamic";

export function GET(request: Request): Response {
  return Response.json(farcasterManifest(new URL(request.url).origin, process.env.FARCASTER_ACCOUNT_ASSOCIATION));
}
