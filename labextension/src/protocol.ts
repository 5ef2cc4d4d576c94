/**
 * The chat comm protocol (version 4), mirrored from `aiikernel/chat/protocol.py`.
 *
 * The kernel owns the conversation; these are the shapes it sends. Every request
 * carries a client-chosen `request_id` that its answer repeats. Events are
 * broadcast to every open chat comm and numbered by `seq`.
 */
import * as nbformat from '@jupyterlab/nbformat';

export const TARGET_NAME = 'aiikernel.chat';
export const PROTOCOL_VERSION = 4;
/** The kernelspec the chat binds to. */
export const KERNEL_NAME = 'aiipython';

// -- client → kernel -------------------------------------------------------------

/** What goes with a prompt: a variable (the kernel describes it), text, or an image (base64). */
export type Attachment =
  | { kind: 'variable'; name: string }
  | { kind: 'text'; label: string; text: string }
  | { kind: 'image'; label: string; data: string };

export type ClientRequest =
  | {
      type: 'prompt';
      request_id: string;
      text: string;
      model?: string;
      max_steps?: number;
      attachments?: Attachment[];
      run_mode?: RunMode;
    }
  | { type: 'names'; request_id: string }
  | {
      type: 'approve';
      request_id: string;
      turn: number;
      step: number;
      index: number;
      action: ApproveAction;
      code?: string;
    }
  | { type: 'command'; request_id: string; line: string }
  | { type: 'state'; request_id: string }
  | { type: 'history'; request_id: string }
  | { type: 'commands'; request_id: string }
  | { type: 'checkpoints'; request_id: string }
  | { type: 'diff'; request_id: string; checkpoint?: string | null }
  | { type: 'variables'; request_id: string }
  | { type: 'wire'; request_id: string; count?: number };

// -- the conversation as the kernel keeps it ------------------------------------

export type BlockStatus = 'running' | 'pending' | 'ok' | 'error' | 'interrupted' | 'skipped';
export type RunMode = 'auto' | 'ask';
export type ApproveAction = 'run' | 'edit' | 'skip';
export type TurnStatus = 'running' | 'answered' | 'max_steps' | 'interrupted' | 'error';

export interface ICodeBlock {
  index: number;
  code: string;
  start_offset: number;
  end_offset: number;
  status: BlockStatus;
  duration: number;
  outputs: nbformat.IOutput[];
  /** Run mode ask: the user edited the block before it ran (`code` is what ran). */
  edited?: boolean;
}

export interface IChatStep {
  step: number;
  text: string;
  done: boolean;
  blocks: ICodeBlock[];
}

export interface ITurnUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cost: number | null;
}

export interface IChatTurn {
  id: number;
  source: 'chat' | 'cell';
  request_id: string | null;
  prompt: string;
  model: string;
  max_steps: number | null;
  started: number;
  status: TurnStatus;
  steps: IChatStep[];
  usage: ITurnUsage;
  error: { category: string; message: string } | null;
  notices: string[];
  /** Labels of what was attached (`@df`, `@file:data.csv`); absent from older kernels. */
  attachments?: string[];
  /** The checkpoint taken before the turn (edit-and-replay restores it); version 4. */
  checkpoint?: string | null;
  /** What the turn did to the namespace; version 4. */
  diff?: IStateDiff | null;
}

/** One name in a state diff: type and shape before and after ("" where it did not exist). */
export interface INameChange {
  name: string;
  before: string;
  after: string;
}

/** What a turn (or a checkpoint) changed: the `state_diff` event, or a `diff` answer's `diff`. */
export interface IStateDiff {
  before: string | null;
  after: string | null;
  added: INameChange[];
  changed: INameChange[];
  deleted: INameChange[];
  text?: string;
  rolled_back?: string | null;
}

export interface ICommandInfo {
  name: string;
  usage: string;
  help: string;
  aliases: string[];
}

// -- kernel → client ----------------------------------------------------------------

