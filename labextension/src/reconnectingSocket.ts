/**
 * A websocket that reconnects by itself (with backoff) until disposed.
 *
 * The URL is asked for again on every attempt, so a stream can resume from the last
 * sentinel it processed. `state` says whether it is connected, so views can show
 * "reconnecting" instead of silently going stale.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

/** The server's close code for a client over its stream caps (see docs/security.md). */
const TOO_MANY_STREAMS = 4429;
const MAX_DELAY_MS = 5000;
/** 250 ms × 2^5 ≥ MAX_DELAY_MS: the longest wait straight away. */
const MAX_BACKOFF_STEP = 5;

export type SocketState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export class ReconnectingSocket implements IDisposable {
  constructor(options: ReconnectingSocket.IOptions) {
    this._url = options.url;
    this._onMessage = options.onMessage;
    this._connect();
  }

  get state(): SocketState {
    return this._state;
  }

  get stateChanged(): ISignal<this, SocketState> {
    return this._stateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Drop the current connection and connect again now (e.g. after a server-side change). */
  reconnect(): void {
    this._retries = 0;
    this._socket?.close();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    clearTimeout(this._timer);
    const socket = this._socket;
    this._socket = null;
    socket?.close();
    this._setState('closed');
    Signal.clearData(this);
  }

  private _connect(): void {
    if (this._isDisposed) {
      return;
    }
    this._setState(this._retries === 0 && !this._everOpen ? 'connecting' : 'reconnecting');
    let socket: WebSocket;
    try {
      socket = new WebSocket(this._url());
    } catch (error) {
      this._scheduleRetry();
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      if (socket === this._socket) {
        this._everOpen = true;
        this._setState('open');
      }
    };
    socket.onmessage = event => {
      if (socket !== this._socket) {
        return;
      }
      // The backoff starts over on the first frame, not on open: a socket the server
      // accepts and closes at once (over its stream cap) must not be retried 4× a second.
      this._retries = 0;
      let frame: unknown;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      this._onMessage(frame);
    };
    socket.onclose = event => {
      if (socket === this._socket) {
        this._socket = null;
        if (event.code === TOO_MANY_STREAMS) {
          this._retries = Math.max(this._retries, MAX_BACKOFF_STEP);
        }
        this._scheduleRetry();
      }
    };
  }

  private _scheduleRetry(): void {
    if (this._isDisposed) {
      return;
    }
    this._setState('reconnecting');
    const delay = Math.min(MAX_DELAY_MS, 250 * 2 ** this._retries);
    this._retries += 1;
    this._timer = window.setTimeout(() => this._connect(), delay);
  }

  private _setState(state: SocketState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _everOpen = false;
  private _isDisposed = false;
  private _onMessage: (frame: unknown) => void;
  private _retries = 0;
  private _socket: WebSocket | null = null;
  private _state: SocketState = 'connecting';
  private _stateChanged = new Signal<this, SocketState>(this);
  private _timer = 0;
  private _url: () => string;
}

export namespace ReconnectingSocket {
  export interface IOptions {
    /** The URL of the next attempt. */
    url: () => string;
    /** Each JSON frame received. */
    onMessage: (frame: unknown) => void;
  }
}
