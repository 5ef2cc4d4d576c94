/**
 * One chat comm to one aiipython kernel.
 *
 * Reads (`history`, `state`, `commands`) go over the comm, which JupyterLab serves
 * on a kernel subshell, so they are answered even while a turn runs. Prompts and
 * commands run on the main shell: they are sent as a small execute request that
 * calls `aiikernel.chat.hub.chat_request`, so they queue with cells and the
 * kernel interrupt stops them.
 */
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { ClientRequest, isServerMessage, ServerMessage, TARGET_NAME } from './protocol';

let requestCounter = 0;

/** A request id unique within this page. */
export function newRequestId(prefix = 'r'): string {
  requestCounter += 1;
  return `${prefix}${Date.now().toString(36)}-${requestCounter}`;
}

/** The Python source of the execute request that runs `request` on the main shell. */
export function executeCode(commId: string, request: ClientRequest): string {
  const envelope = JSON.stringify({ comm_id: commId, request });
  // A JSON string literal is also a valid Python string literal.
  return (
    '__import__("aiikernel.chat.hub").chat.hub.chat_request(get_ipython(), ' +
    JSON.stringify(envelope) +
    ')'
  );
}

export class ChatConnection implements IDisposable {
  constructor(readonly kernel: Kernel.IKernelConnection) {
    this._comm = kernel.createComm(TARGET_NAME);
    this._comm.onMsg = msg => {
      const data = msg.content.data as unknown;
      if (isServerMessage(data)) {
        this._message.emit(data);
      }
    };
    this._comm.onClose = () => {
      if (!this._isDisposed) {
        this._closed.emit();
      }
    };
    this._comm.open({});
  }

  /** Every message the kernel sends on this comm. */
  get message(): ISignal<this, ServerMessage> {
    return this._message;
  }

  /** The kernel closed the comm (restart, shutdown). */
  get closed(): ISignal<this, void> {
    return this._closed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get commId(): string {
    return this._comm.commId;
  }

  /** Send a read request over the comm (answered on a subshell). */
  request(request: ClientRequest): void {
    if (!this._isDisposed && !this._comm.isDisposed) {
      this._comm.send(request as any);
    }
  }

  /**
   * Run a prompt or command on the main shell. Resolves with the execute reply's
   * status once the kernel is done with it ('ok', 'error' or 'aborted').
   */
  async run(request: ClientRequest): Promise<string> {
    const future = this.kernel.requestExecute(
      {
        code: executeCode(this.commId, request),
        silent: false,
        store_history: false,
        stop_on_error: false,
        allow_stdin: false
      },
      true
    );
    try {
      const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
      return reply.content.status;
    } catch (error) {
      return 'error';
    }
  }

  /** Stop: the kernel's interrupt (ends a running turn within a second). */
  async interrupt(): Promise<void> {
    await this.kernel.interrupt();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    if (!this._comm.isDisposed && this.kernel.status !== 'dead') {
      try {
        this._comm.close();
      } catch {
        // the kernel went away first
      }
    }
    Signal.clearData(this);
  }

  private _comm: Kernel.IComm;
  private _isDisposed = false;
  private _message = new Signal<this, ServerMessage>(this);
  private _closed = new Signal<this, void>(this);
}
