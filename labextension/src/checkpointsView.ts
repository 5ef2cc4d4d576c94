/**
 * The Checkpoints section: the checkpoint tree of the bound kernel, drawn as the kernel's
 * `/tree` draws it (a chain continues in its column, branches indent), with labels, times
 * and the size each checkpoint added; the current one is highlighted. Selecting a node
 * shows what it changed and offers to restore it; the toolbar undoes and forks. The tree
 * is asked for again after every turn and command while the section is shown.
 */
import { InputDialog } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { ChatModel } from './chatModel';
import { ICheckpointNode, ICheckpointsMessage, IDiffMessage } from './protocol';
import { clockTime, describeChange } from './timeTravelViews';

/** One drawn row: the node and the tree-drawing prefix before it. */
export interface ITreeRow {
  node: ICheckpointNode;
  prefix: string;
}

const KIND_PREFIX: Record<string, string> = { turn: 'pre: ', after: 'after: ', fork: 'fork: ' };

/** Whether `node` is the state `/undo` or `/restore` left behind (drawn as a side branch). */
function leftBehind(node: ICheckpointNode): boolean {
  return node.kind === 'auto' && (node.label === 'before undo' || node.label.startsWith('before restore of '));
}

/** The rows of the tree in drawing order (the same layout rules as the kernel's `/tree`). */
export function layoutTree(nodes: readonly ICheckpointNode[]): ITreeRow[] {
  const ids = new Set(nodes.map(n => n.id));
  const children = new Map<string | null, ICheckpointNode[]>();
  for (const node of [...nodes].sort((a, b) => a.id.localeCompare(b.id))) {
    const parent = node.parent !== null && ids.has(node.parent) ? node.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), node]);
  }
  const rows: ITreeRow[] = [];
  const stack: { node: ICheckpointNode; prefix: string; connector: string }[] = [];
  const roots = children.get(null) ?? [];
  roots
    .slice()
    .reverse()
    .forEach((node, i) => stack.push({ node, prefix: '', connector: i === 0 ? '└ ' : '├ ' }));
  const continuation = (connector: string) => (connector === '└ ' || connector === '  ' ? '  ' : '│ ');
  while (stack.length) {
    const { node, prefix, connector } = stack.pop()!;
    rows.push({ node, prefix: prefix + connector });
    const kids = children.get(node.id) ?? [];
    if (kids.length === 1 && !leftBehind(kids[0])) {
      stack.push({ node: kids[0], prefix, connector: continuation(connector) });
      continue;
    }
    const childPrefix = prefix + continuation(connector);
    kids
      .slice()
      .reverse()
      .forEach((kid, i) => stack.push({ node: kid, prefix: childPrefix, connector: i === 0 ? '└ ' : '├ ' }));
  }
  return rows;
}

