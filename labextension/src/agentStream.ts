/**
 * One session's events: history, then live, over `…/stream?from=<sentinel>`.
 *
 * Every event carries its sentinel (`seq`). The stream remembers the last one it
 * delivered and reconnects from it after any disconnect (network, server restart, a
 * `closing` frame for a slow client), so the listener sees each event exactly once,
 * in order, with no gap.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IAgentEvent } from './agentTypes';
import { streamPath, websocketUrl } from './agentsApi';
import { ReconnectingSocket } from './reconnectingSocket';

/** `loading`: replaying history; `live`: caught up; `reconnecting`: connection lost. */
export type StreamState = 'loading' | 'live' | 'reconnecting' | 'closed';

export class AgentEventStream implements IDisposable {
  constructor(
    readonly sessionId: string,
    private readonly _onEvent: (event: IAgentEvent) => void
  ) {
    this._socket = new ReconnectingSocket({
      url: () => websocketUrl(streamPath(sessionId), { from: String(this._last) }),
      onMessage: frame => this._onFrame(frame)
    });
    this._socket.stateChanged.connect((_, state) => {
      if (state === 'reconnecting') {
        this._setState('reconnecting');
      } else if (state === 'closed') {
        this._setState('closed');
      }
    });
  }

  /** The last sentinel delivered. */
  get last(): number {
    return this._last;
  }

  get state(): StreamState {
    return this._state;
  }

  get stateChanged(): ISignal<this, StreamState> {
    return this._stateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._socket.dispose();
    Signal.clearData(this);
  }

  private _onFrame(frame: any): void {
    if (frame?.type === 'event' && typeof frame.sentinel === 'number' && frame.event) {
      if (frame.sentinel <= this._last) {
        return; // already delivered (cannot happen with from=last; cheap to be sure)
      }
      this._last = frame.sentinel;
      this._onEvent(frame.event as IAgentEvent);
    } else if (frame?.type === 'caughtUp') {
      this._setState('live');
    }
  }

  private _setState(state: StreamState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _isDisposed = false;
  private _last = 0;
  private _socket: ReconnectingSocket;
  private _state: StreamState = 'loading';
  private _stateChanged = new Signal<this, StreamState>(this);
}
