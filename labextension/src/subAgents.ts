/**
 * The Sub-agents section of the side panel: the `spawn_agent()` children of the kernel the
 * chat is bound to (and their children), with their state, and a Stop button for each
 * running direct child.
 *
 * It speaks its own comm (`aiikernel.subagents`), which JupyterLab serves on a kernel
 * subshell, so the list updates and Stop works while a cell waits for a child. Every text
 * shown comes from the kernel (tasks and replies are model output) and is set as text only.
 */
import { Kernel } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { ChatModel } from './chatModel';

export const SUBAGENTS_TARGET = 'aiikernel.subagents';

/** One row of `agents()` (aiikernel.subagents.protocol.AgentInfo). */
export interface ISubAgentInfo {
  id: string;
  parent: string | null;
  depth: number;
  status: 'starting' | 'running' | 'idle' | 'failed' | 'crashed' | 'stopped';
  task: string;
  pid: number | null;
  turns: number;
  last: string;
}

const ALIVE = new Set(['starting', 'running', 'idle']);

function isUpdate(data: unknown): data is { type: 'agents'; agents: ISubAgentInfo[] } {
  const value = data as { type?: unknown; agents?: unknown } | null;
  return !!value && value.type === 'agents' && Array.isArray(value.agents);
}

/** Follows the chat's kernel and keeps its sub-agent rows. */
export class SubAgentsModel {
  constructor(private readonly _chat: ChatModel) {
    _chat.stateChanged.connect(this._follow, this);
    this._follow();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get rows(): readonly ISubAgentInfo[] {
    return this._rows;
  }

  /** Stop the direct child `id` (its own children stop with it). */
  stop(id: string): void {
    if (this._comm && !this._comm.isDisposed) {
      this._comm.send({ type: 'stop', id });
    }
  }

  dispose(): void {
    this._chat.stateChanged.disconnect(this._follow, this);
    this._close();
    Signal.clearData(this);
  }

  private _follow(): void {
    const kernel = this._chat.sessionContext?.session?.kernel ?? null;
    const usable = kernel && kernel.name === 'aiipython' && kernel.status !== 'dead' ? kernel : null;
    if (usable === this._kernel && this._comm && !this._comm.isDisposed) {
      return;
    }
    this._close();
    this._kernel = usable;
    if (usable && usable.connectionStatus === 'connected') {
      const comm = usable.createComm(SUBAGENTS_TARGET);
      comm.onMsg = msg => {
        const data = msg.content.data as unknown;
        if (isUpdate(data)) {
          this._rows = data.agents;
          this._changed.emit();
        }
      };
      comm.onClose = () => {
        if (this._comm === comm) {
          this._comm = null;
        }
      };
      comm.open({});
      this._comm = comm;
    }
  }

  private _close(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed && this._kernel?.status !== 'dead') {
      try {
        comm.close();
      } catch {
        // the kernel went away meanwhile
      }
    }
    if (this._rows.length) {
      this._rows = [];
      this._changed.emit();
    }
  }

  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _rows: ISubAgentInfo[] = [];
  private _changed = new Signal<this, void>(this);
}

/** The section: one row per sub-agent; hidden while there is none. */
export class SubAgentsSection extends Widget {
  constructor(readonly model: SubAgentsModel) {
    super();
    this.addClass('jp-AiiSubAgents');
    this.title.label = 'Sub-agents';
    this.title.caption = 'Sub-agents of the kernel the chat is bound to (spawn_agent)';
    this._list = document.createElement('ul');
    this._list.className = 'jp-AiiSubAgents-list';
    this._list.setAttribute('aria-label', 'Sub-agents');
    this.node.appendChild(this._list);
    model.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this.model.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    const rows = this.model.rows;
    if (rows.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'jp-AiiSubAgents-empty';
      empty.textContent = 'No sub-agents. spawn_agent(task) in the notebook starts one.';
      this._list.replaceChildren(empty);
    } else {
      this._list.replaceChildren(...rows.map(row => this._row(row)));
    }
    if (rows.length > 0 && this._shown === 0) {
      this._expand(); // the first child of this kernel: open the section once
    }
    this._shown = rows.length;
  }

  private _expand(): void {
    const accordion = this.parent;
    if (accordion instanceof AccordionPanel) {
      const index = accordion.widgets.indexOf(this);
      if (index >= 0 && !this.isVisible) {
        accordion.expand(index);
      }
    }
  }

  private _row(row: ISubAgentInfo): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'jp-AiiSubAgents-row';
    item.dataset.status = row.status;
    item.style.paddingLeft = `${(row.depth - 1) * 12}px`;
    const name = document.createElement('span');
    name.className = 'jp-AiiSubAgents-id';
    name.textContent = row.id;
    const state = document.createElement('span');
    state.className = 'jp-AiiSubAgents-status';
    state.textContent = row.status;
    const task = document.createElement('span');
    task.className = 'jp-AiiSubAgents-task';
    task.textContent = row.task;
    task.title = row.last ? `${row.task}\n\nLast reply: ${row.last}` : row.task;
    item.append(name, state, task);
    if (ALIVE.has(row.status) && row.depth === 1) {
      const stop = document.createElement('button');
      stop.className = 'jp-Button jp-mod-styled jp-mod-warn jp-AiiSubAgents-stop';
      stop.textContent = 'Stop';
      stop.setAttribute('aria-label', `Stop ${row.id}`);
      stop.addEventListener('click', () => {
        stop.disabled = true;
        this.model.stop(row.id);
      });
      item.append(stop);
    }
    return item;
  }

  private _list: HTMLUListElement;
  private _shown = 0;
}
