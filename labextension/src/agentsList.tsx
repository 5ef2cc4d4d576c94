/**
 * The Agents section of the side panel: every session with its live state badge, job
 * state, folder, last activity and usage; filter, sort, and a button for a new agent.
 * Rendering only: the list comes from `AgentsModel`.
 */
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { AgentsModel, AgentsSort } from './agentsModel';
import { BADGE_LABELS, IAgentSession, ago, badgeOf, titleOf, usageOf } from './agentTypes';

function jobOf(session: IAgentSession): string {
  if (session.failed) {
    return 'job failed';
  }
  return session.jobAccomplished ? 'job done' : 'job running';
}

function backendLabel(name: string): string {
  return { 'tmux-claude-code': 'Claude Code', 'tmux-codex': 'Codex' }[name] ?? name;
}

function SessionRow(props: { session: IAgentSession; onOpen: (id: string) => void }) {
  const { session, onOpen } = props;
  const badge = badgeOf(session);
  const usage = usageOf(session);
  return (
    <li className="jp-AiiAgents-item" data-session-id={session.sessionId} data-badge={badge}>
      <button
        className="jp-AiiAgents-open"
        title={`Open ${titleOf(session)} (${session.sessionId})`}
        onClick={() => onOpen(session.sessionId)}
      >
        <span className="jp-AiiAgents-line">
          <span className="jp-AiiAgents-name">{titleOf(session)}</span>
          <span className={`jp-AiiAgents-badge jp-mod-${badge}`} data-badge={badge}>
            {BADGE_LABELS[badge] ?? badge}
          </span>
        </span>
        <span className="jp-AiiAgents-line jp-AiiAgents-meta">
          <span>{backendLabel(session.backend)}</span>
          <span className="jp-AiiAgents-cwd" title={session.cwd || '/'}>
            {session.cwd || '/'}
          </span>
        </span>
        <span className="jp-AiiAgents-line jp-AiiAgents-meta">
          <span className={`jp-AiiAgents-job${session.failed ? ' jp-mod-failed' : ''}`}>
            {jobOf(session)}
          </span>
          <span>{ago(session.lastActivity ?? session.createdAt)}</span>
          {usage && <span className="jp-AiiAgents-usage">{usage}</span>}
        </span>
      </button>
    </li>
  );
}

function AgentsListView(props: {
  model: AgentsModel;
  onOpen: (id: string) => void;
  onCreate: () => void;
}): JSX.Element {
  const { model, onOpen, onCreate } = props;
  const visible = model.visible;
  let body: JSX.Element;
  if (!model.loaded) {
    body = <p className="jp-AiiPanel-hint">Loading agent sessions…</p>;
  } else if (model.sessions.length === 0) {
    body = (
      <p className="jp-AiiPanel-hint">
        No agent sessions yet. Start Claude Code or Codex on a folder with “New agent”.
      </p>
    );
  } else if (visible.length === 0) {
    body = <p className="jp-AiiPanel-hint">No session matches “{model.filter}”.</p>;
  } else {
    body = (
      <ul className="jp-AiiAgents-list" aria-label="Agent sessions">
        {visible.map(s => (
          <SessionRow key={s.sessionId} session={s} onOpen={onOpen} />
        ))}
      </ul>
    );
  }
  return (
    <div className="jp-AiiAgents">
      <div className="jp-AiiAgents-toolbar">
        <button
          className="jp-Button jp-mod-styled jp-mod-accept jp-AiiAgents-new"
          onClick={onCreate}
          title="Start Claude Code or Codex on a folder"
        >
          New agent
        </button>
        <input
          className="jp-AiiAgents-filter"
          type="search"
          placeholder="Filter"
          aria-label="Filter agent sessions"
          value={model.filter}
          onChange={e => (model.filter = e.target.value)}
        />
        <select
          className="jp-AiiAgents-sort"
          aria-label="Sort agent sessions"
          value={model.sort}
          onChange={e => (model.sort = e.target.value as AgentsSort)}
        >
          <option value="activity">Recent</option>
          <option value="state">Needs me</option>
          <option value="name">Name</option>
          <option value="created">Created</option>
        </select>
      </div>
      {model.connection === 'reconnecting' && (
        <p className="jp-AiiAgents-reconnecting" role="status">
          Reconnecting to the server…
        </p>
      )}
      {body}
    </div>
  );
}

/** The side-panel section; re-renders on the model's `changed`. */
export class AgentsSection extends ReactWidget {
  constructor(private readonly _options: AgentsSection.IOptions) {
    super();
    this.addClass('jp-AiiPanel-section');
    this.addClass('jp-AiiPanel-agents');
    this.title.label = 'Agents';
    // Relative times ("2 min ago") age while nothing else changes.
    this._timer = window.setInterval(() => this.update(), 30_000);
  }

  dispose(): void {
    window.clearInterval(this._timer);
    super.dispose();
  }

  protected render(): JSX.Element {
    const { model, onOpen, onCreate } = this._options;
    return (
      <UseSignal signal={model.changed}>
        {() => <AgentsListView model={model} onOpen={onOpen} onCreate={onCreate} />}
      </UseSignal>
    );
  }

  private _timer: number;
}

export namespace AgentsSection {
  export interface IOptions {
    model: AgentsModel;
    onOpen: (sessionId: string) => void;
    onCreate: () => void;
  }
}
