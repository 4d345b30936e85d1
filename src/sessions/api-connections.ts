import type { Socket } from 'node:net';

/**
 * The kept-alive connections of clients to the clients' API (/api/client/*), with the requests
 * each is serving. A kept-alive connection outlives the site's name: after a traffic switch
 * or a role change a console's next call would still reach this appliance, which may refuse it
 * (a backup now) or serve a site the name no longer leads to. When the clients are asked to
 * move, the idle ones are closed, and a busy one's answer says `Connection: close`, so each
 * next call connects afresh where the name leads.
 */
export class ClientApiConnections {
  private readonly serving = new Map<Socket, number>();
  /** Busy when the clients moved: their next answer closes them (not a cut, which could race
   * a request the client just sent and which it would not send again). */
  private readonly closeAfterAnswer = new WeakSet<Socket>();

  /** A request arrived on `socket` (`finished` when its answer was sent). */
  started(socket: Socket): void {
    if (!this.serving.has(socket)) socket.once('close', () => this.serving.delete(socket));
    this.serving.set(socket, (this.serving.get(socket) ?? 0) + 1);
  }

  finished(socket: Socket): void {
    const n = this.serving.get(socket);
    if (n !== undefined) this.serving.set(socket, Math.max(0, n - 1));
  }

  /** Whether the answer about to be sent on `socket` must close it (`Connection: close`). */
  closesAfterAnswer(socket: Socket): boolean {
    return this.closeAfterAnswer.has(socket);
  }

  /** Close every connection that serves no request now; mark the others to close after it. */
  closeIdle(): number {
    let closed = 0;
    for (const [socket, n] of this.serving)
      if (n === 0) {
        socket.end();
        closed++;
      } else this.closeAfterAnswer.add(socket);
    return closed;
  }
}
