/**
 * One code block the model ran: its code, a running indicator with the elapsed
 * time, code actions, and its outputs in an `OutputArea` — rendered exactly as a
 * notebook renders them (plots, DataFrame HTML, tracebacks), untrusted.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import * as nbformat from '@jupyterlab/nbformat';
import { OutputArea, OutputAreaModel } from '@jupyterlab/outputarea';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { markdownWidget } from './markdown';
import { ApproveAction, BlockStatus, ICodeBlock } from './protocol';
import { ICodeActions } from './tokens';

const STATUS_TEXT: Record<BlockStatus, string> = {
  running: 'running',
  pending: 'waiting for you',
  ok: 'ran',
  error: 'error',
  interrupted: 'interrupted',
  skipped: 'skipped — not run'
};

function displayIdOf(output: nbformat.IOutput): string | undefined {
  return (output as { transient?: { display_id?: string } }).transient?.display_id;
}

export class CodeBlockView extends Panel {
  constructor(options: CodeBlockView.IOptions) {
    super();
    this.addClass('jp-AiiChat-block');
    this._block = options.block;
    const header = new Widget();
    header.addClass('jp-AiiChat-blockHeader');
    this._status = document.createElement('span');
    this._status.className = 'jp-AiiChat-blockStatus';
    this._status.setAttribute('role', 'status');
    const title = document.createElement('span');
    title.className = 'jp-AiiChat-blockTitle';
    title.textContent = `Code ${options.block.index + 1}`;
    header.node.append(title, this._status, this._actionBar(options.actions));
    this.addWidget(header);
    this._rendermime = options.rendermime;
    this._decide = options.decide ?? null;
    this._code = markdownWidget(options.rendermime, '```python\n' + options.block.code + '\n```');
    this.addWidget(this._code);
    this._decision = new Widget();
    this._decision.addClass('jp-AiiChat-decision');
    this.addWidget(this._decision);

    this._outputs = new OutputArea({
      model: new OutputAreaModel({ trusted: false }),
      rendermime: options.rendermime,
      maxNumberOutputs: options.maxOutputs ?? 50
    });
    this._outputs.addClass('jp-AiiChat-outputs');
    this.addWidget(this._outputs);
    for (const output of options.block.outputs) {
      this.addOutput(output, displayIdOf(output) ?? null);
    }
    this.setStatus(options.block.status, options.block.duration);
  }

  get block(): ICodeBlock {
    return this._block;
  }

  /** Show the block's state; a running block counts its seconds. */
  setStatus(status: BlockStatus, duration = 0): void {
    this.node.dataset.status = status;
    this.node.dataset.edited = String(!!this._block.edited);
    this._stopTimer();
    this._renderDecision(status);
    if (status === 'running') {
      const started = Date.now();
      const tick = () => {
        const seconds = Math.floor((Date.now() - started) / 1000);
        this._status.textContent = `running… ${seconds} s`;
      };
      tick();
      this._timer = window.setInterval(tick, 1000);
    } else {
      const time = duration > 0 ? ` · ${duration < 10 ? duration.toFixed(1) : Math.round(duration)} s` : '';
      this._status.textContent = (this._block.edited ? 'edited · ' : '') + STATUS_TEXT[status] + time;
    }
  }

  /** Show `code` (the block was edited before it ran). */
  setCode(code: string): void {
    const index = this.widgets.indexOf(this._code);
    this._code.dispose();
    this._code = markdownWidget(this._rendermime, '```python\n' + code + '\n```');
    this.insertWidget(index, this._code);
  }

  addOutput(output: nbformat.IOutput, displayId: string | null): void {
    const clean = { ...output } as nbformat.IOutput & { transient?: unknown };
    delete clean.transient;
    const index = this._outputs.model.add(clean as nbformat.IOutput);
    if (displayId) {
      const indices = this._displays.get(displayId) ?? [];
      indices.push(index);
      this._displays.set(displayId, indices);
    }
  }

  updateDisplay(displayId: string, output: nbformat.IOutput): void {
    for (const index of this._displays.get(displayId) ?? []) {
      if (index < this._outputs.model.length) {
        this._outputs.model.set(index, output);
      }
    }
  }

  clearOutputs(wait: boolean): void {
    this._outputs.model.clear(wait);
    this._displays.clear();
  }

  dispose(): void {
    this._stopTimer();
    super.dispose();
  }

  private _actionBar(actions: ICodeActions | null | undefined): HTMLElement {
    const bar = document.createElement('span');
    bar.className = 'jp-AiiChat-blockActions';
    const button = (label: string, title: string, run: () => void) => {
      const b = document.createElement('button');
      b.className = 'jp-AiiChat-action';
      b.textContent = label;
      b.title = title;
      b.setAttribute('aria-label', title);
      b.addEventListener('click', run);
      bar.appendChild(b);
    };
    const code = this._block.code;
    button('Copy', 'Copy this code', () => void navigator.clipboard?.writeText(code));
    if (actions) {
      button('Insert', 'Insert as a cell below the active cell', () => actions.insertBelow(code));
      button('Replace', 'Replace the active cell with this code', () => actions.replaceActive(code));
    }
    return bar;
  }

  /** Run mode ask: Run / Edit / Skip while the block waits (only the panel's own turns). */
  private _renderDecision(status: BlockStatus): void {
    const node = this._decision.node;
    node.textContent = '';
    this._decision.setHidden(status !== 'pending');
    if (status !== 'pending') {
      return;
    }
    if (!this._decide) {
      node.textContent = 'Waiting for your answer in the notebook (Run / Skip / Edit).';
      return;
    }
    const decide = this._decide;
    const button = (label: string, title: string, className: string, run: () => void) => {
      const b = document.createElement('button');
      b.className = `jp-Button jp-mod-styled ${className}`;
      b.textContent = label;
      b.title = title;
      b.setAttribute('aria-label', title);
      b.addEventListener('click', run);
      node.appendChild(b);
      return b;
    };
    const run = button('Run', 'Run this code block', 'jp-mod-accept', () => decide('run'));
    button('Edit', 'Edit this code block before it runs', 'jp-mod-reject', () => {
      node.textContent = '';
      const editor = document.createElement('textarea');
      editor.className = 'jp-AiiChat-blockEditor';
      editor.value = this._block.code;
      editor.rows = Math.min(12, this._block.code.split('\n').length + 1);
      editor.setAttribute('aria-label', 'Code to run instead');
      node.appendChild(editor);
      button('Run edited', 'Run the edited code', 'jp-mod-accept', () => decide('edit', editor.value));
      button('Cancel', 'Back to Run / Edit / Skip', 'jp-mod-reject', () => this._renderDecision('pending'));
      editor.focus();
    });
    button('Skip', 'Skip this code block (it does not run)', 'jp-mod-warn', () => decide('skip'));
    requestAnimationFrame(() => {
      // keyboard users answer at once, but focus is never taken from outside the chat
      if (this.node.closest('.jp-AiiChat')?.contains(document.activeElement)) {
        run.focus({ preventScroll: true });
      }
    });
  }

  private _stopTimer(): void {
    if (this._timer) {
      window.clearInterval(this._timer);
      this._timer = 0;
    }
  }

  private _block: ICodeBlock;
  private _code: Widget;
  private _decide: ((action: ApproveAction, code?: string) => void) | null;
  private _decision: Widget;
  private _rendermime: IRenderMimeRegistry;
  private _displays = new Map<string, number[]>();
  private _outputs: OutputArea;
  private _status: HTMLElement;
  private _timer = 0;
}