/** `+12 KiB` for the bytes a checkpoint added to the store. */
export function addedSize(bytes: number): string {
  if (bytes <= 0) {
    return '+0';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `+${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export class CheckpointsView extends Panel {
  constructor(private readonly _model: ChatModel) {
    super();
    this.id = 'aiikernel-checkpoints';
    this.addClass('jp-AiiPanel-section');
    this.addClass('jp-AiiCheckpoints');
    this.title.label = 'Checkpoints';
    this.title.caption = 'Checkpoints of the bound kernel: restore, fork, undo';

    this._toolbar = new Widget();
    this._toolbar.addClass('jp-AiiCheckpoints-toolbar');
    this._toolbar.node.append(
      this._button('Undo', 'Undo the last AI turn (variables and conversation)', () => this._model.send('/undo')),
      this._button('Fork…', 'Checkpoint the current state under a name', () => void this._fork())
    );
    this._tree = new Widget({ node: document.createElement('ul') });
    this._tree.addClass('jp-AiiCheckpoints-tree');
    this._tree.node.setAttribute('role', 'tree');
    this._tree.node.setAttribute('aria-label', 'Checkpoint tree');
    this._tree.node.addEventListener('keydown', this._onKey);
    this._detail = new Widget();
    this._detail.addClass('jp-AiiCheckpoints-detail');
    this._detail.node.setAttribute('aria-live', 'polite');
    for (const widget of [this._toolbar, this._tree, this._detail]) {
      this.addWidget(widget);
    }
    _model.timeTravel.treeChanged.connect(this._render, this);
    _model.stateChanged.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.timeTravel.watching = false;
    this._tree.node.removeEventListener('keydown', this._onKey);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._model.timeTravel.watching = true;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._model.timeTravel.watching = true;
    }
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._model.timeTravel.watching = false;
  }

  private _button(label: string, title: string, onClick: () => void): HTMLButtonElement {
    const b = document.createElement('button');
    b.className = 'jp-Button jp-mod-styled jp-AiiCheckpoints-button';
    b.textContent = label;
    b.title = title;
    b.setAttribute('aria-label', title);
    b.addEventListener('click', onClick);
    return b;
  }

  private async _fork(): Promise<void> {
    const answer = await InputDialog.getText({
      title: 'Fork: name the current state',
      label: 'Label (come back to it with /restore LABEL)',
      placeholder: 'e.g. log-scale'
    });
    const label = answer.value?.trim();
    if (answer.button.accept && label) {
      this._model.send(`/fork ${label}`);
    }
  }

  private _render(): void {
    const tree: ICheckpointsMessage | null = this._model.timeTravel.tree;
    const list = this._tree.node;
    const ready = this._model.binding.kind === 'ready';
    for (const b of this._toolbar.node.querySelectorAll('button')) {
      (b as HTMLButtonElement).disabled = !ready || !tree || tree.nodes.length === 0;
    }
    if (!ready || !tree) {
      list.replaceChildren(this._empty(ready ? 'Loading the checkpoint tree…' : 'No aiipython kernel.'));
      this._detail.node.replaceChildren();
      return;
    }
    if (tree.problem || tree.nodes.length === 0) {
      list.replaceChildren(
        this._empty(tree.problem ?? 'No checkpoints in this kernel yet: one is taken before and after every AI turn.')
      );
      this._detail.node.replaceChildren();
      return;
    }
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.checkpoint;
    const rows = layoutTree(tree.nodes).map(row => this._row(row, tree.head));
    list.replaceChildren(...rows);
    if (focused) {
      list.querySelector<HTMLElement>(`[data-checkpoint="${focused}"]`)?.focus();
    }
    if (this._selected && !tree.nodes.some(n => n.id === this._selected)) {
      this._selected = null;
      this._detail.node.replaceChildren();
    }
  }

  private _empty(text: string): HTMLElement {
    const item = document.createElement('li');
    item.className = 'jp-AiiCheckpoints-empty';
    item.textContent = text;
    return item;
  }

  private _row(row: ITreeRow, head: string | null): HTMLElement {
    const { node } = row;
    const item = document.createElement('li');
    item.className = 'jp-AiiCheckpoints-node';
    item.setAttribute('role', 'treeitem');
    item.dataset.checkpoint = node.id;
    item.dataset.kind = node.kind;
    item.tabIndex = 0;
    const current = node.id === head;
    item.classList.toggle('jp-mod-current', current);
    item.classList.toggle('jp-mod-selected', node.id === this._selected);
    item.setAttribute('aria-selected', String(node.id === this._selected));
    if (current) {
      item.setAttribute('aria-current', 'true');
    }
    const prefix = document.createElement('span');
    prefix.className = 'jp-AiiCheckpoints-rail';
    prefix.textContent = row.prefix;
    const mark = document.createElement('span');
    mark.className = 'jp-AiiCheckpoints-mark';
    mark.textContent = current ? '●' : '○';
    const id = document.createElement('span');
    id.className = 'jp-AiiCheckpoints-id';
    id.textContent = node.id;
    const label = document.createElement('span');
    label.className = 'jp-AiiCheckpoints-label';
    label.textContent = (KIND_PREFIX[node.kind] ?? '') + node.label + (node.pruned ? ' (pruned)' : '');
    const meta = document.createElement('span');
    meta.className = 'jp-AiiCheckpoints-meta';
    meta.textContent = `${clockTime(node.time)} · ${addedSize(node.added_bytes)}`;
    item.append(prefix, mark, id, label);
    for (const fork of node.forks) {
      const tag = document.createElement('span');
      tag.className = 'jp-AiiCheckpoints-fork';
      tag.textContent = `⑂ ${fork}`;
      item.appendChild(tag);
    }
    item.appendChild(meta);
    item.title = `[${node.id}] ${label.textContent} — ${clockTime(node.time)}, ${node.names} names, ${addedSize(node.added_bytes)}${current ? ' (current)' : ''}`;
    item.addEventListener('click', () => void this._select(node));
    return item;
  }

  private async _select(node: ICheckpointNode): Promise<void> {
    this._selected = node.id;
    this._render();
    const detail = this._detail.node;
    const title = document.createElement('div');
    title.className = 'jp-AiiCheckpoints-detailTitle';
    title.textContent = `[${node.id}] ${(KIND_PREFIX[node.kind] ?? '') + node.label} · ${clockTime(node.time)}`;
    detail.replaceChildren(title, this._empty('Loading its diff…'));
    const answer: IDiffMessage | null = await this._model.timeTravel.diff(node.id);
    if (this._selected !== node.id) {
      return;
    }
    const body = document.createElement('ul');
    body.className = 'jp-AiiCheckpoints-diff';
    body.setAttribute('aria-label', `What checkpoint ${node.id} changed`);
    if (!answer || answer.problem || !answer.diff) {
      body.appendChild(this._empty(answer?.problem ?? 'The kernel did not answer.'));
    } else {
      const since = answer.diff.before ? `since ${answer.diff.before}` : 'from an empty namespace';
      const summary = document.createElement('li');
      summary.className = 'jp-AiiCheckpoints-diffSummary';
      summary.textContent = `${answer.text} (${since})`;
      body.appendChild(summary);
      for (const [sign, items] of [
        ['+', answer.diff.added],
        ['~', answer.diff.changed],
        ['−', answer.diff.deleted]
      ] as const) {
        for (const change of items) {
          const li = document.createElement('li');
          li.dataset.sign = sign;
          li.textContent = `${sign} ${describeChange(change)}`;
          body.appendChild(li);
        }
      }
    }
    const restore = this._button(`Restore ${node.id}`, `Restore checkpoint ${node.id}: variables and conversation`, () =>
      this._model.send(`/restore ${node.id}`)
    );
    restore.classList.add('jp-mod-accept', 'jp-AiiCheckpoints-restore');
    const current = this._model.timeTravel.tree?.head === node.id;
    restore.disabled = node.pruned || current;
    if (current) {
      restore.title = 'This is the current checkpoint';
    }
    const head = document.createElement('div');
    head.className = 'jp-AiiCheckpoints-detailHead';
    head.append(title, restore);
    detail.replaceChildren(head, body);
  }

  /** ↑/↓ move between nodes, Enter or Space selects (shows the diff and Restore). */
  private _onKey = (event: KeyboardEvent): void => {
    const target = event.target as HTMLElement;
    const id = target.dataset.checkpoint;
    if (!id) {
      return;
    }
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const sibling = event.key === 'ArrowDown' ? target.nextElementSibling : target.previousElementSibling;
      (sibling as HTMLElement | null)?.focus();
      event.preventDefault();
    } else if (event.key === 'Enter' || event.key === ' ') {
      const node = this._model.timeTravel.tree?.nodes.find(n => n.id === id);
      if (node) {
        void this._select(node);
      }
      event.preventDefault();
    }
  };

  private _detail: Widget;
  private _selected: string | null = null;
  private _toolbar: Widget;
  private _tree: Widget;
}
