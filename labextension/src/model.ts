/**
 * State of the side panel: visibility and what is known about agent sessions.
 * No DOM here; views re-render on `stateChanged`.
 */
import { Signal } from '@lumino/signaling';

import { AiiApiError, listAgentSessions } from './restapi';
import { AgentsStatus, IAgentSessionSummary, IAiiPanelModel } from './tokens';

/** Fetches sessions; swapped out in tests or by later plugins. */
export type SessionLister = () => Promise<IAgentSessionSummary[]>;

export class AiiPanelModel implements IAiiPanelModel {
  constructor(options: AiiPanelModel.IOptions = {}) {
    this._listSessions = options.listSessions ?? (() => listAgentSessions());
  }

  get isActive(): boolean {
    return this._isActive;
  }

  get agents(): AgentsStatus {
    return this._agents;
  }

  get stateChanged(): Signal<this, void> {
    return this._stateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  setActive(active: boolean): void {
    if (active === this._isActive) {
      return;
    }
    this._isActive = active;
    this._stateChanged.emit();
    if (active) {
      void this.refreshAgents();
    }
  }

  async refreshAgents(): Promise<void> {
    if (!this._isActive || this._isDisposed) {
      return;
    }
    const request = ++this._requestCount;
    this._setAgents({ kind: 'loading' });
    let next: AgentsStatus;
    try {
      next = { kind: 'loaded', sessions: await this._listSessions() };
    } catch (error) {
      const message =
        error instanceof AiiApiError && error.status === 404
          ? 'The agent sessions service is not installed on this server yet.'
          : String((error as Error)?.message ?? error);
      next = { kind: 'unavailable', message };
    }
    // A newer refresh or a dispose supersedes this one.
    if (request === this._requestCount && !this._isDisposed) {
      this._setAgents(next);
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private _setAgents(agents: AgentsStatus): void {
    this._agents = agents;
    this._stateChanged.emit();
  }

  private _agents: AgentsStatus = { kind: 'idle' };
  private _isActive = false;
  private _isDisposed = false;
  private _listSessions: SessionLister;
  private _requestCount = 0;
  private _stateChanged = new Signal<this, void>(this);
}

export namespace AiiPanelModel {
  export interface IOptions {
    /** Where agent sessions come from; defaults to the server's REST API. */
    listSessions?: SessionLister;
  }
}
