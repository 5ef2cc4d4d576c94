/**
 * Questions the panel asks the kernel for its completions, whose answers are not part of
 * the conversation: the user's variables (`names`, for `@` completion) and the models
 * `/model` lists (for the picker; the command's answer is not shown as a note).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ChatConnection, newRequestId } from './connection';
import { INameInfo, ServerMessage } from './protocol';

export class KernelQueries {
  /** A `names` answer arrived. */
  get namesChanged(): ISignal<this, void> {
    return this._namesChanged;
  }

  /** The kernel's user variables, as of the last `names` answer. */
  get names(): readonly INameInfo[] {
    return this._names;
  }

  /** Ask through `connection` from now on (null: not connected). */
  attach(connection: ChatConnection | null): void {
    this._connection = connection;
    this._models = null;
    for (const resolve of this._quiet.values()) {
      resolve(null);
    }
    this._quiet.clear();
  }

  /** Take the messages that answer these queries; true when `message` was one. */
  handle(message: ServerMessage): boolean {
    if (message.type === 'names') {
      this._names = message.names;
      this._namesChanged.emit();
      return true;
    }
    if (message.type === 'command_result') {
      const waiting = this._quiet.get(message.request_id);
      if (waiting) {
        this._quiet.delete(message.request_id);
        waiting(message.ok ? message.data : null);
        return true;
      }
    }
    return false;
  }

  /** Ask for the variables again; resolves when `names` is updated (or after 2 s). */
  refreshNames(): Promise<void> {
    const connection = this._connection;
    if (!connection) {
      return Promise.resolve();
    }
    return new Promise(resolve => {
      const done = () => {
        window.clearTimeout(timer);
        this._namesChanged.disconnect(done);
        resolve();
      };
      const timer = window.setTimeout(done, 2000);
      this._namesChanged.connect(done);
      connection.request({ type: 'names', request_id: newRequestId('v') });
    });
  }

  /**
   * The models `/model` lists (recent first, then live discovery), cached for a minute.
   * The kernel's own `/model` command runs on the main shell, so it waits for a running turn.
   */
  listModels(): Promise<string[]> {
    const connection = this._connection;
    if (!connection) {
      return Promise.resolve([]);
    }
    if (this._models && Date.now() - this._models.at < 60_000) {
      return this._models.list;
    }
    const requestId = newRequestId('m');
    const list = new Promise<string[]>(resolve => {
      this._quiet.set(requestId, data => {
        const models = new Set<string>((data?.recent as string[] | undefined) ?? []);
        const listings = (data?.listings as { provider: string; models?: string[] }[] | undefined) ?? [];
        for (const listing of listings) {
          for (const name of listing.models ?? []) {
            models.add(`${listing.provider}/${name}`);
          }
        }
        resolve([...models]);
      });
    });
    this._models = { at: Date.now(), list };
    void connection.run({ type: 'command', request_id: requestId, line: '/model' });
    return list;
  }

  dispose(): void {
    this.attach(null);
    Signal.clearData(this);
  }

  private _connection: ChatConnection | null = null;
  private _models: { at: number; list: Promise<string[]> } | null = null;
  private _names: INameInfo[] = [];
  private _namesChanged = new Signal<this, void>(this);
  private _quiet = new Map<string, (data: Record<string, unknown> | null) => void>();
}
