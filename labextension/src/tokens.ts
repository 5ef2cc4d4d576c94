/**
 * Public interfaces and tokens of the aiikernel side panel.
 *
 * Other plugins (the chat and agents panels of later releases) depend on these
 * names only, never on the concrete classes, so the implementation can change
 * without breaking them.
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import type { Attachment, RunMode } from './protocol';

/** Command identifiers contributed by the extension. */
export namespace CommandIDs {
  /** Reveal the aiikernel side panel in the left area. */
  export const openPanel = 'aiikernel:open-panel';
  /** Open the panel and put the cursor in the chat input. */
  export const focusChat = 'aiikernel:focus-chat';
  /** Stop the running AI turn (the kernel interrupt). */
  export const stopTurn = 'aiikernel:stop-turn';
  /** Inspector: the bound kernel's variables (no side effects). */
  export const inspectVariables = 'aiikernel:inspect-variables';
  /** Inspector: the raw Markdown of the last turn's replies. */
  export const inspectMarkdown = 'aiikernel:inspect-markdown';
  /** Inspector: the wire log (model requests and responses, secrets redacted). */
  export const inspectWire = 'aiikernel:inspect-wire';
  /** Show the Checkpoints section. */
  export const showCheckpoints = 'aiikernel:show-checkpoints';
}

/** What the chat is bound to right now. */
export type ChatBinding =
  | { kind: 'none' }
  | { kind: 'no-kernel'; label: string }
  | { kind: 'other-kernel'; label: string; kernelName: string }
  | { kind: 'restarting'; label: string }
  | { kind: 'connecting'; label: string }
  | { kind: 'ready'; label: string };

/** The chat's settings (schema `labextension/schema/panel.json`). */
export interface IChatSettings {
  sendKey: 'Enter' | 'Ctrl+Enter';
  /** 0: the kernel's default. */
  maxSteps: number;
  runMode: 'auto' | 'ask';
  /** Turns drawn after a (re)connect; 0: all. */
  historyShown: number;
  /** Pixels; 0: no limit. */
  outputMaxHeight: number;
}

export const DEFAULT_CHAT_SETTINGS: IChatSettings = {
  sendKey: 'Enter',
  maxSteps: 0,
  runMode: 'auto',
  historyShown: 50,
  outputMaxHeight: 480
};

/** What the chat's code blocks can do to the active notebook. */
export interface ICodeActions {
  insertBelow(code: string): void;
  /** Insert cells below the active cell, one per code, in order. */
  insertAllBelow(codes: readonly string[]): void;
  replaceActive(code: string): void;
}

/** A prompt (or `/command`) waiting for the running turn to end. */
export interface IQueuedPrompt {
  id: string;
  text: string;
  /** What the prompt's @-mentions attach (resolved when it was sent). */
  attachments?: Attachment[];
  /** The run mode chosen when it was sent. */
  runMode?: RunMode;
  /** Set once it was sent to the kernel. */
  requestId?: string;
}

/** Something the panel shows after the turns that the kernel does not keep. */
export interface IChatNote {
  id: string;
  kind: 'command' | 'error';
  ok: boolean;
  markdown: string;
}

/**
 * One agent session as `GET /aimax/sessions` describes it (the server's `SessionModel`,
 * camelCase). Only the fields the panel uses are listed; others are passed through.
 */
export interface IAgentSessionSummary {
  /** Immutable session id. */
  sessionId: string;
  /** Backend name, such as `claude_code` or `codex`. */
  backend: string;
  /** starting | working | waiting_permission | waiting_input | idle | exited */
  state: string;
  /** Optional human name given at creation. */
  displayName?: string | null;
}

/** What the Agents section knows about agent sessions right now. */
export type AgentsStatus =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'loaded'; sessions: IAgentSessionSummary[] }
  | { kind: 'unavailable'; message: string };

/** State behind the side panel, kept free of DOM so it can be tested and shared. */
export interface IAiiPanelModel {
  /** Whether the panel is visible; hidden panels do no network work. */
  readonly isActive: boolean;
  /** Current knowledge about agent sessions. */
  readonly agents: AgentsStatus;
  /** Emitted whenever any field above changes. */
  readonly stateChanged: ISignal<IAiiPanelModel, void>;
  /** Mark the panel shown or hidden; showing it refreshes the agent list. */
  setActive(active: boolean): void;
  /** Ask the server for the agent sessions again. */
  refreshAgents(): Promise<void>;
}

/** The side panel widget and its model, provided for plugins that add sections. */
export interface IAiiPanel {
  readonly model: IAiiPanelModel;
  /** Add a section (an accordion entry with a title) to the panel. */
  addWidget(widget: Widget): void;
}

/** Token of the aiikernel side panel. */
export const IAiiPanel = new Token<IAiiPanel>(
  'aiikernel:IAiiPanel',
  'The aiikernel side panel in the left area; add sections to it.'
);

/** Commands of the Agents view. */
export namespace AgentCommandIDs {
  /** Open the "New agent" dialog (args: `folder`, `prompt`). */
  export const newAgent = 'aiikernel:new-agent';
  /** Open a session's tab (args: `sessionId`). */
  export const openAgent = 'aiikernel:open-agent';
  /** Start an agent on the active notebook's folder. */
  export const agentOnNotebook = 'aiikernel:agent-on-notebook';
  /** Hand the chat box's prompt (or args `prompt`) to an agent session. */
  export const chatToAgent = 'aiikernel:chat-to-agent';
}
