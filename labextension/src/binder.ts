/**
 * Which notebook or console the chat follows: the one last active in the main
 * area (focusing the side panel does not change it). Its session context goes
 * to the chat model, which then follows that context's kernel.
 */
import { ILabShell } from '@jupyterlab/application';
import { ISessionContext } from '@jupyterlab/apputils';
import { IConsoleTracker } from '@jupyterlab/console';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { ChatModel } from './chatModel';

type Followable = Widget & { sessionContext: ISessionContext };

export class ChatBinder implements IDisposable {
  constructor(private readonly _options: ChatBinder.IOptions) {
    const { labShell, notebooks, consoles } = _options;
    labShell?.currentChanged.connect(this._update, this);
    notebooks?.currentChanged.connect(this._update, this);
    consoles?.currentChanged.connect(this._update, this);
    this._update();
  }

  /** The notebook or console panel the chat follows, if any. */
  get current(): Followable | null {
    return this._current;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    const { labShell, notebooks, consoles } = this._options;
    labShell?.currentChanged.disconnect(this._update, this);
    notebooks?.currentChanged.disconnect(this._update, this);
    consoles?.currentChanged.disconnect(this._update, this);
  }

  private _tracked(widget: Widget | null | undefined): widget is Followable {
    const { notebooks, consoles } = this._options;
    return (
      !!widget &&
      !widget.isDisposed &&
      ((notebooks?.has(widget) ?? false) || (consoles?.has(widget) ?? false))
    );
  }

  private _update(): void {
    const { labShell, notebooks, consoles } = this._options;
    const active = labShell?.currentWidget;
    let next: Followable | null = null;
    if (this._tracked(active)) {
      next = active;
    } else if (this._tracked(this._current)) {
      next = this._current; // e.g. a launcher or an editor became active: keep the last one
    } else {
      next = (notebooks?.currentWidget ?? consoles?.currentWidget ?? null) as Followable | null;
    }
    if (next === this._current) {
      return;
    }
    this._current?.disposed.disconnect(this._update, this);
    this._current = next;
    next?.disposed.connect(this._update, this);
    this._options.model.bind(next?.sessionContext ?? null, next?.title.label ?? '');
  }

  private _current: Followable | null = null;
  private _isDisposed = false;
}

export namespace ChatBinder {
  export interface IOptions {
    model: ChatModel;
    labShell: ILabShell | null;
    notebooks: INotebookTracker | null;
    consoles: IConsoleTracker | null;
  }
}
