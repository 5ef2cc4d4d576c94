/**
 * Time travel's questions to the kernel: the checkpoint tree, a checkpoint's diff, and the
 * inspectors' reads (variables, wire log). All are comm reads, answered on the kernel's
 * subshell, so they work while a turn runs. The tree is asked for again whenever the
 * conversation or the namespace may have moved: a turn's state diff, a redrawn history
 * (undo, restore, resume) and the state broadcast that follows every command.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ChatConnection, newRequestId } from './connection';
import {
  ICheckpointsMessage,
  IDiffMessage,
  IVariablesMessage,
  IWireMessage,
  ServerMessage
} from './protocol';

type Answer = ICheckpointsMessage | IDiffMessage | IVariablesMessage | IWireMessage;

export class TimeTravelQueries {
  /** A new tree arrived (or the connection changed). */
  get treeChanged(): ISignal<this, void> {
    return this._treeChanged;
  }

  /** The last tree the kernel sent; null before the first answer or when not connected. */
  get tree(): ICheckpointsMessage | null {
    return this._tree;
  }

  /** Ask through `connection` from now on (null: not connected). */
  attach(connection: ChatConnection | null): void {
    this._connection = connection;
    for (const resolve of this._waiting.values()) {
      resolve(null);
    }
    this._waiting.clear();
    this._tree = null;
    this._treeChanged.emit();
    if (connection && this.watching) {
      this.refreshTree();
    }
  }

  /** Whether someone shows the tree (a hidden Checkpoints view asks for nothing). */
  get watching(): boolean {
    return this._watching;
  }
  set watching(value: boolean) {
    this._watching = value;
    if (value) {
      this.refreshTree();
    }
  }

  /** Take the answers to these reads; true when `message` was one. Watches for moves. */
  handle(message: ServerMessage): boolean {
    switch (message.type) {
      case 'checkpoints':
        this._tree = message;
        this._treeChanged.emit();
        this._resolve(message);
        return true;
      case 'diff':
      case 'variables':
      case 'wire':
        this._resolve(message);
        return true;
      case 'event':
        if (message.event.kind === 'state_diff' || message.event.kind === 'turn_started') {
          this._refreshSoon();
        }
        return false;
      case 'history':
      case 'state':
        this._refreshSoon();
        return false;
      default:
        return false;
    }
  }

  /** Ask for the tree again (the answer updates `tree`). */
  refreshTree(): void {
    this._connection?.request({ type: 'checkpoints', request_id: newRequestId('t') });
  }

  /** What checkpoint `id` changed since the one before it. */
  diff(id: string): Promise<IDiffMessage | null> {
    return this._ask<IDiffMessage>({ type: 'diff', request_id: newRequestId('d'), checkpoint: id });
  }

  variables(): Promise<IVariablesMessage | null> {
    return this._ask<IVariablesMessage>({ type: 'variables', request_id: newRequestId('v') });
  }

  wire(count = 5): Promise<IWireMessage | null> {
    return this._ask<IWireMessage>({ type: 'wire', request_id: newRequestId('w'), count });
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    this.attach(null);
    Signal.clearData(this);
  }

  private _ask<T extends Answer>(request: { type: Answer['type']; request_id: string } & Record<string, unknown>): Promise<T | null> {
    const connection = this._connection;
    if (!connection) {
      return Promise.resolve(null);
    }
    return new Promise(resolve => {
      this._waiting.set(request.request_id, answer => resolve(answer as T | null));
      connection.request(request as never);
    });
  }

  private _resolve(message: Answer): void {
    const waiting = message.request_id ? this._waiting.get(message.request_id) : undefined;
    if (waiting && message.request_id) {
      this._waiting.delete(message.request_id);
      waiting(message);
    }
  }

  /** Several messages often come together (history, then state): ask once for them. */
  private _refreshSoon(): void {
    if (!this._watching || !this._connection) {
      return;
    }
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => this.refreshTree(), 50);
  }

  private _connection: ChatConnection | null = null;
  private _timer = 0;
  private _tree: ICheckpointsMessage | null = null;
  private _treeChanged = new Signal<this, void>(this);
  private _waiting = new Map<string, (answer: Answer | null) => void>();
  private _watching = false;
}
