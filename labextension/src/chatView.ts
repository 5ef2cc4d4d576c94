/**
 * The Chat section: what the chat is bound to (or the offer to switch the
 * kernel), the conversation, the prompt queue, Stop, the input and a footer.
 * It only renders the `ChatModel`; all work lives there.
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISignal, Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';

import { ChatModel } from './chatModel';
import { ChatInput } from './input';
import { markdownWidget } from './markdown';
import { button } from './dom';
import { IMentionSource, mentionCompletions, resolveMentions } from './mentions';
import { QueueView } from './queueView';
import { IChatTurn, TurnEvent } from './protocol';
import { describeUsage } from './records';
import { DEFAULT_CHAT_SETTINGS, IChatNote, IChatSettings, ICodeActions } from './tokens';
import { TurnView } from './turnView';
import { ReplayBar, ResumeBanner } from './timeTravelViews';
import { CellRunView } from './codeBlock';

export class ChatView extends Panel {
  constructor(options: ChatView.IOptions) {
    super();
    this.addClass('jp-AiiPanel-section');
    this.addClass('jp-AiiPanel-chat');
    this.addClass('jp-AiiChat');
    this.title.label = 'Chat';
    this.model = options.model;
    this._rendermime = options.rendermime;
    this._actions = options.actions ?? null;

    this._banner = new Widget();
    this._banner.addClass('jp-AiiChat-banner');
    this._banner.node.setAttribute('role', 'status');
    this._conversation = new Panel();
    this._conversation.addClass('jp-AiiChat-conversation');
    this._conversation.node.setAttribute('role', 'log');
    this._conversation.node.setAttribute('aria-label', 'Conversation');
    this._conversation.node.tabIndex = 0;
    this._conversation.node.addEventListener('scroll', this._onScroll);
    this._controls = new Widget();
    this._controls.addClass('jp-AiiChat-controls');
    this._controls.node.appendChild(
      button('■ Stop', 'jp-mod-warn jp-AiiChat-stop', () => void this.model.stop(), 'Stop the running turn (interrupt the kernel)')
    );
    this._mentions = options.mentions ?? null;
    this._queue = new QueueView({ model: this.model, mentions: this._mentions, done: () => this.input.focus() });
    this.input = new ChatInput({
      commands: () => this.model.commands,
      history: () => this.model.promptHistory,
      models: () => this.model.queries.listModels(),
      mentions: async prefix => {
        if (Date.now() - this._namesAt > 1500) {
          this._namesAt = Date.now(); // the namespace may have changed since the last look
          await this.model.queries.refreshNames();
        }
        return mentionCompletions(prefix, this.model.queries.names, this._mentions);
      }
    });
    this.input.submitted.connect((_, text) => void this._submit(text), this);
    this._footer = new Widget();
    this._footer.addClass('jp-AiiChat-footer');
    this._runMode = this._runModeToggle();

    this._replay = new ReplayBar();
    const resume = new ResumeBanner(this.model);
    for (const widget of [this._banner, resume, this._conversation, this._queue, this._controls, this._replay, this.input, this._runMode, this._footer]) {
      this.addWidget(widget);
    }
    this.model.stateChanged.connect(this._onState, this);
    this.model.conversationReset.connect(this._redraw, this);
    this.model.turnAdded.connect(this._onTurnAdded, this);
    this.model.turnEvent.connect(this._onTurnEvent, this);
    this.model.noteAdded.connect(this._onNote, this);
    this._onState();
  }

  readonly model: ChatModel;
  readonly input: ChatInput;
  private _replay: ReplayBar;

  /** Escape was pressed in the input. */
  get escaped(): ISignal<ChatInput, void> {
    return this.input.escaped;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._conversation.node.removeEventListener('scroll', this._onScroll);
    Signal.disconnectReceiver(this);
    super.dispose();
  }

  /** Resolve the prompt's mentions, then send it (in the order the prompts were typed). */
  private _submit(text: string): Promise<void> {
    const trimmed = text.trim();
    if (trimmed.startsWith('!') && trimmed.length > 1) {
      this.model.remember(trimmed);
      this._runCode(trimmed.slice(1));
      return this._sending;
    }
    const command = trimmed.startsWith('/');
    const images = command ? [] : this.input.images.take(); // before the next paste arrives
    const replayFrom = command ? null : this._replay.checkpoint;
    this._replay.clear();
    this._sending = this._sending.then(async () => {
      const attachments = [...(command ? [] : await resolveMentions(text, this._mentions)), ...images];
      if (replayFrom) {
        this.model.replay(replayFrom, text, attachments);
      } else {
        this.model.send(text, attachments);
      }
    });
    return this._sending;
  }

  /** `!code`: run it in the kernel like a cell, its outputs shown in the conversation. */
  private _runCode(code: string): void {
    const context = this.model.sessionContext;
    if (!context || this.model.binding.kind !== 'ready') {
      return;
    }
    const view = new CellRunView({ code, rendermime: this._rendermime });
    this._conversation.addWidget(view);
    this._stick = true;
    this._scrollSoon();
    void view.run(context).then(() => this._scrollSoon());
  }

  /** Apply the settings (at start and whenever they change). */
  configure(settings: Partial<IChatSettings>): void {
    const all = { ...DEFAULT_CHAT_SETTINGS, ...settings };
    this.input.sendKey = all.sendKey;
    this.model.maxSteps = all.maxSteps;
    this.setRunMode(all.runMode);
    this.node.style.setProperty(
      '--jp-AiiChat-output-max-height',
      all.outputMaxHeight > 0 ? `${all.outputMaxHeight}px` : 'none'
    );
    if (all.historyShown !== this._historyShown) {
      this._historyShown = all.historyShown;
      this._redraw();
    }
  }

  // -- conversation ----------------------------------------------------------------

  private _redraw(): void {
    for (const widget of [...this._conversation.widgets]) {
      widget.dispose();
    }
    this._views.clear();
    if (this.model.dropped > 0) {
      const note = new Widget();
      note.addClass('jp-AiiChat-dropped');
      note.node.textContent = `${this.model.dropped} earlier turn${this.model.dropped === 1 ? ' is' : 's are'} no longer kept by the kernel.`;
      this._conversation.addWidget(note);
    }
    const turns = this.model.turns;
    const hidden = this._historyShown > 0 && !this._showAll ? Math.max(turns.length - this._historyShown, 0) : 0;
    if (hidden > 0) {
      const more = new Widget();
      more.addClass('jp-AiiChat-dropped');
      more.node.appendChild(
        button(`Show ${hidden} earlier turn${hidden === 1 ? '' : 's'}`, 'jp-AiiChat-showEarlier', () => {
          this._showAll = true;
          this._redraw();
        })
      );
      this._conversation.addWidget(more);
    }
    for (const turn of turns.slice(hidden)) {
      this._onTurnAdded(this.model, turn);
    }
    this._stick = true;
    this._scrollSoon();
  }

  private _onTurnAdded(_: ChatModel, turn: IChatTurn): void {
    const view = new TurnView({
      turn,
      rendermime: this._rendermime,
      actions: this._actions,
      decide: (step, index, action, code) => this.model.approve(turn.id, step, index, action, code),
      onEdit: (text, checkpoint) => {
        this.input.value = text;
        if (checkpoint) {
          this._replay.start(checkpoint, text);
        } else {
          this._replay.clear();
        }
        this.input.focus();
      }
    });
    this._views.set(turn.id, view);
    this._conversation.addWidget(view);
    this._scrollSoon();
  }

  private _onTurnEvent(_: ChatModel, args: { turn: IChatTurn; event: TurnEvent }): void {
    this._views.get(args.turn.id)?.handle(args.event);
    this._scrollSoon();
  }

  private _onNote(_: ChatModel, note: IChatNote): void {
    const widget = markdownWidget(this._rendermime, note.markdown);
    widget.addClass('jp-AiiChat-note');
    widget.node.dataset.ok = String(note.ok);
    widget.node.dataset.kind = note.kind;
    this._conversation.addWidget(widget);
    this._scrollSoon();
  }

  private _onScroll = (): void => {
    const node = this._conversation.node;
    this._stick = node.scrollHeight - node.scrollTop - node.clientHeight < 40;
  };

  private _scrollSoon(): void {
    if (!this._stick || this._scrollFrame) {
      return;
    }
    this._scrollFrame = requestAnimationFrame(() => {
      this._scrollFrame = 0;
      const node = this._conversation.node;
      node.scrollTop = node.scrollHeight;
    });
  }

  /** The per-prompt run mode: "Ask before running code" (its default is a setting). */
  private _runModeToggle(): Widget {
    const widget = new Widget();
    widget.addClass('jp-AiiChat-options');
    const label = document.createElement('label');
    label.className = 'jp-AiiChat-runMode';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = this.model.runMode === 'ask';
    box.addEventListener('change', () => {
      this.model.runMode = box.checked ? 'ask' : 'auto';
    });
    label.append(box, ' Ask before running code');
    label.title = 'Each code block the AI writes waits for Run / Edit / Skip';
    widget.node.appendChild(label);
    this._runModeBox = box;
    return widget;
  }

  /** Set the run mode of the prompts sent from now on (the setting's default, or the toggle). */
  setRunMode(mode: 'auto' | 'ask'): void {
    this.model.runMode = mode;
    this._runModeBox.checked = mode === 'ask';
  }

  // -- state ---------------------------------------------------------------------------

  private _onState(): void {
    const model = this.model;
    const binding = model.binding;
    const banner = this._banner.node;
    banner.textContent = '';
    banner.dataset.kind = binding.kind;
    const ready = binding.kind === 'ready';
    switch (binding.kind) {
      case 'none':
        banner.textContent = 'Open a notebook or console with the aiipython kernel to chat with it.';
        break;
      case 'no-kernel':
        banner.textContent = `${binding.label} has no kernel.`;
        break;
      case 'other-kernel': {
        const text = document.createElement('p');
        text.textContent = `The kernel of ${binding.label} is ${binding.kernelName}. The chat works with the aiipython kernel.`;
        banner.append(
          text,
          button('Change kernel to aiipython', 'jp-mod-accept jp-AiiChat-changeKernel', () => void model.changeKernel())
        );
        break;
      }
      case 'restarting':
        banner.textContent = `The kernel of ${binding.label} is restarting…`;
        break;
      case 'connecting':
        banner.textContent = `Connecting to the kernel of ${binding.label}…`;
        break;
      case 'ready':
        banner.textContent = `Chatting with the kernel of ${binding.label}`;
        break;
    }
    this._conversation.setHidden(!ready);
    this.input.disabled = !ready;
    // Nothing to type into without an aiipython kernel: the banner says what to do.
    this.input.setHidden(!ready);
    this._runMode.setHidden(!ready);
    this._controls.setHidden(!(ready && model.isTurnRunning));
    this._queue.render();
    this._renderFooter();
  }

  private _renderFooter(): void {
    const model = this.model;
    const state = model.serverState;
    const node = this._footer.node;
    node.textContent = '';
    const part = (label: string, value: string, className: string) => {
      const span = document.createElement('span');
      span.className = className;
      span.title = label;
      span.setAttribute('aria-label', `${label}: ${value}`);
      span.textContent = value;
      node.appendChild(span);
    };
    if (state && model.binding.kind === 'ready') {
      const modelButton = button(state.model, 'jp-AiiChat-model', () => {
        this.input.value = '/model ';
        this.input.focus();
      }, 'Model (click to change)');
      modelButton.className = 'jp-AiiChat-model';
      node.appendChild(modelButton);
    }
    part('Kernel', model.kernelStatus, 'jp-AiiChat-kernelStatus');
    if (state?.auth_source) {
      const source = state.auth_source === 'missing' ? 'no key — /login' : state.auth_source;
      part('Credentials', source, 'jp-AiiChat-authSource');
    }
    if (state) {
      part('Session usage', describeUsage(state.usage), 'jp-AiiChat-sessionUsage');
      // The count is of finished turns; say so while one runs (the kernel itself may be idle,
      // e.g. while a code block waits for Run / Edit / Skip).
      const running = model.isTurnRunning ? ' · one running' : '';
      part('Turns', `${state.turns} turn${state.turns === 1 ? '' : 's'}${running}`, 'jp-AiiChat-turnCount');
    }
  }

  private _actions: ICodeActions | null;
  private _mentions: IMentionSource | null;
  private _historyShown = DEFAULT_CHAT_SETTINGS.historyShown;
  private _showAll = false;
  private _namesAt = 0;
  private _sending: Promise<void> = Promise.resolve();
  private _banner: Widget;
  private _controls: Widget;
  private _conversation: Panel;
  private _footer: Widget;
  private _queue: QueueView;
  private _runMode: Widget;
  private _runModeBox!: HTMLInputElement;
  private _rendermime: IRenderMimeRegistry;
  private _scrollFrame = 0;
  private _stick = true;
  private _views = new Map<number, TurnView>();
}

export namespace ChatView {
  export interface IOptions {
    model: ChatModel;
    rendermime: IRenderMimeRegistry;
    actions?: ICodeActions | null;
    /** What `@cell`, `@notebook` and `@file:` read. */
    mentions?: IMentionSource | null;
  }
}