/** One turn event (`kind` is the discriminator); fields as in `aiikernel.turn.events`. */
export type TurnEvent =
  | {
      kind: 'turn_started';
      model: string;
      prompt: string;
      max_steps: number | null;
      attachments?: string[];
      /** The checkpoint taken before the turn (version 4). */
      checkpoint?: string | null;
    }
  | { kind: 'step_started'; step: number }
  | { kind: 'text_delta'; step: number; text: string }
  | { kind: 'reply_done'; step: number; text: string }
  | {
      kind: 'code_started';
      step: number;
      index: number;
      code: string;
      start_offset: number;
      end_offset: number;
    }
  | {
      kind: 'code_finished';
      step: number;
      index: number;
      duration: number;
      status: BlockStatus;
      error: string | null;
      interrupted: boolean;
      skipped?: boolean;
      edited_code?: string | null;
    }
  | { kind: 'code_awaiting'; step: number; index: number; code: string }
  | {
      kind: 'code_output';
      step: number;
      index: number;
      output: nbformat.IOutput;
      display_id: string | null;
      update: boolean;
    }
  | { kind: 'code_clear'; step: number; index: number; wait: boolean }
  | {
      kind: 'usage';
      step: number;
      model: string;
      prompt_tokens: number;
      completion_tokens: number;
      cost: number | null;
    }
  | { kind: 'notice'; message: string }
  | { kind: 'error'; category: string; message: string }
  | { kind: 'done'; reason: Exclude<TurnStatus, 'running'>; steps: number }
  | ({ kind: 'state_diff' } & IStateDiff);

export interface IEventMessage {
  type: 'event';
  seq: number;
  turn: number;
  source: 'chat' | 'cell';
  request_id: string | null;
  event: TurnEvent;
}

export interface IHistoryMessage {
  type: 'history';
  request_id: string | null;
  seq: number;
  turns: IChatTurn[];
  dropped: number;
  busy: boolean;
}

export interface ISessionUsage {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number | null;
}

export interface IStateMessage {
  type: 'state';
  request_id: string | null;
  protocol_version: number;
  model: string;
  messages: number;
  busy: boolean;
  turns: number;
  max_steps: number;
  usage: ISessionUsage;
  /** Where the model's key comes from (`env:…`, `auth.json`, `oauth`, `none`, `missing`). */
  auth_source?: string | null;
  run_mode?: RunMode;
  /** An earlier kernel session this one may resume (version 4). */
  resume?: IResumeInfo | null;
}

export interface IResumeInfo {
  /** `SESSION/ID`, what `/resume` takes. */
  ref: string;
  session: string;
  checkpoint: string;
  label: string;
  time: number;
  names: string[];
  turns: number;
}

export interface ICheckpointNode {
  id: string;
  parent: string | null;
  label: string;
  /** turn (before a turn), after (the state a turn left), auto, fork, manual */
  kind: string;
  time: number;
  pruned: boolean;
  added_bytes: number;
  forks: string[];
  names: number;
}

export interface ICheckpointsMessage {
  type: 'checkpoints';
  request_id: string | null;
  head: string | null;
  nodes: ICheckpointNode[];
  problem: string | null;
}

export interface IDiffMessage {
  type: 'diff';
  request_id: string;
  checkpoint: string | null;
  diff: IStateDiff | null;
  text: string;
  problem: string | null;
}

export interface IVariableInfo {
  name: string;
  summary: string;
  size: number | null;
  value: string;
}

export interface IVariablesMessage {
  type: 'variables';
  request_id: string;
  variables: IVariableInfo[];
}

export interface IWireMessage {
  type: 'wire';
  request_id: string;
  markdown: string;
  count: number;
}

export interface ICommandsMessage {
  type: 'commands';
  request_id: string;
  commands: ICommandInfo[];
}

export interface INameInfo {
  name: string;
  type: string;
}

export interface INamesMessage {
  type: 'names';
  request_id: string;
  names: INameInfo[];
}

export interface ICommandResultMessage {
  type: 'command_result';
  request_id: string;
  ok: boolean;
  markdown: string;
  data: Record<string, unknown> | null;
}

export interface IErrorMessage {
  type: 'error';
  request_id: string | null;
  message: string;
}

export type ServerMessage =
  | IEventMessage
  | IHistoryMessage
  | IStateMessage
  | ICommandsMessage
  | INamesMessage
  | ICommandResultMessage
  | ICheckpointsMessage
  | IDiffMessage
  | IVariablesMessage
  | IWireMessage
  | IErrorMessage;

const SERVER_TYPES = new Set([
  'event',
  'history',
  'state',
  'commands',
  'names',
  'command_result',
  'checkpoints',
  'diff',
  'variables',
  'wire',
  'error'
]);

/** A comm payload that looks like a server message (the kernel validated it already). */
export function isServerMessage(value: unknown): value is ServerMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    SERVER_TYPES.has((value as { type?: unknown }).type as string)
  );
}

/** Titles of the machine-readable error categories of `TurnFailed`. */
export const ERROR_TITLES: Record<string, string> = {
  missing_credentials: 'No credentials',
  authentication: 'Authentication failed',
  rate_limited: 'Rate limited',
  provider_unavailable: 'Provider unavailable',
  timeout: 'Model timeout',
  bad_request: 'Request refused',
  stream_broken: 'Broken stream',
  internal: 'Internal error'
};
