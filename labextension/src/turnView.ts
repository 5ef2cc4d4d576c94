/**
 * One turn of the conversation: the prompt, each model reply (Markdown with its
 * code blocks in place), notices, the error if any, and a status line (step
 * counter while running, tokens and cost when done). Built from a turn record,
 * then kept up to date by the events the model applies.
 */
import * as nbformat from '@jupyterlab/nbformat';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { CodeBlockView } from './codeBlock';
import { fencedParts, markdownWidget, StreamingMarkdown } from './markdown';
import { ApproveAction, ERROR_TITLES, IChatStep, IChatTurn, TurnEvent } from './protocol';
import { describeUsage, turnCode, turnMarkdown } from './records';
import { showRawMarkdown } from './inspectors';
import { diffLine } from './timeTravelViews';
import { ICodeActions } from './tokens';

function textWidget(className: string, text: string, role?: string): Widget {
  const widget = new Widget();
  widget.addClass(className);
  widget.node.textContent = text;
  if (role) {
    widget.node.setAttribute('role', role);
  }
  return widget;
}

/** One model reply: streaming Markdown, then Markdown segments around its code blocks. */
class StepView extends Panel {
  constructor(
    step: IChatStep,
    private readonly _rendermime: IRenderMimeRegistry,
    private readonly _actions: ICodeActions | null,
    private readonly _decide: TurnView.Decide | null = null
  ) {
    super();
    this.addClass('jp-AiiChat-step');
    this._step = step.step;
    if (step.done) {
      this.layoutStep(step);
    } else {
      this._streaming = new StreamingMarkdown(_rendermime);
      this._streaming.append(step.text);
      this.addWidget(this._streaming);
    }
  }

  append(text: string): void {
    if (!this._streaming) {
      this._streaming = new StreamingMarkdown(this._rendermime);
      this.addWidget(this._streaming);
    }
    this._streaming.append(text);
  }

  /** Lay the finished reply out: text segments between the blocks that ran. */
  layoutStep(step: IChatStep): void {
    if (step.blocks.length === 0 && this._streaming && this.widgets.length === 1) {
      this._streaming.complete(step.text); // no code: keep the blocks already rendered
      return;
    }
    this._streaming?.dispose();
    this._streaming = null;
    for (const widget of [...this.widgets]) {
      if (widget instanceof CodeBlockView) {
        widget.parent = null;
      } else {
        widget.dispose();
      }
    }
    let pos = 0;
    const blocks = [...step.blocks].sort((a, b) => a.start_offset - b.start_offset);
    for (const block of blocks) {
      this._addText(step.text.slice(pos, block.start_offset));
      this.addWidget(this.block(block.index) ?? this._newBlock(block));
      pos = Math.max(pos, block.end_offset);
    }
    this._addText(step.text.slice(pos));
  }

  block(index: number): CodeBlockView | undefined {
    return this._blocks.get(index);
  }

  updateDisplay(displayId: string, output: nbformat.IOutput): void {
    for (const view of this._blocks.values()) {
      view.updateDisplay(displayId, output);
    }
  }

  private _newBlock(block: IChatStep['blocks'][number]): CodeBlockView {
    const decide = this._decide;
    const view = new CodeBlockView({
      block,
      rendermime: this._rendermime,
      actions: this._actions,
      decide: decide ? (action, code) => decide(this._step, block.index, action, code) : null
    });
    this._blocks.set(block.index, view);
    return view;
  }

  private _addText(text: string): void {
    if (text.trim()) {
      this.addWidget(markdownWidget(this._rendermime, text));
    }
  }

  private _blocks = new Map<number, CodeBlockView>();
  private _step: number;
  private _streaming: StreamingMarkdown | null = null;
}

