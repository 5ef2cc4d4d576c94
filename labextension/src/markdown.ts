/**
 * Markdown through JupyterLab's rendermime, untrusted (sanitised): model text
 * never reaches the DOM as raw HTML.
 *
 * While a reply streams, re-rendering all of it on every token would cost more
 * and more per token. `StreamingMarkdown` renders each *completed* block (text up
 * to a blank line outside a code fence) once, appends it, and shows the
 * unfinished tail as plain text; at most once per animation frame. When the
 * reply is done only the rest is rendered (`complete`), so a long reply never
 * costs one long render at its end.
 */
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

const NOT_RUN = /^([ ]{0,3})(`{3,}|~{3,})[ \t]*#py(?:thon)?[ \t]*$/gm;

/** Reference-only ```#py fences become Python code with a visible "not run" note. */
export function forDisplay(text: string): string {
  return text.replace(NOT_RUN, '$1*Not run (example):*\n\n$1$2python');
}

const FENCE_LINE = /^ {0,3}(`{3,}|~{3,})/;

/** The code fence open after `line`, given the one open before it (null: none). */
function fenceAfter(fence: string | null, line: string): string | null {
  const marker = FENCE_LINE.exec(line)?.[1] ?? null;
  if (fence === null) {
    return marker;
  }
  const closes = marker !== null && line.trim().startsWith(fence) && /^[`~\s]*$/.test(line);
  return closes ? null : fence;
}

/**
 * `text` cut into plain parts and code-fenced parts (fence lines included), so a prompt can
 * show pasted code and tracebacks in the code font while staying exactly what was typed.
 */
export function fencedParts(text: string): { text: string; code: boolean }[] {
  const parts: { text: string; code: boolean }[] = [];
  let fence: string | null = null;
  for (const line of text.split(/(?<=\n)/)) {
    const after = fenceAfter(fence, line);
    const code = fence !== null || after !== null; // fence lines belong to their block
    fence = after;
    const last = parts[parts.length - 1];
    if (last && last.code === code) {
      last.text += line;
    } else {
      parts.push({ text: line, code });
    }
  }
  return parts;
}

/** Render `text` as untrusted Markdown into a new rendermime widget. */
export function markdownWidget(rendermime: IRenderMimeRegistry, text: string): Widget {
  const renderer = rendermime.createRenderer('text/markdown');
  renderer.addClass('jp-AiiChat-markdown');
  const model = new MimeModel({ data: { 'text/markdown': forDisplay(text) }, trusted: false });
  void renderer.renderModel(model).catch(error => {
    renderer.node.textContent = text;
    console.warn('aiikernel: markdown rendering failed', error);
  });
  return renderer;
}

/**
 * Where the completed part of a streaming text ends: after the last blank line
 * that is outside a code fence, scanning from `from` (which is outside a fence).
 */
export function completedUpTo(text: string, from: number): number {
  let fence: string | null = null;
  let end = from;
  let pos = from;
  while (pos < text.length) {
    const newline = text.indexOf('\n', pos);
    if (newline < 0) {
      break; // the last line is unfinished
    }
    const line = text.slice(pos, newline);
    const before = fence;
    fence = fenceAfter(fence, line);
    if (before === null && fence === null && line.trim() === '' && newline > from) {
      end = newline + 1;
    }
    pos = newline + 1;
  }
  return end;
}

export class StreamingMarkdown extends Panel {
  constructor(private readonly _rendermime: IRenderMimeRegistry) {
    super();
    this.addClass('jp-AiiChat-stream');
    this._tailWidget = new Widget();
    this._tailWidget.addClass('jp-AiiChat-tail');
    this._tail = this._tailWidget.node;
    this.addWidget(this._tailWidget);
  }

  get text(): string {
    return this._text;
  }

  /** Add streamed text; painted on the next animation frame. */
  append(text: string): void {
    this._text += text;
    if (this._frame === 0 && !this._final) {
      this._frame = requestAnimationFrame(() => {
        this._frame = 0;
        this._paint();
      });
    }
  }

  /** The reply is complete and is `text`: render what was not rendered yet, keep the rest. */
  complete(text: string): void {
    if (!text.startsWith(this._text.slice(0, this._rendered))) {
      this.finish(text); // not what was streamed (cannot happen): render it whole
      return;
    }
    this._final = true;
    this._text = text;
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = 0;
    }
    this._tail.textContent = '';
    const rest = text.slice(this._rendered);
    if (rest.trim()) {
      this._add(rest);
    }
    this._rendered = text.length;
  }

  /** The reply is complete: render it once, as a whole. */
  finish(text: string): void {
    this._final = true;
    this._text = text;
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = 0;
    }
    this._disposeChunks();
    this._tail.textContent = '';
    if (text.trim()) {
      this._add(text);
    }
  }

  dispose(): void {
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = 0;
    }
    super.dispose();
  }

  private _paint(): void {
    const end = completedUpTo(this._text, this._rendered);
    if (end > this._rendered) {
      this._add(this._text.slice(this._rendered, end));
      this._rendered = end;
    }
    this._tail.textContent = this._text.slice(this._rendered);
  }

  private _add(text: string): void {
    const widget = markdownWidget(this._rendermime, text);
    this._widgets.push(widget);
    this.insertWidget(this.widgets.length - 1, widget);
  }

  private _disposeChunks(): void {
    for (const widget of this._widgets) {
      widget.dispose();
    }
    this._widgets = [];
    this._rendered = 0;
  }

  private _final = false;
  private _frame = 0;
  private _rendered = 0;
  private _tail: HTMLElement;
  private _tailWidget: Widget;
  private _text = '';
  private _widgets: Widget[] = [];
}
