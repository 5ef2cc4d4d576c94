/**
 * The prompts waiting for the kernel: the one sent (waiting for its turn to
 * start) and the queued ones, each of which can be edited in place (Enter saves,
 * Escape cancels) or removed.
 */
import { Widget } from '@lumino/widgets';

import { ChatModel } from './chatModel';
import { button } from './dom';
import { IMentionSource, resolveMentions } from './mentions';

export class QueueView extends Widget {
  constructor(options: QueueView.IOptions) {
    super();
    this.addClass('jp-AiiChat-queue');
    this.node.setAttribute('aria-label', 'Queued prompts');
    this._model = options.model;
    this._mentions = options.mentions;
    this._done = options.done;
  }

  /** Redraw from the model (call on every state change). */
  render(): void {
    const node = this.node;
    node.textContent = '';
    const model = this._model;
    const items = [...(model.sending ? [{ ...model.sending, sent: true }] : []), ...model.queue.map(q => ({ ...q, sent: false }))];
    this.setHidden(items.length === 0);
    for (const item of items) {
      const row = document.createElement('div');
      row.className = 'jp-AiiChat-queued';
      row.dataset.sent = String(item.sent);
      const label = document.createElement('span');
      label.className = 'jp-AiiChat-queuedText';
      label.textContent = item.text;
      const state = document.createElement('span');
      state.className = 'jp-AiiChat-queuedState';
      state.textContent = item.sent ? 'sent — waiting for the kernel' : 'queued';
      row.append(state, label);
      if (!item.sent && this._editing?.id === item.id) {
        row.replaceChild(this._editor(item.id), label);
      } else if (!item.sent) {
        const edit = button('✎', 'jp-AiiChat-editQueued', () => {
          this._editing = { id: item.id, draft: item.text };
          this.render();
        }, `Edit queued prompt: ${item.text}`);
        const remove = button('×', 'jp-AiiChat-unqueue', () => model.removeQueued(item.id), `Remove queued prompt: ${item.text}`);
        row.append(edit, remove);
      }
      node.appendChild(row);
    }
  }

  /** In-place editor of a queued prompt: Enter saves (mentions resolved again), Escape cancels. */
  private _editor(id: string): HTMLElement {
    const editor = document.createElement('input');
    editor.type = 'text';
    editor.className = 'jp-AiiChat-queuedEditor';
    editor.value = this._editing?.draft ?? '';
    editor.setAttribute('aria-label', 'Edit the queued prompt (Enter saves, Escape cancels)');
    editor.addEventListener('input', () => {
      if (this._editing) {
        this._editing.draft = editor.value;
      }
    });
    editor.addEventListener('keydown', event => {
      if (event.key !== 'Enter' && event.key !== 'Escape') {
        return;
      }
      event.preventDefault();
      if (event.key === 'Enter') {
        const text = editor.value;
        void resolveMentions(text, this._mentions).then(attachments => this._model.updateQueued(id, text, attachments));
      } else {
        event.stopPropagation();
      }
      this._editing = null;
      this.render();
      this._done();
    });
    requestAnimationFrame(() => editor.isConnected && editor.focus());
    return editor;
  }

  private _done: () => void;
  private _editing: { id: string; draft: string } | null = null;
  private _mentions: IMentionSource | null;
  private _model: ChatModel;
}

export namespace QueueView {
  export interface IOptions {
    model: ChatModel;
    /** What `@cell`, `@notebook` and `@file:` read when an edited prompt is saved. */
    mentions: IMentionSource | null;
    /** Editing ended (saved or cancelled): give the focus back. */
    done: () => void;
  }
}