export namespace CodeBlockView {
  export interface IOptions {
    block: ICodeBlock;
    rendermime: IRenderMimeRegistry;
    actions?: ICodeActions | null;
    maxOutputs?: number;
    /** Run mode ask: answer for this block (none: the turn is not the panel's). */
    decide?: ((action: ApproveAction, code?: string) => void) | null;
  }
}

/**
 * `!code` typed in the chat: runs in the kernel exactly like a cell (history, stdin,
 * outputs in an `OutputArea`), so the model's recent cells include it too.
 */
export class CellRunView extends Panel {
  constructor(options: { code: string; rendermime: IRenderMimeRegistry }) {
    super();
    this.addClass('jp-AiiChat-block');
    this.addClass('jp-AiiChat-cellRun');
    const header = new Widget();
    header.addClass('jp-AiiChat-blockHeader');
    this._status = document.createElement('span');
    this._status.className = 'jp-AiiChat-blockStatus';
    this._status.setAttribute('role', 'status');
    const title = document.createElement('span');
    title.className = 'jp-AiiChat-blockTitle';
    title.textContent = 'Run in the kernel';
    header.node.append(title, this._status);
    this.addWidget(header);
    this.addWidget(markdownWidget(options.rendermime, '```python\n' + options.code + '\n```'));
    this._outputs = new OutputArea({
      model: new OutputAreaModel({ trusted: true }),
      rendermime: options.rendermime
    });
    this._outputs.addClass('jp-AiiChat-outputs');
    this.addWidget(this._outputs);
    this._code = options.code;
  }

  /** Run the code on `sessionContext`'s kernel; resolves with the reply's status. */
  async run(sessionContext: ISessionContext): Promise<string> {
    this.node.dataset.status = 'running';
    this._status.textContent = 'running…';
    let status = 'error';
    try {
      const reply = await OutputArea.execute(this._code, this._outputs, sessionContext);
      status = reply?.content.status ?? 'error';
    } catch (error) {
      status = 'error';
    }
    this.node.dataset.status = status === 'ok' ? 'ok' : 'error';
    this._status.textContent = status === 'ok' ? 'ran' : status;
    return status;
  }

  private _code: string;
  private _outputs: OutputArea;
  private _status: HTMLElement;
}
