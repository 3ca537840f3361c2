// An open chat's `mark` requests (contract v1.2): delivered as soon as messages reach this device, read only up to
// what was seen on screen. One request in flight; what came meanwhile goes in the next one; a value asked for once
// is not asked again on the same connection. A refusal worth retrying waits its delay; a server that does not answer
// `mark` (v1.1) or refuses it for good is not asked again until the next connection.
import type { Socket } from "socket.io-client";
import type { ChatState } from "./messages-reducer";
import { markDue, type MarkRequest } from "./receipts";
import { retryDelay, Retryer } from "./retry";
import type { Ack } from "./types";

const ACK_TIMEOUT_MS = 10_000;

export interface MarkerOptions {
  chatId: string;
  state(): ChatState;
  /** The socket to mark on, when connected and joined; else null (the next connection marks). */
  socket(): Pick<Socket, "timeout"> | null;
  /** Our positions as the server acknowledged them. */
  marked(positions: { read_seq: number; delivered_seq: number }): void;
}

export class Marker {
  private seenSeq = 0;
  private asked: MarkRequest = {};
  private inFlight = false;
  private off = false;
  /** Bumped by every connection and by stop: an answer from an earlier one is dropped. */
  private generation = 0;
  private readonly retryer = new Retryer(() => this.due());

  constructor(private readonly o: MarkerOptions) {}

  /** A new connection: everything may be asked again. */
  connected(): void {
    this.generation++;
    this.inFlight = false;
    this.off = false;
    this.asked = {};
    this.retryer.cancel();
  }

  stop(): void {
    this.generation++;
    this.retryer.cancel();
  }

  /** The newest message seen on screen with the page in the foreground. */
  seen(seq: number): void {
    if (seq <= this.seenSeq) return;
    this.seenSeq = seq;
    this.due();
  }

  /** Sends the mark due now, if any and none is in flight. */
  due(): void {
    const socket = this.o.socket();
    if (!socket || this.inFlight || this.off || this.retryer.waiting) return;
    const request = markDue(this.o.state(), this.seenSeq, this.asked);
    if (!request) return;
    const before = this.asked;
    this.asked = {
      read_seq: Math.max(before.read_seq ?? 0, request.read_seq ?? 0),
      delivered_seq: Math.max(before.delivered_seq ?? 0, request.delivered_seq ?? 0),
    };
    this.inFlight = true;
    const generation = this.generation;
    socket
      .timeout(ACK_TIMEOUT_MS)
      .emit("mark", { chat_id: this.o.chatId, ...request }, (err: Error | null, ack: Ack<{ read_seq: number; delivered_seq: number }>) => {
        if (generation !== this.generation) return;
        this.inFlight = false;
        if (!err && ack.ok) {
          this.o.marked({ read_seq: ack.read_seq, delivered_seq: ack.delivered_seq });
          this.due();
          return;
        }
        const delay = err || ack.ok ? null : retryDelay(ack.error);
        if (delay === null) {
          this.off = true;
          return;
        }
        this.asked = before;
        this.retryer.after(delay);
      });
  }
}
