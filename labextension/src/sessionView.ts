/**
 * A main-area tab per agent session: header with its state and actions (stop, resume,
 * terminal), the permission question with approve / deny, the transcript (history then
 * live), and a composer that queues a prompt or interrupts the running turn with it.
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { AgentEventStream, StreamState } from './agentStream';
import { answerPermission, resumeSession, sendPrompt, stopSession } from './agentsApi';
import { AgentsModel } from './agentsModel';
import { BADGE_LABELS, IAgentSession, badgeOf, titleOf, usageOf } from './agentTypes';
import { button as styledButton } from './dom';
import { aiikernelIcon } from './icons';
import { TerminalView } from './terminalView';
import { TranscriptView } from './transcriptView';

/** A button named by its text (its title is only a tooltip; some texts change). */
function button(label: string, className: string, onClick: () => void, title = label): HTMLButtonElement {
  return styledButton(label, className, onClick, title, null);
}

function div(className: string, text?: string): HTMLDivElement {
  const d = document.createElement('div');
  d.className = className;
  if (text !== undefined) {
    d.textContent = text;
  }
  return d;
}

export class AgentSessionView extends Panel {
  constructor(options: AgentSessionView.IOptions) {
    super();
    this.sessionId = options.sessionId;
    this._agents = options.agents;
    this.id = AgentSessionView.idFor(options.sessionId);
    this.addClass('jp-AiiAgent');
    this.title.icon = aiikernelIcon;
    this.title.closable = true;
    this.title.label = options.sessionId;

    this._header = new Widget({ node: this._buildHeader() });
    this._permission = new Widget({ node: this._buildPermission() });
    this._transcript = new TranscriptView(options.rendermime);
    this._terminal = new TerminalView(options.sessionId);
    this._terminal.hide();
    this._composer = new Widget({ node: this._buildComposer() });
    for (const w of [this._header, this._permission, this._transcript, this._terminal, this._composer]) {
      this.addWidget(w);
    }

    this._stream = new AgentEventStream(options.sessionId, event => this._transcript.add(event));
    // Follow the end of the transcript while the user is there (Markdown renders late, so
    // watch the DOM rather than scrolling once per event); scrolling up stops following.
    this._transcript.node.addEventListener('scroll', () => {
      this._stick = this._isAtBottom();
    });
    this._observer = new MutationObserver(() => {
      if (this._stick) {
        this._scrollToBottom();
      }
    });
    this._observer.observe(this._transcript.node, { childList: true, subtree: true });
    this._stream.stateChanged.connect((_, state) => this._showStream(state));
    this._showStream(this._stream.state);
    this._agents.changed.connect(this._refresh, this);
    this._refresh();
  }

  readonly sessionId: string;

  /** Put `text` in the message box (a hand-off from a notebook or the chat). */
  setDraft(text: string): void {
    this._input.value = text;
    this._input.focus();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stream.dispose();
    this._observer.disconnect();
    this._agents.changed.disconnect(this._refresh, this);
    super.dispose();
  }

  private get _session(): IAgentSession | undefined {
    return this._agents.find(this.sessionId);
  }

  private _buildHeader(): HTMLElement {
    const node = div('jp-AiiAgent-header');
    this._titleNode = div('jp-AiiAgent-title');
    this._badge = div('jp-AiiAgents-badge');
    this._meta = div('jp-AiiAgent-meta');
    this._streamNote = div('jp-AiiAgent-streamState');
    this._streamNote.setAttribute('role', 'status');
    const actions = div('jp-AiiAgent-actions');
    this._terminalButton = button('Terminal', 'jp-mod-reject', () => this._toggleTerminal(), 'Show the agent’s terminal (read-only)');
    this._terminalButton.setAttribute('aria-pressed', 'false');
    this._resumeButton = button('Resume', 'jp-mod-accept', () => void this._act(() => resumeSession(this.sessionId)), 'Start the agent again on the same conversation');
    this._stopButton = button('Stop', 'jp-mod-warn', () => void this._act(() => stopSession(this.sessionId)), 'Stop the agent (its history stays)');
    actions.append(this._terminalButton, this._resumeButton, this._stopButton);
    const line = div('jp-AiiAgent-headline');
    line.append(this._titleNode, this._badge, this._streamNote);
    node.append(line, this._meta, actions);
    return node;
  }

  private _buildPermission(): HTMLElement {
    const node = div('jp-AiiAgent-permission');
    node.setAttribute('role', 'alert');
    node.appendChild(div('jp-AiiAgent-permissionTitle', 'The agent asks for permission'));
    this._question = document.createElement('pre');
    this._question.className = 'jp-AiiAgent-question';
    node.appendChild(this._question);
    const row = div('jp-AiiAgent-actions');
    row.append(
      button('Approve', 'jp-mod-accept', () => void this._act(() => answerPermission(this.sessionId, true))),
      button('Deny', 'jp-mod-reject', () => void this._act(() => answerPermission(this.sessionId, false)))
    );
    node.appendChild(row);
    return node;
  }

