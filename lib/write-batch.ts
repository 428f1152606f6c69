/** The TCP socket under a WebSocket, as far as batching its writes needs it. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Frames written to one socket in one run of callbacks leave in one system call. `ws` writes each
 * frame at once, one `writev` each, and on loopback a write is the costliest step of a delivery: the
 * sender's system call also runs the receiver's TCP processing. Frames for the same tick come in a
 * run: a client of the gateway with several subscriptions (a trading desk: prices of its watch list,
 * its orders, its fills) gets one per subscription, each delivered by its own stream; a subgraph's
 * socket to the gateway carries up to a hundred upstream subscriptions, and one tick of the feed
 * answers each of those that asked for its symbol. The first frame of a run corks the TCP socket and
 * the socket is uncorked once the callbacks, and the promise continuations they started, have run
 * (`process.nextTick` runs after them), so Node writes that run's frames together. A socket that
 * carries a single subscription can be left alone (`worthIt`): there is nothing to batch and the
 * tick would only cost.
 */
export class WriteBatch {
  private held = false;
  private readonly release = (): void => {
    this.held = false;
    this.tcp.uncork();
  };

  /**
   * @param tcp the TCP socket under the WebSocket
   * @param worthIt whether batching the socket's writes is worth a tick now (several subscriptions)
   */
  constructor(
    private readonly tcp: Corkable,
    private readonly worthIt: () => boolean = () => true,
  ) {}

  /** Holds the socket's writes until the current run of callbacks ends (no-op while held). */
  hold(): void {
    if (this.held || !this.worthIt()) return;
    this.held = true;
    this.tcp.cork();
    process.nextTick(this.release);
  }
}
