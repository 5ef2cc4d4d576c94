/**
 * Inspectors: the kernel's variables (names, types, shapes, sizes, short values; the kernel
 * describes them without running the user's code), the raw Markdown of a turn's replies, and
 * the wire log (the kernel redacts secrets). Model text is shown as plain text, never HTML.
 */
import { Dialog, MainAreaWidget, showDialog } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { ChatModel } from './chatModel';
import { IChatTurn } from './protocol';
import { addedSize } from './checkpointsView';

function preformatted(text: string, label: string): Widget {
  const widget = new Widget({ node: document.createElement('pre') });
  widget.addClass('jp-AiiInspector-text');
  widget.node.textContent = text;
  widget.node.tabIndex = 0;
  widget.node.setAttribute('aria-label', label);
  return widget;
}

/** The Markdown the model wrote in `turn`, reply by reply, as text. */
export function rawMarkdown(turn: IChatTurn): string {
  const replies = turn.steps.map(step => `<!-- reply ${step.step} -->\n${step.text}`);
  return replies.join('\n\n') || '(no reply yet)';
}

export async function showRawMarkdown(turn: IChatTurn | undefined): Promise<void> {
  await showDialog({
    title: turn ? `Raw Markdown: ${turn.prompt.slice(0, 60)}` : 'Raw Markdown',
    body: preformatted(turn ? rawMarkdown(turn) : 'No turn yet.', 'Raw Markdown of the replies'),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}

export async function showWireLog(model: ChatModel): Promise<void> {
  const answer = await model.timeTravel.wire(5);
  const text = answer ? answer.markdown : 'No aiipython kernel is connected.';
  await showDialog({
    title: `Wire log${answer?.count ? ` (last ${answer.count})` : ''}`,
    body: preformatted(text, 'Model requests and responses, secrets redacted'),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}

/** The variables of the bound kernel as a table; refreshes whenever the kernel goes idle. */
export class VariablesView extends Widget {
  constructor(private readonly _model: ChatModel) {
    super();
    this.addClass('jp-AiiInspector-variables');
    this.node.tabIndex = 0;
    _model.stateChanged.connect(this._watchKernel, this);
    this._watchKernel();
  }

  dispose(): void {
    this._context?.statusChanged.disconnect(this._onStatus, this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const answer = await this._model.timeTravel.variables();
    const table = document.createElement('table');
    table.className = 'jp-AiiInspector-table';
    const head = table.createTHead().insertRow();
    for (const title of ['Name', 'Type and shape', 'Size', 'Value']) {
      const th = document.createElement('th');
      th.textContent = title;
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const variable of answer?.variables ?? []) {
      const row = body.insertRow();
      row.dataset.name = variable.name;
      const size = variable.size === null ? '' : addedSize(variable.size).slice(1);
      for (const text of [variable.name, variable.summary, size]) {
        row.insertCell().textContent = text;
      }
      const value = row.insertCell();
      value.textContent = variable.value || '—';
      if (!variable.value) {
        // Only built-in numbers and strings have a value here: nothing else is run to show it.
        value.className = 'jp-AiiInspector-noValue';
        value.title = 'Shown for built-in numbers and strings only (nothing runs to describe others)';
      }
    }
    const note = document.createElement('p');
    note.className = 'jp-AiiInspector-note';
    note.textContent = answer
      ? `${answer.variables.length} variable${answer.variables.length === 1 ? '' : 's'}. ` +
        'Described from their types: nothing runs in your namespace.'
      : 'No aiipython kernel is connected.';
    this.node.replaceChildren(note, table);
  }

  private _watchKernel(): void {
    const context = this._model.sessionContext;
    if (context === this._context) {
      return;
    }
    this._context?.statusChanged.disconnect(this._onStatus, this);
    this._context = context;
    context?.statusChanged.connect(this._onStatus, this);
    if (this.isAttached) {
      void this.refresh();
    }
  }

  private _onStatus(_: unknown, status: string): void {
    if (status === 'idle' && this.isAttached) {
      void this.refresh();
    }
  }

  private _context: ChatModel['sessionContext'] = null;
}

/** A main-area tab holding the variables view. */
export function variablesWidget(model: ChatModel): MainAreaWidget<VariablesView> {
  const widget = new MainAreaWidget({ content: new VariablesView(model) });
  widget.id = 'aiikernel-variables';
  widget.title.label = 'AI Variables';
  widget.title.closable = true;
  return widget;
}
