/**
 * Folding turn events into turn records: the same rules as the kernel's
 * `ChatHistory.apply`, so a live conversation and a reloaded one look the same.
 * Pure functions, no DOM.
 */
import * as nbformat from '@jupyterlab/nbformat';

import { IChatStep, IChatTurn, ICodeBlock, IEventMessage, TurnEvent } from './protocol';

/** A fresh record for a `turn_started` event. */
export function newTurn(message: IEventMessage): IChatTurn {
  const event = message.event as Extract<TurnEvent, { kind: 'turn_started' }>;
  return {
    id: message.turn,
    source: message.source,
    request_id: message.request_id,
    prompt: event.prompt,
    model: event.model,
    max_steps: event.max_steps ?? null,
    started: Date.now() / 1000,
    status: 'running',
    steps: [],
    usage: { prompt_tokens: 0, completion_tokens: 0, cost: null },
    error: null,
    notices: [],
    attachments: event.attachments ?? [],
    checkpoint: event.checkpoint ?? null,
    diff: null
  };
}

export function stepOf(turn: IChatTurn, step: number): IChatStep {
  let last = turn.steps[turn.steps.length - 1];
  if (!last || last.step !== step) {
    last = { step, text: '', done: false, blocks: [] };
    turn.steps.push(last);
  }
  return last;
}

export function blockOf(turn: IChatTurn, step: number, index: number): ICodeBlock | undefined {
  const found = turn.steps.find(s => s.step === step);
  return found?.blocks.find(b => b.index === index);
}

function displayIdOf(output: nbformat.IOutput): string | undefined {
  const transient = (output as { transient?: { display_id?: string } }).transient;
  return transient?.display_id;
}

/** Apply one event to `turn` (mutating it). */
export function applyEvent(turn: IChatTurn, event: TurnEvent): void {
  switch (event.kind) {
    case 'step_started':
      stepOf(turn, event.step);
      break;
    case 'text_delta':
      stepOf(turn, event.step).text += event.text;
      break;
    case 'reply_done': {
      const step = stepOf(turn, event.step);
      step.text = event.text;
      step.done = true;
      break;
    }
    case 'code_started':
      stepOf(turn, event.step).blocks.push({
        index: event.index,
        code: event.code,
        start_offset: event.start_offset,
        end_offset: event.end_offset,
        status: 'running',
        duration: 0,
        outputs: []
      });
      break;
    case 'code_awaiting': {
      const block = blockOf(turn, event.step, event.index);
      if (block) {
        block.status = 'pending';
      }
      break;
    }
    case 'code_finished': {
      const block = blockOf(turn, event.step, event.index);
      if (block) {
        block.status = event.status;
        block.duration = event.duration;
        if (event.edited_code !== null && event.edited_code !== undefined) {
          block.code = event.edited_code;
          block.edited = true;
        }
      }
      break;
    }
    case 'code_output': {
      const block = blockOf(turn, event.step, event.index);
      if (!block) {
        break;
      }
      if (event.update && event.display_id) {
        for (const step of turn.steps) {
          for (const b of step.blocks) {
            b.outputs = b.outputs.map(o =>
              displayIdOf(o) === event.display_id ? { ...event.output, transient: { display_id: event.display_id } } : o
            );
          }
        }
      } else {
        const output = event.display_id
          ? { ...event.output, transient: { display_id: event.display_id } }
          : event.output;
        block.outputs.push(output);
      }
      break;
    }
    case 'code_clear': {
      const block = blockOf(turn, event.step, event.index);
      if (block) {
        block.outputs = [];
      }
      break;
    }
    case 'usage':
      turn.usage.prompt_tokens += event.prompt_tokens;
      turn.usage.completion_tokens += event.completion_tokens;
      if (event.cost !== null && event.cost !== undefined) {
        turn.usage.cost = (turn.usage.cost ?? 0) + event.cost;
      }
      break;
    case 'notice':
      turn.notices.push(event.message);
      break;
    case 'error':
      turn.error = { category: event.category, message: event.message };
      break;
    case 'state_diff':
      turn.diff = event;
      break;
    case 'done':
      turn.status = event.reason;
      for (const step of turn.steps) {
        for (const block of step.blocks) {
          if (block.status === 'running' || block.status === 'pending') {
            block.status = 'interrupted';
          }
        }
      }
      break;
  }
}

/** "1,234 → 56 tokens · $0.0012" */
export function describeUsage(usage: {
  prompt_tokens: number;
  completion_tokens: number;
  cost: number | null;
}): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  let text = `${fmt(usage.prompt_tokens)} → ${fmt(usage.completion_tokens)} tokens`;
  if (usage.cost !== null && usage.cost !== undefined) {
    text += ` · $${usage.cost.toFixed(4)}`;
  }
  return text;
}

/** The code the turn ran, in order (for "insert this turn's code as cells"). */
export function turnCode(turn: IChatTurn): string[] {
  const codes: string[] = [];
  for (const step of turn.steps) {
    for (const block of [...step.blocks].sort((a, b) => a.index - b.index)) {
      codes.push(block.code);
    }
  }
  return codes;
}

/** The turn as Markdown: the prompt quoted, then the model's replies (for "copy"). */
export function turnMarkdown(turn: IChatTurn): string {
  const prompt = turn.prompt
    .split('\n')
    .map(line => `> ${line}`)
    .join('\n');
  const replies = turn.steps.map(step => step.text.trim()).filter(Boolean);
  return [prompt, ...replies].join('\n\n') + '\n';
}