export class TurnView extends Panel {
  constructor(options: TurnView.IOptions) {
    super();
    this.addClass('jp-AiiChat-turn');
    this._turn = options.turn;
    this._rendermime = options.rendermime;
    this._actions = options.actions ?? null;
    this._decide = options.decide ?? null;
    this.node.dataset.turn = String(options.turn.id);

    const prompt = textWidget('jp-AiiChat-prompt', '');
    for (const part of fencedParts(options.turn.prompt)) {
      const span = document.createElement('span');
      span.textContent = part.text;
      if (part.code) {
        span.className = 'jp-AiiChat-promptCode';
      }
      prompt.node.appendChild(span);
    }
    prompt.node.setAttribute('aria-label', 'Prompt');
    if (options.turn.source === 'cell') {
      prompt.node.dataset.source = 'cell';
      prompt.node.title = 'Sent from a %%ai cell';
    }
    this.addWidget(prompt);
    const attachments = options.turn.attachments ?? [];
    if (attachments.length) {
      const chips = new Widget();
      chips.addClass('jp-AiiChat-chips');
      chips.node.setAttribute('aria-label', 'Attached');
      for (const label of attachments) {
        const chip = document.createElement('span');
        chip.className = 'jp-AiiChat-chip';
        chip.textContent = label;
        chips.node.appendChild(chip);
      }
      this.addWidget(chips);
    }
    this._stepsPanel = new Panel();
    this._stepsPanel.addClass('jp-AiiChat-steps');
    this.addWidget(this._stepsPanel);
    this._notices = new Panel();
    this.addWidget(this._notices);
    this._status = textWidget('jp-AiiChat-turnStatus', '');
    this._statusText = document.createElement('span');
    this._statusText.className = 'jp-AiiChat-turnStatusText';
    this._statusText.setAttribute('role', 'status');
    this._status.node.append(this._statusText, this._actionBar(options.onEdit));
    this.addWidget(this._status);
    this._diff = new Widget();
    this.addWidget(this._diff);
    this._showDiff();

    for (const step of options.turn.steps) {
      this._addStep(step);
    }
    for (const notice of options.turn.notices) {
      this._notices.addWidget(textWidget('jp-AiiChat-notice', notice));
    }
    if (options.turn.error) {
      this._showError();
    }
    this._updateStatus();
  }

  get turn(): IChatTurn {
    return this._turn;
  }

  /** Update the view for an event already folded into the turn record. */
  handle(event: TurnEvent): void {
    const turn = this._turn;
    switch (event.kind) {
      case 'state_diff':
        this._showDiff();
        break;
      case 'step_started':
        this._addStep(turn.steps[turn.steps.length - 1]);
        break;
      case 'text_delta':
        this._steps.get(event.step)?.append(event.text);
        break;
      case 'reply_done':
      case 'code_started': {
        const step = turn.steps.find(s => s.step === event.step);
        if (step) {
          this._steps.get(event.step)?.layoutStep(step);
        }
        break;
      }
      case 'code_awaiting':
        this._steps.get(event.step)?.block(event.index)?.setStatus('pending');
        break;
      case 'code_finished': {
        const view = this._steps.get(event.step)?.block(event.index);
        if (view && event.edited_code) {
          view.setCode(event.edited_code);
        }
        view?.setStatus(event.status, event.duration);
        break;
      }
      case 'code_output': {
        const block = this._steps.get(event.step)?.block(event.index);
        if (event.update && event.display_id) {
          for (const view of this._steps.values()) {
            view.updateDisplay(event.display_id, event.output);
          }
        } else {
          block?.addOutput(event.output, event.display_id);
        }
        break;
      }
      case 'code_clear':
        this._steps.get(event.step)?.block(event.index)?.clearOutputs(event.wait);
        break;
      case 'notice':
        this._notices.addWidget(textWidget('jp-AiiChat-notice', event.message));
        break;
      case 'error':
        this._showError();
        break;
      case 'done':
        for (const step of turn.steps) {
          for (const block of step.blocks) {
            this._steps.get(step.step)?.block(block.index)?.setStatus(block.status, block.duration);
          }
        }
        break;
    }
    this._updateStatus();
  }

  private _addStep(step: IChatStep): void {
    const decide = this._turn.source === 'chat' ? this._decide : null;
    const view = new StepView(step, this._rendermime, this._actions, decide);
    this._steps.set(step.step, view);
    this._stepsPanel.addWidget(view);
  }

