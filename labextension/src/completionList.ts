/**
 * The list of completions under the prompt box (commands, models, mentions): an
 * ARIA listbox driven from the textarea, which keeps the focus; ↑/↓ move the
 * selection, the owner applies it.
 */

/** One entry of the completion list. */
export interface ICompletion {
  code: string;
  detail: string;
  apply: () => void;
}

export class CompletionList {
  constructor(textarea: HTMLTextAreaElement) {
    this._textarea = textarea;
    this.node = document.createElement('ul');
    this.node.className = 'jp-AiiChat-completions';
    this.node.id = `jp-AiiChat-completions-${Private.nextId++}`;
    this.node.setAttribute('role', 'listbox');
    this.node.setAttribute('aria-label', 'Completions');
    this.node.hidden = true;
    textarea.setAttribute('aria-autocomplete', 'list');
    textarea.setAttribute('aria-controls', this.node.id);
  }

  readonly node: HTMLUListElement;

  get isOpen(): boolean {
    return !this.node.hidden && this._matches.length > 0;
  }

  /** Show these entries (none: hide the list), the first one selected. */
  show(matches: ICompletion[]): void {
    this._matches = matches;
    this.node.textContent = '';
    if (matches.length === 0) {
      this.hide();
      return;
    }
    matches.forEach((match, i) => {
      const item = document.createElement('li');
      item.className = 'jp-AiiChat-completion';
      item.id = `${this.node.id}-${i}`;
      item.setAttribute('role', 'option');
      const code = document.createElement('code');
      code.textContent = match.code;
      const detail = document.createElement('span');
      detail.textContent = match.detail;
      item.append(code, detail);
      item.addEventListener('mousedown', e => {
        e.preventDefault(); // keep the focus in the textarea
        match.apply();
      });
      this.node.appendChild(item);
    });
    this.node.hidden = false;
    this._fit();
    this._textarea.setAttribute('aria-expanded', 'true');
    this._select(0);
  }

  /**
   * Keep the list inside the chat section, which clips it: above the input as tall as the
   * room there allows, or below it when the section has more room there (a short section).
   */
  private _fit(): void {
    const anchor = this.node.offsetParent;
    const bounds = this.node.closest('.jp-AiiChat');
    if (!anchor || !bounds) {
      return;
    }
    const a = anchor.getBoundingClientRect();
    const b = bounds.getBoundingClientRect();
    const above = a.top - b.top - 4;
    const below = b.bottom - a.bottom - 4;
    const down = above < Private.TALL && below > above;
    this.node.classList.toggle('jp-mod-below', down);
    this.node.style.maxHeight = `${Math.max(Private.SHORTEST, Math.min(Private.TALL, down ? below : above))}px`;
  }

  /** Move the selection by `step` entries, wrapping around. */
  move(step: number): void {
    const n = this._matches.length;
    if (n > 0) {
      this._select((this._selected + step + n) % n);
    }
  }

  /** Apply the selected entry. */
  applySelected(): void {
    this._matches[this._selected]?.apply();
  }

  hide(): void {
    this.node.hidden = true;
    this._matches = [];
    this._textarea.setAttribute('aria-expanded', 'false');
    this._textarea.removeAttribute('aria-activedescendant');
  }

  private _select(index: number): void {
    this._selected = index;
    Array.from(this.node.children).forEach((item, i) => {
      item.classList.toggle('jp-mod-selected', i === index);
      item.setAttribute('aria-selected', String(i === index));
    });
    this._textarea.setAttribute('aria-activedescendant', `${this.node.id}-${index}`);
  }

  private _matches: ICompletion[] = [];
  private _selected = 0;
  private _textarea: HTMLTextAreaElement;
}

namespace Private {
  export let nextId = 0;
  /** The list's usual height (px), and the least it is given when the section is tiny. */
  export const TALL = 240;
  export const SHORTEST = 48;
}
