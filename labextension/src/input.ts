/**
 * The prompt box. Enter sends, Shift+Enter starts a new line, ↑/↓ walk through
 * earlier prompts, Escape goes back to the notebook. Typing `/` opens a list of
 * the kernel's commands (↑/↓ to choose, Tab or Enter to complete) with each
 * command's usage and help shown inline; typing `@` opens the mentions (variables,
 * `@cell`, `@notebook`, `@file:path`), which show as chips above the box, as do
 * images pasted or dropped into it.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { CompletionList, ICompletion } from './completionList';
import { ImageAttachments } from './imageAttachments';
import { IMentionCompletion, mentionLabel, parseMentions, removeMention } from './mentions';
import { ICommandInfo } from './protocol';

export class ChatInput extends Widget {
  constructor(options: ChatInput.IOptions) {
    super();
    this.addClass('jp-AiiChat-input');
    this._options = options;
    this._chips = document.createElement('div');
    this._chips.className = 'jp-AiiChat-chips';
    this._chips.setAttribute('aria-label', 'Attachments');
    this._chips.hidden = true;
    this._help = document.createElement('div');
    this._help.className = 'jp-AiiChat-commandHelp';
    this._help.hidden = true;
    this._textarea = document.createElement('textarea');
    this._textarea.className = 'jp-AiiChat-textarea';
    this._textarea.rows = 2;
    this._textarea.setAttribute('aria-label', 'Chat prompt');
    this._completions = new CompletionList(this._textarea);
    this._textarea.addEventListener('keydown', this._onKeyDown);
    this._textarea.addEventListener('input', this._onInput);
    this._textarea.addEventListener('paste', this._onPaste);
    this.node.addEventListener('dragover', this._onDragOver);
    this.node.addEventListener('drop', this._onDrop);
    this.images.changed.connect((_, refused) => {
      this._renderChips(this._textarea.value);
      if (refused) {
        this._help.textContent = refused;
        this._help.hidden = false;
      }
    });
    this.node.append(this._completions.node, this._help, this._chips, this._textarea);
    this.sendKey = 'Enter';
  }

  /** The user pressed Enter on a non-empty prompt. */
  get submitted(): ISignal<this, string> {
    return this._submitted;
  }
  /** The user pressed Escape (go back to the notebook). */
  get escaped(): ISignal<this, void> {
    return this._escaped;
  }

  /** Images pasted or dropped, sent with the next prompt. */
  readonly images = new ImageAttachments();

  get value(): string {
    return this._textarea.value;
  }
  set value(text: string) {
    this._textarea.value = text;
    this._onInput();
  }

  set disabled(disabled: boolean) {
    this._textarea.disabled = disabled;
  }

  focus(): void {
    this._textarea.focus();
  }

  dispose(): void {
    this._textarea.removeEventListener('keydown', this._onKeyDown);
    this._textarea.removeEventListener('input', this._onInput);
    this._textarea.removeEventListener('paste', this._onPaste);
    this.node.removeEventListener('dragover', this._onDragOver);
    this.node.removeEventListener('drop', this._onDrop);
    Signal.clearData(this);
    super.dispose();
  }

  private _onPaste = (event: ClipboardEvent): void => {
    if (this.images.addFrom(event.clipboardData)) {
      event.preventDefault(); // an image, not its file name, goes with the prompt
    }
  };

  private _onDragOver = (event: DragEvent): void => {
    if (event.dataTransfer?.types.includes('Files')) {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    }
  };

  private _onDrop = (event: DragEvent): void => {
    if (this.images.addFrom(event.dataTransfer)) {
      event.preventDefault();
      this.focus();
    }
  };

  private _onKeyDown = (event: KeyboardEvent): void => {
    if (event.isComposing) {
      return;
    }
    const open = this._completions.isOpen;
    if (open && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
      this._completions.move(event.key === 'ArrowDown' ? 1 : -1);
      event.preventDefault();
    } else if (open && (event.key === 'Tab' || (event.key === 'Enter' && !event.shiftKey))) {
      this._completions.applySelected();
      event.preventDefault();
    } else if (this._isSend(event)) {
      event.preventDefault();
      const text = this._textarea.value;
      if (text.trim()) {
        this._historyIndex = -1;
        this._textarea.value = '';
        this._onInput();
        this._submitted.emit(text);
      }
    } else if (event.key === 'Escape') {
      event.preventDefault();
      if (open) {
        this._completions.hide();
      } else {
        this._escaped.emit();
      }
    } else if (event.key === 'ArrowUp' && this._atFirstLine()) {
      this._walkHistory(-1, event);
    } else if (event.key === 'ArrowDown' && this._atLastLine() && this._historyIndex >= 0) {
      this._walkHistory(1, event);
    }
  };

  /** Enter (or Ctrl/⌘+Enter, with the send-key setting) sends; Shift+Enter never does. */
  private _isSend(event: KeyboardEvent): boolean {
    if (event.key !== 'Enter' || event.shiftKey) {
      return false;
    }
    const chord = event.ctrlKey || event.metaKey;
    return this.sendKey === 'Enter' ? !chord : chord;
  }

  /** Which key sends: 'Enter' (Shift+Enter new line) or 'Ctrl+Enter' (Enter new line). */
  get sendKey(): 'Enter' | 'Ctrl+Enter' {
    return this._sendKey;
  }
  set sendKey(key: 'Enter' | 'Ctrl+Enter') {
    this._sendKey = key;
    const send = key === 'Enter' ? 'Enter sends, Shift+Enter new line' : 'Ctrl+Enter sends';
    this._textarea.placeholder = `Ask about your data — ${send}, / commands, @ mentions, !code runs`;
  }

  private _onInput = (): void => {
    const text = this._textarea.value;
    this._renderChips(text);
    const m = /^\/(\S*)(\s?)/.exec(text);
    if (!m) {
      this._help.hidden = true;
      this._mentionInput(text);
      return;
    }
    const commands = this._options.commands();
    const [, name, space] = m;
    const exact = commands.find(c => c.name === name || c.aliases.includes(name));
    if (space && exact) {
      this._showHelp(exact);
      if (exact.name === 'model' && this._options.models) {
        this._modelPicker(text.slice(m[0].length));
      } else {
        this._completions.hide();
      }
      return;
    }
    this._completions.show(
      commands
        .filter(c => c.name.startsWith(name.toLowerCase()))
        .map(c => ({ code: c.usage, detail: c.help, apply: () => this._complete(c) }))
    );
    this._help.hidden = true;
  };

  /** `/model …`: a searchable list of the models discovery found (type to filter). */
  private _modelPicker(query: string): void {
    const ticket = ++this._mentionTicket;
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    void this._options.models!().then(models => {
      if (ticket !== this._mentionTicket) {
        return;
      }
      const matches: ICompletion[] = models
        .filter(model => words.every(word => model.toLowerCase().includes(word)))
        .slice(0, 50)
        .map(model => ({
          code: model,
          detail: '',
          apply: () => {
            this._textarea.value = `/model ${model}`;
            this._completions.hide();
            this._textarea.focus();
          }
        }));
      this._completions.show(matches);
    });
  }

  /** `@…` right before the caret: offer the mentions that fit. */
  private _mentionInput(text: string): void {
    const caret = this._textarea.selectionStart ?? text.length;
    const token = /(^|\s)@([\w:./-]*)$/.exec(text.slice(0, caret));
    const ticket = ++this._mentionTicket;
    if (!token || !this._options.mentions) {
      this._completions.hide();
      return;
    }
    const start = caret - token[2].length - 1;
    void this._options.mentions(token[2]).then(items => {
      if (ticket !== this._mentionTicket) {
        return; // the text changed meanwhile
      }
      this._completions.show(
        items.map(item => ({
          code: item.label,
          detail: item.detail,
          apply: () => this._insertMention(start, caret, item)
        }))
      );
    });
  }

  private _insertMention(start: number, end: number, item: IMentionCompletion): void {
    const text = this._textarea.value;
    this._textarea.value = text.slice(0, start) + item.insert + text.slice(end);
    const caret = start + item.insert.length;
    this._textarea.setSelectionRange(caret, caret);
    this._textarea.focus();
    this._completions.hide();
    this._onInput();
  }

  private _renderChips(text: string): void {
    const mentions = parseMentions(text);
    this._chips.textContent = '';
    this._chips.hidden = mentions.length === 0 && this.images.images.length === 0;
    this.images.images.forEach((image, index) => {
      const label = `${image.name} (${Math.max(1, Math.round(image.size / 1024))} KB)`;
      this._chips.appendChild(Private.chip(label, 'image', () => this.images.remove(index)));
    });
    for (const mention of mentions) {
      const label = mentionLabel(mention);
      this._chips.appendChild(
        Private.chip(label, mention.kind, () => {
          this.value = removeMention(this._textarea.value, label);
        })
      );
    }
  }

  private _walkHistory(direction: number, event: KeyboardEvent): void {
    const history = this._options.history();
    if (history.length === 0) {
      return;
    }
    let index = this._historyIndex < 0 ? history.length : this._historyIndex;
    index += direction;
    if (index >= history.length) {
      this._historyIndex = -1;
      this._textarea.value = this._draft;
    } else {
      if (this._historyIndex < 0) {
        this._draft = this._textarea.value;
      }
      this._historyIndex = Math.max(index, 0);
      this._textarea.value = history[this._historyIndex];
    }
    event.preventDefault();
    this._textarea.setSelectionRange(this._textarea.value.length, this._textarea.value.length);
  }

  private _atFirstLine(): boolean {
    return !this._textarea.value.slice(0, this._textarea.selectionStart).includes('\n');
  }

  private _atLastLine(): boolean {
    return !this._textarea.value.slice(this._textarea.selectionEnd).includes('\n');
  }

  private _complete(command: ICommandInfo): void {
    this._textarea.value = `/${command.name} `;
    this._completions.hide();
    this._showHelp(command);
    this._textarea.focus();
  }

  private _showHelp(command: ICommandInfo): void {
    this._help.textContent = '';
    const usage = document.createElement('code');
    usage.textContent = command.usage;
    this._help.append(usage, ` — ${command.help}`);
    this._help.hidden = false;
  }

  private _completions: CompletionList;
  private _draft = '';
  private _escaped = new Signal<this, void>(this);
  private _help: HTMLElement;
  private _historyIndex = -1;
  private _chips: HTMLElement;
  private _sendKey: 'Enter' | 'Ctrl+Enter' = 'Enter';
  private _mentionTicket = 0;
  private _options: ChatInput.IOptions;
  private _submitted = new Signal<this, string>(this);
  private _textarea: HTMLTextAreaElement;
}

export namespace ChatInput {
  export interface IOptions {
    /** The kernel's commands (for `/` completion). */
    commands: () => readonly ICommandInfo[];
    /** Earlier prompts, oldest first. */
    history: () => readonly string[];
    /** The models for the `/model` picker. */
    models?: () => Promise<string[]>;
    /** Completions for a typed `@prefix` (no `@` completion without it). */
    mentions?: (prefix: string) => Promise<IMentionCompletion[]>;
  }
}

namespace Private {
  /** An attachment chip with its × (which removes it and gives the focus back). */
  export function chip(label: string, kind: string, remove: () => void): HTMLElement {
    const chip = document.createElement('span');
    chip.className = 'jp-AiiChat-chip';
    chip.dataset.kind = kind;
    chip.textContent = label;
    const button = document.createElement('button');
    button.className = 'jp-AiiChat-chipRemove';
    button.textContent = '×';
    button.title = `Remove ${label}`;
    button.setAttribute('aria-label', `Remove attachment ${label}`);
    button.addEventListener('click', () => {
      remove();
      (chip.closest('.jp-AiiChat-input')?.querySelector('textarea') as HTMLElement | null)?.focus();
    });
    chip.appendChild(button);
    return chip;
  }
}
