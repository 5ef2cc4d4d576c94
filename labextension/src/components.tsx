/**
 * React view of the Agents section. It only renders model state; all work
 * (fetching, timers) lives in the model.
 */
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { AgentsStatus, IAiiPanelModel } from './tokens';

function AgentsView(props: { status: AgentsStatus; onRefresh: () => void }): JSX.Element {
  const { status, onRefresh } = props;
  let body: JSX.Element;
  switch (status.kind) {
    case 'idle':
    case 'loading':
      body = <p className="jp-AiiPanel-hint">Loading agent sessions…</p>;
      break;
    case 'unavailable':
      body = <p className="jp-AiiPanel-hint jp-AiiPanel-unavailable">{status.message}</p>;
      break;
    case 'loaded':
      body =
        status.sessions.length === 0 ? (
          <p className="jp-AiiPanel-hint">No agent sessions.</p>
        ) : (
          <ul className="jp-AiiPanel-sessions">
            {status.sessions.map(s => (
              <li key={s.sessionId} data-session-id={s.sessionId}>
                <span className="jp-AiiPanel-backend">{s.displayName || s.backend}</span>{' '}
                <span className="jp-AiiPanel-state">{s.state}</span>
              </li>
            ))}
          </ul>
        );
      break;
  }
  return (
    <div className="jp-AiiPanel-placeholder">
      <p>Claude Code and Codex sessions running in tmux.</p>
      {body}
      <button className="jp-Button jp-mod-styled jp-mod-reject" onClick={onRefresh}>
        Refresh
      </button>
    </div>
  );
}

/** Lists agent sessions from the model; re-renders on `stateChanged`. */
export class AgentsSection extends ReactWidget {
  constructor(private readonly _model: IAiiPanelModel) {
    super();
    this.addClass('jp-AiiPanel-section');
    this.addClass('jp-AiiPanel-agents');
    this.title.label = 'Agents';
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this._model.stateChanged}>
        {() => (
          <AgentsView
            status={this._model.agents}
            onRefresh={() => void this._model.refreshAgents()}
          />
        )}
      </UseSignal>
    );
  }
}
