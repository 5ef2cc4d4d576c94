/**
 * Small time-travel pieces of the Chat section: a turn's state diff line, the offer to
 * resume an earlier kernel session, and the "replaying from checkpoint N" bar of
 * edit-and-replay. Text from the kernel is set as text, never as HTML.
 */
import { Widget } from '@lumino/widgets';

import type { ChatModel } from './chatModel';
import { INameChange, IStateDiff } from './protocol';

/** `HH:MM:SS` (local time) of a kernel timestamp in seconds. */
export function clockTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

/** One name of a diff: `df: DataFrame 1000×5 → DataFrame 980×6`, `x (int)`. */
export function describeChange(change: INameChange): string {
  if (change.before && change.after && change.before !== change.after) {
    return `${change.name}: ${change.before} → ${change.after}`;
  }
  const known = change.after || change.before;
  return known ? `${change.name} (${known})` : change.name;
}

/** The line under a finished turn: what it did to the namespace (or what was rolled back). */
export function diffLine(diff: IStateDiff): HTMLElement {
  const line = document.createElement('div');
  line.className = 'jp-AiiChat-stateDiff';
  line.setAttribute('aria-label', 'What this turn changed in the namespace');
  if (diff.rolled_back) {
    line.dataset.rolledBack = 'true';
    line.textContent = diff.rolled_back;
    return line;
  }
  const label = document.createElement('span');
  label.className = 'jp-AiiChat-stateDiffLabel';
  label.textContent = 'State: ';
  const text = document.createElement('span');
  text.textContent = diff.text || 'no names changed';
  line.append(label, text);
  if (diff.after) {
    line.title = `Checkpoint [${diff.after}] (before the turn: [${diff.before ?? '—'}])`;
  }
  return line;
}

function smallButton(label: string, title: string, onClick: () => void, className = ''): HTMLButtonElement {
  const b = document.createElement('button');
  b.className = `jp-Button jp-mod-styled ${className}`.trim();
  b.textContent = label;
  b.title = title;
  b.setAttribute('aria-label', title);
  b.addEventListener('click', onClick);
  return b;
}

/**
 * "Resume from checkpoint N (label, time)": shown while the kernel offers an earlier session
 * (a restarted kernel with the store present). Nothing happens until the user clicks.
 */
export class ResumeBanner extends Widget {
  constructor(private readonly _model: ChatModel) {
    super();
    this.addClass('jp-AiiChat-resume');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Resume an earlier kernel session');
    _model.stateChanged.connect(this._update, this);
    this._update();
  }

  private _update(): void {
    const offer = this._model.binding.kind === 'ready' ? this._model.serverState?.resume : null;
    const show = !!offer && offer.ref !== this._dismissed;
    this.setHidden(!show);
    if (!show || !offer || this._shown === offer.ref) {
      return;
    }
    this._shown = offer.ref;
    const text = document.createElement('span');
    text.className = 'jp-AiiChat-resumeText';
    const turns = offer.turns ? `, ${offer.turns} turn${offer.turns === 1 ? '' : 's'}` : '';
    text.textContent =
      `Resume from checkpoint ${offer.checkpoint} (${offer.label}, ${clockTime(offer.time)}${turns}): ` +
      'restore variables and conversation?';
    text.title = `Kernel session ${offer.session}; variables: ${offer.names.join(', ') || 'none'}`;
    const resume = smallButton('Resume', 'Restore the variables and the conversation of that checkpoint', () => {
      this._dismissed = offer.ref;
      this._model.send(`/resume ${offer.ref}`);
      this.setHidden(true);
    }, 'jp-mod-accept jp-AiiChat-resumeButton');
    const dismiss = smallButton('Not now', 'Start fresh; /resume still works later', () => {
      this._dismissed = offer.ref;
      this.setHidden(true);
    }, 'jp-AiiChat-resumeDismiss');
    this.node.replaceChildren(text, resume, dismiss);
  }

  private _dismissed = '';
  private _shown = '';
}

/** Edit and replay: which checkpoint the next prompt starts from (× cancels). */
export class ReplayBar extends Widget {
  constructor() {
    super();
    this.addClass('jp-AiiChat-replay');
    this.node.setAttribute('role', 'status');
    this.setHidden(true);
  }

  /** The checkpoint the next prompt replays from, or null for a normal prompt. */
  get checkpoint(): string | null {
    return this._checkpoint;
  }

  start(checkpoint: string, prompt: string): void {
    this._checkpoint = checkpoint;
    const text = document.createElement('span');
    const short = prompt.length > 40 ? `${prompt.slice(0, 39)}…` : prompt;
    text.textContent = `↺ Replaying from checkpoint ${checkpoint} (before “${short}”): sending restores it first, as a new branch.`;
    const cancel = smallButton('×', 'Send as a normal prompt instead (no restore)', () => this.clear(), 'jp-AiiChat-replayCancel');
    this.node.replaceChildren(text, cancel);
    this.setHidden(false);
  }

  clear(): void {
    this._checkpoint = null;
    this.node.replaceChildren();
    this.setHidden(true);
  }

  private _checkpoint: string | null = null;
}
