/**
 * One code block the model ran: its code, a running indicator with the elapsed
 * time, code actions, and its outputs in an `OutputArea` — rendered exactly as a
 * notebook renders them (plots, DataFrame HTML, tracebacks), untrusted.
 */
import * as nbformat from '@jupyterlab/nbformat';
import { OutputArea, OutputAreaModel } from '@jupyterlab/outputarea';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { markdownWidget } from './markdown';
import { BlockStatus, ICodeBlock } from './protocol';
import { ICodeActions } from './tokens';

const STATUS_TEXT: Record<BlockStatus, string> = {
  running: 'running',
  ok: 'ran',
  error: 'error',
  interrupted: 'interrupted'
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
    this.addWidget(markdownWidget(options.rendermime, '```python\n' + options.block.code + '\n```'));

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
    this._stopTimer();
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
      this._status.textContent = STATUS_TEXT[status] + time;
    }
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

  private _stopTimer(): void {
    if (this._timer) {
      window.clearInterval(this._timer);
      this._timer = 0;
    }
  }

  private _block: ICodeBlock;
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
  }
}
