/**
 * "Fix with AI" on every error output of an aiipython notebook.
 *
 * Rendermime-independent: it watches each code cell's `OutputAreaModel` and, when an
 * output of type `error` is shown, adds a button to that output's row. The button
 * sends the cell's source and its traceback (colour codes removed) to the chat as a
 * prompt. Notebooks with another kernel get no buttons.
 */
import { Cell, CodeCell } from '@jupyterlab/cells';
import * as nbformat from '@jupyterlab/nbformat';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IOutputAreaModel } from '@jupyterlab/outputarea';
import { IDisposable } from '@lumino/disposable';

import { KERNEL_NAME } from './protocol';

const BUTTON_CLASS = 'jp-AiiFixWithAi';
const TRACEBACK_LIMIT = 6000;

/** Terminal colour codes out of a traceback line. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** The prompt that asks the model to fix `source`, which failed with `error`. */
export function fixPrompt(source: string, error: nbformat.IError, cellNumber?: number | null): string {
  let traceback = stripAnsi((error.traceback ?? []).join('\n'))
    .split('\n')
    .filter(line => !/^-{10,}$/.test(line.trim())) // IPython's rule above the traceback
    .join('\n')
    .trim();
  if (!traceback) {
    traceback = `${error.ename}: ${error.evalue}`;
  }
  if (traceback.length > TRACEBACK_LIMIT) {
    traceback = '…\n' + traceback.slice(-TRACEBACK_LIMIT);
  }
  const where = cellNumber ? `cell [${cellNumber}]` : 'this cell';
  return (
    `Fix the error in ${where}: explain the cause briefly, then fix it.\n\n` +
    '```python\n' +
    source +
    '\n```\n\n' +
    'Traceback:\n```\n' +
    traceback +
    '\n```'
  );
}

export class ErrorActions implements IDisposable {
  constructor(private readonly _options: ErrorActions.IOptions) {
    _options.notebooks.widgetAdded.connect(this._onNotebook, this);
    _options.notebooks.forEach(panel => this._onNotebook(_options.notebooks, panel));
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._options.notebooks.widgetAdded.disconnect(this._onNotebook, this);
    for (const model of this._cells.keys()) {
      model.changed.disconnect(this._onOutputs, this);
    }
    this._cells.clear();
  }

  private _onNotebook(_: unknown, panel: NotebookPanel): void {
    const rescan = () => this._scan(panel);
    panel.sessionContext.kernelChanged.connect(rescan);
    panel.content.model?.cells.changed.connect(rescan);
    panel.content.modelChanged.connect(rescan);
    void panel.revealed.then(rescan);
    void panel.sessionContext.ready.then(rescan);
    panel.disposed.connect(() => {
      panel.sessionContext.kernelChanged.disconnect(rescan);
      for (const cell of panel.content.widgets) {
        this._unwatch(cell);
      }
    });
    rescan();
  }

  private _isAiipython(panel: NotebookPanel): boolean {
    const kernel = panel.sessionContext.session?.kernel;
    const name = kernel?.name ?? panel.sessionContext.kernelPreference.name;
    return name === KERNEL_NAME;
  }

  private _scan(panel: NotebookPanel): void {
    if (this._isDisposed || panel.isDisposed) {
      return;
    }
    const enabled = this._isAiipython(panel);
    for (const cell of panel.content.widgets) {
      if (!(cell instanceof CodeCell)) {
        continue;
      }
      const model = cell.outputArea.model;
      if (!this._cells.has(model)) {
        this._cells.set(model, { cell, panel });
        model.changed.connect(this._onOutputs, this);
        cell.disposed.connect(() => this._unwatch(cell));
      }
      this._decorate(cell, panel, enabled);
    }
  }

  private _unwatch(cell: Cell): void {
    if (cell instanceof CodeCell && !cell.outputArea.isDisposed) {
      const model = cell.outputArea.model;
      model.changed.disconnect(this._onOutputs, this);
      this._cells.delete(model);
    }
  }

  private _onOutputs(model: IOutputAreaModel): void {
    const entry = this._cells.get(model);
    if (!entry) {
      return;
    }
    // The output area makes its widgets in its own handler of this signal: look after it.
    requestAnimationFrame(() => {
      if (!entry.cell.isDisposed) {
        this._decorate(entry.cell, entry.panel, this._isAiipython(entry.panel));
      }
    });
  }

  private _decorate(cell: CodeCell, panel: NotebookPanel, enabled: boolean): void {
    const area = cell.outputArea;
    for (const old of Array.from(area.node.querySelectorAll(`.${BUTTON_CLASS}`))) {
      const index = Number((old as HTMLElement).dataset.index);
      const output = index < area.model.length ? area.model.get(index) : null;
      if (!enabled || !output || output.type !== 'error' || area.widgets[index]?.node !== old.parentElement) {
        old.remove();
      }
    }
    if (!enabled) {
      return;
    }
    for (let index = 0; index < area.model.length; index++) {
      const output = area.model.get(index);
      const row = area.widgets[index];
      if (output.type !== 'error' || !row || row.node.querySelector(`:scope > .${BUTTON_CLASS}`)) {
        continue;
      }
      const button = document.createElement('button');
      button.className = `jp-Button jp-mod-styled jp-mod-accept ${BUTTON_CLASS}`;
      button.textContent = 'Fix with AI';
      button.title = 'Send this cell and its traceback to the AI chat';
      button.setAttribute('aria-label', 'Fix with AI: send this cell and its traceback to the chat');
      button.dataset.index = String(index);
      button.addEventListener('click', event => {
        event.stopPropagation();
        const current = area.model.get(index);
        if (!current || current.type !== 'error') {
          return;
        }
        const error = current.toJSON() as nbformat.IError;
        const source = cell.model.sharedModel.getSource();
        this._options.send(panel, fixPrompt(source, error, cell.model.executionCount));
      });
      row.node.appendChild(button);
    }
  }

  private _cells = new Map<IOutputAreaModel, { cell: CodeCell; panel: NotebookPanel }>();
  private _isDisposed = false;
}

export namespace ErrorActions {
  export interface IOptions {
    notebooks: INotebookTracker;
    /** Show the chat for `panel`'s kernel and send `prompt` there. */
    send: (panel: NotebookPanel, prompt: string) => void;
  }
}
