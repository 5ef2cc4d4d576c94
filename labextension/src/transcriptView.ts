/**
 * An agent's transcript, readable: user and assistant messages as Markdown (rendermime,
 * untrusted, so sanitised), tool calls collapsed with their input and, once it arrives,
 * their result; file edits as diffs; shell commands with their output; thinking collapsed.
 * Events are added in `seq` order; one already shown is ignored (no duplicates).
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { IAgentEvent } from './agentTypes';
import { diffNode, lineDiff, patchLines } from './diffView';
import { markdownWidget } from './markdown';

const SHELL_TOOLS = new Set(['Bash', 'shell', 'exec_command', 'local_shell_call', 'shell_command']);
const RESULT_CAP = 20_000;

function parseJSON(text: string | null | undefined): any {
  if (!text) {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function el(tag: string, className: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function capped(text: string): string {
  return text.length > RESULT_CAP
    ? `${text.slice(0, RESULT_CAP)}\n… (${text.length - RESULT_CAP} more characters)`
    : text;
}

/** The shell command of a tool input, if it is one. */
function commandOf(name: string, input: any): string | null {
  if (!SHELL_TOOLS.has(name) || !input) {
    return null;
  }
  const cmd = input.command ?? input.cmd;
  if (Array.isArray(cmd)) {
    return cmd.join(' ');
  }
  return typeof cmd === 'string' ? cmd : null;
}

/** The diff an editing tool's input describes, if it is one. */
function editOf(name: string, input: any, text: string): HTMLElement | null {
  if (name === 'Edit' && input && typeof input.old_string === 'string') {
    return diffNode(lineDiff(input.old_string, String(input.new_string ?? '')));
  }
  if (name === 'MultiEdit' && input && Array.isArray(input.edits)) {
    const box = el('div', 'jp-AiiAgent-edits');
    for (const edit of input.edits) {
      box.appendChild(diffNode(lineDiff(String(edit.old_string ?? ''), String(edit.new_string ?? ''))));
    }
    return box;
  }
  if (name === 'Write' && input && typeof input.content === 'string') {
    return diffNode(lineDiff('', input.content));
  }
  if (name === 'apply_patch') {
    const patch = typeof input?.input === 'string' ? input.input : text;
    return diffNode(patchLines(patch));
  }
  return null;
}

function toolSummary(name: string, input: any): string {
  const command = commandOf(name, input);
  if (command) {
    return `$ ${command.split('\n')[0]}`;
  }
  const path = input?.file_path ?? input?.path ?? input?.notebook_path;
  if (typeof path === 'string') {
    return `${name} ${path}`;
  }
  if (typeof input?.pattern === 'string') {
    return `${name} ${input.pattern}`;
  }
  return name;
}

export class TranscriptView extends Panel {
  constructor(private readonly _rendermime: IRenderMimeRegistry) {
    super();
    this.addClass('jp-AiiAgent-transcript');
  }

  /** The newest `seq` shown. */
  get lastSeq(): number {
    return this._lastSeq;
  }

  /** Add one event (ignored when its `seq` was shown already). */
  add(event: IAgentEvent): void {
    if (event.seq <= this._lastSeq) {
      return;
    }
    this._lastSeq = event.seq;
    const node = this._render(event);
    if (node) {
      if (node instanceof Widget) {
        node.node.dataset.seq = String(event.seq);
        this.addWidget(node);
      } else {
        node.dataset.seq = String(event.seq);
        this._append(node);
      }
    }
  }

  private _render(event: IAgentEvent): Widget | HTMLElement | null {
    switch (event.kind) {
      case 'user':
        return event.text ? this._message('user', event.text) : null;
      case 'assistant':
        return event.text ? this._message('assistant', event.text) : null;
      case 'tool_call':
        return this._toolCall(event);
      case 'tool_result':
        this._toolResult(event);
        return null;
      case 'turn_end': {
        const ms = event.raw?.durationMs;
        const label = typeof ms === 'number' ? `turn done · ${(ms / 1000).toFixed(1)} s` : 'turn done';
        return el('div', 'jp-AiiAgent-turnEnd', label);
      }
      case 'interrupted':
        return el('div', 'jp-AiiAgent-interrupted', 'Interrupted');
      case 'system':
        if (event.subtype === 'thinking' || event.subtype === 'reasoning') {
          return event.text ? this._collapsed('jp-AiiAgent-thinking', 'Thinking', event.text) : null;
        }
        if (event.subtype === 'transcript_switch') {
          return el('div', 'jp-AiiAgent-note', 'The agent started a new conversation file');
        }
        return null;
      default:
        return null;
    }
  }

  private _message(role: 'user' | 'assistant', text: string): Widget {
    const box = new Panel();
    box.addClass('jp-AiiAgent-message');
    box.addClass(`jp-AiiAgent-${role}`);
    const who = new Widget({ node: el('div', 'jp-AiiAgent-role', role === 'user' ? 'You' : 'Agent') });
    box.addWidget(who);
    box.addWidget(markdownWidget(this._rendermime, text));
    return box;
  }

  private _collapsed(className: string, summary: string, body: string): HTMLElement {
    const details = el('details', `jp-AiiAgent-collapsed ${className}`) as HTMLDetailsElement;
    details.appendChild(el('summary', 'jp-AiiAgent-summary', summary));
    details.appendChild(el('pre', 'jp-AiiAgent-pre', capped(body)));
    return details;
  }

  private _toolCall(event: IAgentEvent): HTMLElement {
    const name = event.toolName || 'tool';
    const input = parseJSON(event.text) ?? event.text;
    const details = el('details', 'jp-AiiAgent-collapsed jp-AiiAgent-tool') as HTMLDetailsElement;
    details.dataset.tool = name;
    const summary = el('summary', 'jp-AiiAgent-summary');
    summary.appendChild(el('span', 'jp-AiiAgent-toolName', toolSummary(name, input)));
    summary.appendChild(el('span', 'jp-AiiAgent-toolState', '…'));
    details.appendChild(summary);
    const command = commandOf(name, input);
    const edit = editOf(name, input, event.text ?? '');
    if (command) {
      details.appendChild(el('pre', 'jp-AiiAgent-pre jp-AiiAgent-command', `$ ${command}`));
    } else if (edit) {
      details.appendChild(edit);
    } else {
      const shown = typeof input === 'string' ? input : JSON.stringify(input, null, 2);
      details.appendChild(el('pre', 'jp-AiiAgent-pre jp-AiiAgent-input', capped(shown ?? '')));
    }
    if (event.toolCallId) {
      this._calls.set(event.toolCallId, details);
    }
    return details;
  }

  private _toolResult(event: IAgentEvent): void {
    const call = event.toolCallId ? this._calls.get(event.toolCallId) : undefined;
    const output = el('pre', 'jp-AiiAgent-pre jp-AiiAgent-output', capped(event.text ?? ''));
    if (event.isError) {
      output.classList.add('jp-mod-error');
    }
    if (!call) {
      const orphan = this._collapsed('jp-AiiAgent-tool', 'Tool result', event.text ?? '');
      orphan.dataset.seq = String(event.seq);
      this._append(orphan);
      return;
    }
    const state = call.querySelector('.jp-AiiAgent-toolState');
    if (state) {
      state.textContent = event.isError ? 'failed' : 'done';
      state.classList.toggle('jp-mod-error', !!event.isError);
    }
    call.appendChild(output);
  }

  private _append(node: HTMLElement): void {
    this.addWidget(new Widget({ node }));
  }

  private _calls = new Map<string, HTMLElement>();
  private _lastSeq = 0;
}