  private _buildComposer(): HTMLElement {
    const node = div('jp-AiiAgent-composer');
    this._input = document.createElement('textarea');
    this._input.className = 'jp-AiiAgent-input';
    this._input.rows = 3;
    this._input.placeholder = 'Message the agent (Ctrl+Enter sends; it waits for the running turn)';
    this._input.setAttribute('aria-label', 'Message to the agent');
    this._input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this._send(event.shiftKey ? 'interrupt' : 'queue');
      }
    });
    this._error = div('jp-AiiAgent-error');
    this._error.setAttribute('role', 'alert');
    const row = div('jp-AiiAgent-actions');
    this._sendButton = button('Send', 'jp-mod-accept', () => void this._send('queue'), 'Queue the message after the running turn (Ctrl+Enter)');
    this._interruptButton = button('Interrupt & send', 'jp-mod-warn', () => void this._send('interrupt'), 'Stop the running turn, then send (Ctrl+Shift+Enter)');
    row.append(this._sendButton, this._interruptButton);
    node.append(this._input, this._error, row);
    return node;
  }

  private async _send(mode: 'queue' | 'interrupt'): Promise<void> {
    const text = this._input.value;
    if (!text.trim()) {
      return;
    }
    const ok = await this._act(() => sendPrompt(this.sessionId, text, mode));
    if (ok && this._input.value === text) {
      this._input.value = '';
    }
  }

  /** Run an action with the buttons disabled; show its error. */
  private async _act(action: () => Promise<unknown>): Promise<boolean> {
    this._busy = true;
    this._error.textContent = '';
    this._refresh();
    try {
      await action();
      return true;
    } catch (error) {
      this._error.textContent = String((error as any)?.detail ?? (error as Error)?.message ?? error);
      return false;
    } finally {
      this._busy = false;
      this._refresh();
    }
  }

  private _toggleTerminal(): void {
    const show = this._terminal.isHidden;
    this._terminal.setHidden(!show);
    this._transcript.setHidden(show);
    this._terminalButton.setAttribute('aria-pressed', String(show));
    this._terminalButton.textContent = show ? 'Transcript' : 'Terminal';
    if (show) {
      this._terminal.start();
    } else {
      this._terminal.stop();
    }
  }

  private _refresh(): void {
    const s = this._session;
    const badge = s ? badgeOf(s) : 'unknown';
    const running = s?.status === 'running' && s.alive;
    this.title.label = s ? titleOf(s) : this.sessionId;
    this.title.caption = s ? `${titleOf(s)} — ${s.backend} in ${s.cwd || '/'}` : this.sessionId;
    this._titleNode.textContent = this.title.label;
    this._badge.textContent = BADGE_LABELS[badge] ?? badge;
    this._badge.className = `jp-AiiAgents-badge jp-mod-${badge}`;
    this.node.dataset.badge = badge;
    const bits = s
      ? [s.backend, s.cwd || '/', s.model ?? '', s.worktreeBranch ? `branch ${s.worktreeBranch}` : '', usageOf(s)]
      : [];
    this._meta.textContent = bits.filter(Boolean).join(' · ');
    const asking = s?.state === 'waiting_permission';
    this._permission.setHidden(!asking);
    this._question.textContent = asking ? s?.detail || '(the agent’s question is on its terminal)' : '';
    this._stopButton.disabled = this._busy || !s || s.status === 'stopped';
    this._resumeButton.disabled = this._busy || !s || running;
    this._resumeButton.style.display = running ? 'none' : '';
    this._sendButton.disabled = this._busy || !running;
    this._interruptButton.disabled = this._busy || !running;
    for (const b of this._permission.node.querySelectorAll('button')) {
      (b as HTMLButtonElement).disabled = this._busy;
    }
  }

  private _showStream(state: StreamState): void {
    const words: Record<StreamState, string> = {
      loading: 'loading history…',
      live: '',
      reconnecting: 'reconnecting…',
      closed: ''
    };
    this._streamNote.textContent = words[state];
    this.node.dataset.stream = state;
  }

  private _isAtBottom(): boolean {
    const n = this._transcript.node;
    return n.scrollHeight - n.scrollTop - n.clientHeight < 40;
  }

  private _scrollToBottom(): void {
    if (this._frame) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      const n = this._transcript.node;
      n.scrollTop = n.scrollHeight;
    });
  }

  private _frame = 0;
  private _observer: MutationObserver;
  private _stick = true;

  private _agents: AgentsModel;
  private _badge!: HTMLDivElement;
  private _busy = false;
  private _composer: Widget;
  private _error!: HTMLDivElement;
  private _header: Widget;
  private _input!: HTMLTextAreaElement;
  private _interruptButton!: HTMLButtonElement;
  private _meta!: HTMLDivElement;
  private _permission: Widget;
  private _question!: HTMLPreElement;
  private _resumeButton!: HTMLButtonElement;
  private _sendButton!: HTMLButtonElement;
  private _stopButton!: HTMLButtonElement;
  private _stream: AgentEventStream;
  private _streamNote!: HTMLDivElement;
  private _terminal: TerminalView;
  private _terminalButton!: HTMLButtonElement;
  private _titleNode!: HTMLDivElement;
  private _transcript: TranscriptView;
}

export namespace AgentSessionView {
  export interface IOptions {
    sessionId: string;
    agents: AgentsModel;
    rendermime: IRenderMimeRegistry;
  }

  /** The DOM id (and restorer name) of a session's tab. */
  export function idFor(sessionId: string): string {
    return `aiikernel-agent-${sessionId}`;
  }
}
