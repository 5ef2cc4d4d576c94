/**
 * The agent sessions the server knows, kept live from the `/aimax/watch` websocket
 * (the server sends the whole list when anything changes, at most once per tick).
 * Also the list's filter and sort, and the transitions worth a notification.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IAgentSession, badgeOf, titleOf } from './agentTypes';
import { WATCH_PATH, websocketUrl } from './agentsApi';
import { ReconnectingSocket, SocketState } from './reconnectingSocket';

export type AgentsSort = 'activity' | 'name' | 'state' | 'created';

/** Something a user wants to hear about even when the panel is closed. */
export interface IAgentTransition {
  session: IAgentSession;
  kind: 'permission' | 'finished' | 'failed' | 'exited';
}

/** Attention first: a session waiting for a human sorts before one working. */
const STATE_ORDER = [
  'waiting_permission',
  'waiting_input',
  'working',
  'starting',
  'idle',
  'failed',
  'exited',
  'stopped'
];

export class AgentsModel implements IDisposable {
  constructor(options: AgentsModel.IOptions = {}) {
    const connect = options.connect ?? true;
    if (connect) {
      this._socket = new ReconnectingSocket({
        url: () => websocketUrl(WATCH_PATH),
        onMessage: frame => this._onFrame(frame)
      });
      this._socket.stateChanged.connect(() => this._changed.emit());
    }
  }

  /** Every known session (unfiltered), as the server last sent them. */
  get sessions(): readonly IAgentSession[] {
    return this._sessions;
  }

  /** Whether a list has arrived yet. */
  get loaded(): boolean {
    return this._loaded;
  }

  get connection(): SocketState {
    return this._socket?.state ?? 'open';
  }

  get filter(): string {
    return this._filter;
  }

  set filter(value: string) {
    if (value !== this._filter) {
      this._filter = value;
      this._changed.emit();
    }
  }

  get sort(): AgentsSort {
    return this._sort;
  }

  set sort(value: AgentsSort) {
    if (value !== this._sort) {
      this._sort = value;
      this._changed.emit();
    }
  }

  /** The sessions to show: filtered by name, id, folder, backend or state, then sorted. */
  get visible(): IAgentSession[] {
    const words = this._filter.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = this._sessions.filter(s => {
      const hay = [titleOf(s), s.sessionId, s.cwd, s.backend, badgeOf(s), s.model ?? '']
        .join(' ')
        .toLowerCase();
      return words.every(w => hay.includes(w));
    });
    const key: Record<AgentsSort, (a: IAgentSession, b: IAgentSession) => number> = {
      activity: (a, b) => (b.lastActivity ?? b.createdAt) - (a.lastActivity ?? a.createdAt),
      name: (a, b) => titleOf(a).localeCompare(titleOf(b)),
      state: (a, b) =>
        STATE_ORDER.indexOf(badgeOf(a)) - STATE_ORDER.indexOf(badgeOf(b)) ||
        (b.lastActivity ?? 0) - (a.lastActivity ?? 0),
      created: (a, b) => b.createdAt - a.createdAt
    };
    return shown.sort(key[this._sort]);
  }

  find(sessionId: string): IAgentSession | undefined {
    return this._sessions.find(s => s.sessionId === sessionId);
  }

  /** Emitted when the list, the filter, the sort or the connection changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A session started waiting for permission, finished or failed its job, or exited. */
  get transition(): ISignal<this, IAgentTransition> {
    return this._transition;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Replace the list (what a watch frame does); emits transitions against the last list. */
  update(sessions: IAgentSession[]): void {
    const before = new Map(this._sessions.map(s => [s.sessionId, s]));
    const first = !this._loaded;
    this._sessions = sessions;
    this._loaded = true;
    this._changed.emit();
    if (first) {
      return;
    }
    for (const session of sessions) {
      const old = before.get(session.sessionId);
      if (!old) {
        continue;
      }
      const kind = transitionOf(old, session);
      if (kind) {
        this._transition.emit({ session, kind });
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._socket?.dispose();
    Signal.clearData(this);
  }

  private _onFrame(frame: any): void {
    if (frame?.type === 'sessions' && Array.isArray(frame.sessions)) {
      this.update(frame.sessions as IAgentSession[]);
    }
  }

  private _changed = new Signal<this, void>(this);
  private _filter = '';
  private _isDisposed = false;
  private _loaded = false;
  private _sessions: IAgentSession[] = [];
  private _socket: ReconnectingSocket | null = null;
  private _sort: AgentsSort = 'activity';
  private _transition = new Signal<this, IAgentTransition>(this);
}

/** What changed between two looks at one session that a user should be told about. */
export function transitionOf(
  old: IAgentSession,
  now: IAgentSession
): IAgentTransition['kind'] | null {
  if (now.state === 'waiting_permission' && old.state !== 'waiting_permission') {
    return 'permission';
  }
  if (now.failed && !old.failed) {
    return 'failed';
  }
  if (now.jobAccomplished && !old.jobAccomplished) {
    return 'finished';
  }
  if (now.status === 'exited' && old.status === 'running') {
    return 'exited';
  }
  return null;
}

export namespace AgentsModel {
  export interface IOptions {
    /** Open the watch websocket (false in tests that feed `update`). */
    connect?: boolean;
  }
}
