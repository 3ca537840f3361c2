// A stand-in for the socket.io-client Socket that ChatConnection uses, for tests only: it records what the app
// emits, answers acknowledgements through `answer`, and lets a test push server events.
type Handler = (...args: never[]) => void;

export interface Emitted {
  event: string;
  payload: unknown;
}

export class FakeSocket {
  connected = false;
  /** As socket.io-client's: whether it reconnects by itself (false once disconnected, or refused by the server). */
  active = false;
  readonly emits: Emitted[] = [];
  /** The `auth` payload of every connect, as socket.io-client sends it in the connect packet. */
  readonly auths: unknown[] = [];
  private readonly handlers = new Map<string, Set<Handler>>();

  /** The server's ack for an event (or a promise of it); undefined leaves the ack unanswered. */
  answer: (event: string, payload: never) => unknown = () => undefined;

  constructor(
    readonly url: string,
    readonly options: unknown,
  ) {}

  on(event: string, handler: Handler): this {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(handler);
    return this;
  }

  removeAllListeners(): this {
    this.handlers.clear();
    return this;
  }

  connect(): this {
    const { auth } = (this.options ?? {}) as { auth?: unknown };
    // socket.io-client calls a function-valued `auth` at every (re)connect.
    if (typeof auth === "function") (auth as (give: (data: unknown) => void) => void)((data) => this.auths.push(data));
    else this.auths.push(auth);
    this.connected = true;
    this.active = true;
    this.push("connect");
    return this;
  }

  /** The server closes the connection (socket.io-client does not reconnect by itself after this reason). */
  serverDisconnect(): this {
    this.connected = false;
    this.push("disconnect", "io server disconnect");
    return this;
  }

  /** The server refuses the connection in its middleware (`connect_error`): socket.io-client does not retry that. */
  refuse(message: string): this {
    this.connected = false;
    this.active = false;
    this.push("connect_error", new Error(message));
    return this;
  }

  disconnect(): this {
    this.active = false;
    if (!this.connected) return this;
    this.connected = false;
    this.push("disconnect", "io client disconnect");
    return this;
  }

  emit(event: string, payload?: unknown): this {
    this.emits.push({ event, payload });
    return this;
  }

  timeout(ms: number) {
    void ms;
    return {
      emit: (event: string, payload: unknown, ack: (err: Error | null, reply: unknown) => void) => {
        this.emits.push({ event, payload });
        void Promise.resolve(this.answer(event, payload as never)).then((reply) => {
          if (reply !== undefined) ack(null, reply);
        });
      },
    };
  }

  /** A server → client event. */
  push(event: string, ...args: unknown[]): void {
    for (const handler of this.handlers.get(event) ?? []) (handler as (...a: unknown[]) => void)(...args);
  }

  emitted(event: string): unknown[] {
    return this.emits.filter((e) => e.event === event).map((e) => e.payload);
  }
}

export const sockets: FakeSocket[] = [];

/** Drop-in for socket.io-client's `io`. */
export function fakeIo(url: string, options?: unknown): FakeSocket {
  const socket = new FakeSocket(url, options);
  sockets.push(socket);
  return socket;
}
