/**
 * The chat's state: which kernel it is bound to, the conversation (a copy of the
 * kernel's, redrawn from its `history` on every bind), the prompt queue and the
 * footer figures. No DOM; views listen to the signals.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { bindingOf, isGoingAway } from './chatBinding';
import { ChatConnection, newRequestId } from './connection';
import {
  ApproveAction,
  Attachment,
  IChatTurn,
  ICommandInfo,
  IEventMessage,
  IHistoryMessage,
  IStateMessage,
  KERNEL_NAME,
  RunMode,
  ServerMessage,
  TurnEvent
} from './protocol';
import { KernelQueries } from './queries';
import { applyEvent, newTurn } from './records';
import { TimeTravelQueries } from './timeTravel';
import { ChatBinding, IChatNote, IQueuedPrompt } from './tokens';

export class ChatModel {
  /** Binding, queue, footer or command list changed. */
  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }
  /** The whole conversation must be redrawn from `turns`. */
  get conversationReset(): ISignal<this, void> {
    return this._conversationReset;
  }
  /** A turn was added (at the end). */
  get turnAdded(): ISignal<this, IChatTurn> {
    return this._turnAdded;
  }
  /** An event was applied to a turn (already folded into the record). */
  get turnEvent(): ISignal<this, { turn: IChatTurn; event: TurnEvent }> {
    return this._turnEvent;
  }
  /** A local note (a command's answer, a failed send) to show after the turns. */
  get noteAdded(): ISignal<this, IChatNote> {
    return this._noteAdded;
  }

  /** Run mode of the prompts sent from now on ('ask': each code block waits for Run / Edit / Skip). */
  runMode: RunMode = 'auto';
  /** Variables and models for the input's completions. */
  readonly queries = new KernelQueries();
  /** The checkpoint tree, diffs and the inspectors' reads. */
  readonly timeTravel = new TimeTravelQueries();
  /** Step limit of the prompts sent from now on (0: the kernel's default). */
  maxSteps = 0;

  get binding(): ChatBinding {
    return this._binding;
  }
  get turns(): readonly IChatTurn[] {
    return this._turns;
  }
  get dropped(): number {
    return this._dropped;
  }
  get queue(): readonly IQueuedPrompt[] {
    return this._queue;
  }
  /** The prompt sent to the kernel and not started yet (the kernel is busy with something else). */
  get sending(): IQueuedPrompt | null {
    return this._sending;
  }
  get serverState(): IStateMessage | null {
    return this._state;
  }
  get commands(): readonly ICommandInfo[] {
    return this._commands;
  }
  get sessionContext(): ISessionContext | null {
    return this._context;
  }
  /** Kernel status as the notebook toolbar shows it (idle, busy, starting, dead, …). */
  get kernelStatus(): string {
    return this._context?.kernelDisplayStatus ?? 'no kernel';
  }
  /** A turn is running in the kernel (from a cell or from a panel). */
  get isTurnRunning(): boolean {
    const last = this._turns[this._turns.length - 1];
    return last !== undefined && last.status === 'running';
  }
  /** Prompts sent before, oldest first (for ↑/↓ in the input). */
  get promptHistory(): readonly string[] {
    return this._promptHistory;
  }

  /** Follow `context` (or nothing). `label` names it ("Untitled.ipynb"). */
  bind(context: ISessionContext | null, label = ''): void {
    if (context === this._context) {
      return;
    }
    if (this._context) {
      this._context.kernelChanged.disconnect(this._sync, this);
      this._context.statusChanged.disconnect(this._onStatus, this);
      this._context.connectionStatusChanged.disconnect(this._onConnection, this);
    }
    this._context = context;
    this._label = label;
    if (context) {
      context.kernelChanged.connect(this._sync, this);
      context.statusChanged.connect(this._onStatus, this);
      context.connectionStatusChanged.connect(this._onConnection, this);
    }
    this._sync();
  }

  /** Send a prompt (with what its @-mentions attach) or a `/command`; it waits in the queue while a turn runs. */
  send(text: string, attachments: Attachment[] = []): void {
    const trimmed = text.trim();
    if (!trimmed) {
      return;
    }
    this.remember(trimmed);
    this._queue.push({ id: newRequestId('q'), text: trimmed, attachments, runMode: this.runMode });
    this._stateChanged.emit();
    this._pump();
  }

  /**
   * Edit and replay: go back to `checkpoint` (namespace and conversation, the checkpoint
   * before an earlier turn) and run `text` from there, as a new branch of the tree.
   */
  replay(checkpoint: string, text: string, attachments: Attachment[] = []): void {
    if (!text.trim()) {
      return;
    }
    this._queue.push({ id: newRequestId('q'), text: `/restore ${checkpoint}` });
    this.send(text, attachments);
  }

  /** Add to what ↑/↓ walks through (prompts, commands, `!code`). */
  remember(text: string): void {
    if (this._promptHistory[this._promptHistory.length - 1] !== text) {
      this._promptHistory.push(text);
    }
  }

  /** Run mode ask: answer for the block that waits (the kernel takes it on a subshell). */
  approve(turn: number, step: number, index: number, action: ApproveAction, code?: string): void {
    this._connection?.request({
      type: 'approve',
      request_id: newRequestId('a'),
      turn,
      step,
      index,
      action,
      ...(action === 'edit' ? { code } : {})
    });
  }

  /** Change a prompt that waits in the queue (it keeps its place). */
  updateQueued(id: string, text: string, attachments: Attachment[] = []): void {
    const trimmed = text.trim();
    if (!trimmed) {
      this.removeQueued(id);
      return;
    }
    this._queue = this._queue.map(item => (item.id === id ? { ...item, text: trimmed, attachments } : item));
    this._stateChanged.emit();
  }

  removeQueued(id: string): void {
    this._queue = this._queue.filter(item => item.id !== id);
    this._stateChanged.emit();
  }

  /** Stop the running turn: the kernel interrupt. */
  async stop(): Promise<void> {
    await this._context?.session?.kernel?.interrupt();
  }

  /** Switch the bound notebook's kernel to aiipython. */
  async changeKernel(): Promise<void> {
    await this._context?.changeKernel({ name: KERNEL_NAME });
  }

  dispose(): void {
    this.bind(null);
    this.queries.dispose();
    this.timeTravel.dispose();
    Signal.clearData(this);
  }

  // -- binding --------------------------------------------------------------------

  private _sync(): void {
    const kernel = this._context?.session?.kernel ?? null;
    const live = this._connection && !this._connection.isDisposed && this._connection.kernel === kernel;
    const binding = bindingOf(this._context, this._label, live ? this._binding : null);
    const wanted = binding.kind === 'connecting' || binding.kind === 'ready';
    if (!wanted || (this._connection && this._connection.kernel !== kernel)) {
      this._disconnect();
    }
    this._binding = binding;
    if (wanted && !this._connection && kernel) {
      this._connect(kernel);
    }
    this._stateChanged.emit();
  }

  private _onStatus(): void {
    if (isGoingAway(this._context?.session?.kernel?.status)) {
      this._disconnect();
    }
    this._sync();
  }

  private _onConnection(_: unknown, status: Kernel.ConnectionStatus): void {
    if (status === 'connected' && this._connection) {
      // Messages may have been lost while disconnected: ask for the history again.
      this._disconnect();
    }
    this._sync();
  }

  private _connect(kernel: Kernel.IKernelConnection): void {
    const connection = new ChatConnection(kernel);
    this._connection = connection;
    this.queries.attach(connection);
    this.timeTravel.attach(connection);
    this._awaitingHistory = true;
    this._buffered = [];
    connection.message.connect(this._onMessage, this);
    connection.closed.connect(() => {
      this._disconnect();
      this._sync();
    });
    connection.request({ type: 'history', request_id: newRequestId('h') });
    connection.request({ type: 'commands', request_id: newRequestId('k') });
  }

  private _disconnect(): void {
    if (this._connection) {
      this._connection.dispose();
      this._connection = null;
      this.queries.attach(null);
      this.timeTravel.attach(null);
    }
    this._sending = null;
    this._inFlight = false;
  }

  // -- messages ---------------------------------------------------------------------

  private _onMessage(sender: ChatConnection, message: ServerMessage): void {
    if (sender !== this._connection || this.queries.handle(message) || this.timeTravel.handle(message)) {
      return;
    }
    switch (message.type) {
      case 'history':
        this._applyHistory(message);
        break;
      case 'event':
        if (this._awaitingHistory) {
          this._buffered.push(message);
        } else if (message.seq > this._seq) {
          this._applyEvent(message);
        }
        break;
      case 'state':
        this._state = message;
        this._stateChanged.emit();
        break;
      case 'commands':
        this._commands = message.commands;
        this._stateChanged.emit();
        break;
      case 'command_result':
        this._note({ kind: 'command', ok: message.ok, markdown: message.markdown });
        break;
      case 'error':
        this._note({ kind: 'error', ok: false, markdown: message.message });
        break;
    }
  }

  private _applyHistory(message: IHistoryMessage): void {
    this._turns = message.turns;
    this._dropped = message.dropped;
    this._seq = message.seq;
    this._awaitingHistory = false;
    const prompts = message.turns.filter(t => t.source === 'chat').map(t => t.prompt);
    this._promptHistory = [...new Set([...prompts, ...this._promptHistory])];
    if (this._binding.kind === 'connecting') {
      this._binding = { kind: 'ready', label: this._label };
    }
    this._conversationReset.emit();
    const buffered = this._buffered;
    this._buffered = [];
    for (const event of buffered) {
      if (event.seq > this._seq) {
        this._applyEvent(event);
      }
    }
    this._connection?.request({ type: 'state', request_id: newRequestId('s') });
    this._stateChanged.emit();
    this._pump();
  }

  private _applyEvent(message: IEventMessage): void {
    this._seq = message.seq;
    const event = message.event;
    let turn = this._turns.find(t => t.id === message.turn);
    if (event.kind === 'turn_started' || !turn) {
      if (event.kind !== 'turn_started') {
        return; // a turn we never saw start (cannot happen after a history)
      }
      turn = newTurn(message);
      this._turns.push(turn);
      if (this._sending && this._sending.requestId === message.request_id) {
        this._sending = null;
      }
      this._turnAdded.emit(turn);
      this._stateChanged.emit();
      return;
    }
    applyEvent(turn, event);
    this._turnEvent.emit({ turn, event });
    if (event.kind === 'done') {
      this._connection?.request({ type: 'state', request_id: newRequestId('s') });
      this._stateChanged.emit();
      this._pump();
    }
  }

  private _note(note: Omit<IChatNote, 'id'>): void {
    this._noteAdded.emit({ id: newRequestId('n'), ...note });
  }

  // -- the queue ----------------------------------------------------------------------

  private _pump(): void {
    const connection = this._connection;
    if (
      !connection ||
      this._binding.kind !== 'ready' ||
      this._inFlight ||
      this.isTurnRunning ||
      this._queue.length === 0
    ) {
      return;
    }
    const [next, ...rest] = this._queue;
    this._queue = rest;
    const requestId = newRequestId('p');
    this._inFlight = true;
    const isCommand = next.text.startsWith('/');
    this._sending = isCommand ? null : { ...next, requestId };
    this._stateChanged.emit();
    const request = isCommand
      ? ({ type: 'command', request_id: requestId, line: next.text } as const)
      : ({
          type: 'prompt',
          request_id: requestId,
          text: next.text,
          ...(next.attachments?.length ? { attachments: next.attachments } : {}),
          ...(next.runMode ? { run_mode: next.runMode } : {}),
          ...(this.maxSteps > 0 ? { max_steps: this.maxSteps } : {})
        } as const);
    void connection.run(request).then(status => {
      if (connection !== this._connection) {
        return;
      }
      this._inFlight = false;
      if (this._sending?.requestId === requestId) {
        this._sending = null;
        if (status !== 'ok') {
          this._note({
            kind: 'error',
            ok: false,
            markdown: `The kernel did not run this prompt (${status}): ${next.text}`
          });
        }
      }
      this._stateChanged.emit();
      this._pump();
    });
  }

  private _binding: ChatBinding = { kind: 'none' };
  private _buffered: IEventMessage[] = [];
  private _awaitingHistory = false;
  private _commands: ICommandInfo[] = [];
  private _connection: ChatConnection | null = null;
  private _context: ISessionContext | null = null;
  private _conversationReset = new Signal<this, void>(this);
  private _dropped = 0;
  private _inFlight = false;
  private _label = '';
  private _noteAdded = new Signal<this, IChatNote>(this);
  private _promptHistory: string[] = [];
  private _queue: IQueuedPrompt[] = [];
  private _sending: IQueuedPrompt | null = null;
  private _seq = 0;
  private _state: IStateMessage | null = null;
  private _stateChanged = new Signal<this, void>(this);
  private _turnAdded = new Signal<this, IChatTurn>(this);
  private _turnEvent = new Signal<this, { turn: IChatTurn; event: TurnEvent }>(this);
  private _turns: IChatTurn[] = [];
}