  private _showError(): void {
    const error = this._turn.error;
    if (!error || this._error) {
      return;
    }
    const title = ERROR_TITLES[error.category] ?? 'Model error';
    this._error = markdownWidget(
      this._rendermime,
      `**⚠ ${title}:** ${error.message}\n\nThe turn ended; the kernel and the conversation are fine.`
    );
    this._error.addClass('jp-AiiChat-error');
    this._error.node.setAttribute('role', 'alert');
    this.insertWidget(this.widgets.indexOf(this._status), this._error);
  }

  private _updateStatus(): void {
    const turn = this._turn;
    const steps = turn.steps.length;
    const usage =
      turn.usage.prompt_tokens || turn.usage.completion_tokens ? ` · ${describeUsage(turn.usage)}` : '';
    let text: string;
    switch (turn.status) {
      case 'running':
        text = steps
          ? `step ${steps} of ≤${turn.max_steps ?? '?'}${usage}`
          : 'waiting for the model…';
        break;
      case 'interrupted':
        text = `Stopped — the kernel is alive · ${steps} step${steps === 1 ? '' : 's'}${usage}`;
        break;
      case 'max_steps':
        text = `Stopped after ${steps} steps (the step limit)${usage}`;
        break;
      case 'error':
        text = `Ended with an error${usage}`;
        break;
      default:
        text = `${turn.model} · ${steps} step${steps === 1 ? '' : 's'}${usage}`;
    }
    this._statusText.textContent = text;
    this._insertAll.hidden = turn.status === 'running' || !this._actions || turnCode(turn).length === 0;
    this.node.dataset.status = turn.status;
  }

  /** Edit (the prompt back in the input), Copy as Markdown, Insert the code as cells. */
  private _actionBar(onEdit: TurnView.IOptions['onEdit']): HTMLElement {
    const bar = document.createElement('span');
    bar.className = 'jp-AiiChat-turnActions';
    const add = (label: string, title: string, run: () => void) => {
      const b = document.createElement('button');
      b.className = 'jp-AiiChat-action';
      b.textContent = label;
      b.title = title;
      b.setAttribute('aria-label', title);
      b.addEventListener('click', run);
      bar.appendChild(b);
      return b;
    };
    if (onEdit) {
      const title = this._turn.checkpoint
        ? `Edit this prompt and replay it from checkpoint ${this._turn.checkpoint} (the state before it)`
        : 'Edit and resend this prompt';
      add('Edit', title, () => onEdit(this._turn.prompt, this._turn.checkpoint ?? null));
    }
    add('Copy', 'Copy this turn as Markdown', () => void navigator.clipboard?.writeText(turnMarkdown(this._turn)));
    add('Markdown', "Show the model's raw Markdown of this turn", () => void showRawMarkdown(this._turn));
    this._insertAll = add('Insert code', "Insert this turn's code as cells below the active cell", () =>
      this._actions?.insertAllBelow(turnCode(this._turn))
    );
    return bar;
  }

  private _showDiff(): void {
    this._diff.node.replaceChildren(...(this._turn.diff ? [diffLine(this._turn.diff)] : []));
  }

  private _actions: ICodeActions | null;
  private _diff: Widget;
  private _decide: TurnView.Decide | null;
  private _insertAll!: HTMLButtonElement;
  private _statusText: HTMLElement;
  private _error: Widget | null = null;
  private _notices: Panel;
  private _rendermime: IRenderMimeRegistry;
  private _status: Widget;
  private _steps = new Map<number, StepView>();
  private _stepsPanel: Panel;
  private _turn: IChatTurn;
}

export namespace TurnView {
  export interface IOptions {
    turn: IChatTurn;
    rendermime: IRenderMimeRegistry;
    actions?: ICodeActions | null;
    /** Put a prompt back in the input, to edit and replay from `checkpoint` (before the turn). */
    onEdit?: (text: string, checkpoint: string | null) => void;
    /** Run mode ask: the user's answer for a waiting block of this turn. */
    decide?: Decide | null;
  }

  export type Decide = (step: number, index: number, action: ApproveAction, code?: string) => void;
}
