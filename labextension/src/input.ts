/**
 * The prompt box. Enter sends, Shift+Enter starts a new line, ↑/↓ walk through
 * earlier prompts, Escape goes back to the notebook. Typing `/` opens a list of
 * the kernel's commands (↑/↓ to choose, Tab or Enter to complete) with each
 * command's usage and help shown inline.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { ICommandInfo } from './protocol';

export class ChatInput extends Widget {
  constructor(options: ChatInput.IOptions) {
    super();
    this.addClass('jp-AiiChat-input');
    this._options = options;
    this._completions = document.createElement('ul');
    this._completions.className = 'jp-AiiChat-completions';
    this._completions.id = `jp-AiiChat-completions-${Private.nextId++}`;
    this._completions.setAttribute('role', 'listbox');
    this._completions.setAttribute('aria-label', 'Commands');
    this._completions.hidden = true;
    this._help = document.createElement('div');
    this._help.className = 'jp-AiiChat-commandHelp';
    this._help.hidden = true;
    this._textarea = document.createElement('textarea');
    this._textarea.className = 'jp-AiiChat-textarea';
    this._textarea.rows = 2;
    this._textarea.placeholder = 'Ask about your data — Enter sends, Shift+Enter new line, / for commands';
    this._textarea.setAttribute('aria-label', 'Chat prompt');
    this._textarea.setAttribute('aria-autocomplete', 'list');
    this._textarea.setAttribute('aria-controls', this._completions.id);
    this._textarea.addEventListener('keydown', this._onKeyDown);
    this._textarea.addEventListener('input', this._onInput);
    this.node.append(this._completions, this._help, this._textarea);
  }

  /** The user pressed Enter on a non-empty prompt. */
  get submitted(): ISignal<this, string> {
    return this._submitted;
  }
  /** The user pressed Escape (go back to the notebook). */
  get escaped(): ISignal<this, void> {
    return this._escaped;
  }

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
    Signal.clearData(this);
    super.dispose();
  }

  private _onKeyDown = (event: KeyboardEvent): void => {
    if (event.isComposing) {
      return;
    }
    const open = !this._completions.hidden && this._matches.length > 0;
    if (open && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this._select((this._selected + step + this._matches.length) % this._matches.length);
      event.preventDefault();
    } else if (open && (event.key === 'Tab' || (event.key === 'Enter' && !event.shiftKey))) {
      this._complete(this._matches[this._selected]);
      event.preventDefault();
    } else if (event.key === 'Enter' && !event.shiftKey) {
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
        this._hideCompletions();
      } else {
        this._escaped.emit();
      }
    } else if (event.key === 'ArrowUp' && this._atFirstLine()) {
      this._walkHistory(-1, event);
    } else if (event.key === 'ArrowDown' && this._atLastLine() && this._historyIndex >= 0) {
      this._walkHistory(1, event);
    }
  };

  private _onInput = (): void => {
    const text = this._textarea.value;
    const m = /^\/(\S*)(\s?)/.exec(text);
    const commands = this._options.commands();
    if (!m) {
      this._hideCompletions();
      this._help.hidden = true;
      return;
    }
    const [, name, space] = m;
    const exact = commands.find(c => c.name === name || c.aliases.includes(name));
    if (space && exact) {
      this._hideCompletions();
      this._showHelp(exact);
      return;
    }
    this._matches = commands.filter(c => c.name.startsWith(name.toLowerCase()));
    this._showCompletions();
    this._help.hidden = true;
  };

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

  private _showCompletions(): void {
    this._completions.textContent = '';
    if (this._matches.length === 0) {
      this._hideCompletions();
      return;
    }
    this._matches.forEach((command, i) => {
      const item = document.createElement('li');
      item.className = 'jp-AiiChat-completion';
      item.id = `${this._completions.id}-${i}`;
      item.setAttribute('role', 'option');
      const usage = document.createElement('code');
      usage.textContent = command.usage;
      const help = document.createElement('span');
      help.textContent = command.help;
      item.append(usage, help);
      item.addEventListener('mousedown', e => {
        e.preventDefault();
        this._complete(command);
      });
      this._completions.appendChild(item);
    });
    this._completions.hidden = false;
    this._textarea.setAttribute('aria-expanded', 'true');
    this._select(0);
  }

  private _select(index: number): void {
    this._selected = index;
    Array.from(this._completions.children).forEach((item, i) => {
      item.classList.toggle('jp-mod-selected', i === index);
      item.setAttribute('aria-selected', String(i === index));
    });
    this._textarea.setAttribute('aria-activedescendant', `${this._completions.id}-${index}`);
  }

  private _complete(command: ICommandInfo): void {
    this._textarea.value = `/${command.name} `;
    this._hideCompletions();
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

  private _hideCompletions(): void {
    this._completions.hidden = true;
    this._matches = [];
    this._textarea.setAttribute('aria-expanded', 'false');
    this._textarea.removeAttribute('aria-activedescendant');
  }

  private _completions: HTMLUListElement;
  private _draft = '';
  private _escaped = new Signal<this, void>(this);
  private _help: HTMLElement;
  private _historyIndex = -1;
  private _matches: ICommandInfo[] = [];
  private _options: ChatInput.IOptions;
  private _selected = 0;
  private _submitted = new Signal<this, string>(this);
  private _textarea: HTMLTextAreaElement;
}

export namespace ChatInput {
  export interface IOptions {
    /** The kernel's commands (for `/` completion). */
    commands: () => readonly ICommandInfo[];
    /** Earlier prompts, oldest first. */
    history: () => readonly string[];
  }
}

namespace Private {
  export let nextId = 0;
}
