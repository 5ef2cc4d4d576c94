/**
 * The shapes the aimax REST API and websockets exchange (the server's pydantic models,
 * camelCase), and small pure helpers about them.
 */

/** A session as `GET /aimax/sessions` and `/aimax/watch` describe it. */
export interface IAgentSession {
  sessionId: string;
  backend: string;
  /** starting | working | waiting_permission | waiting_input | idle | exited */
  state: string;
  /** running | exited | stopped */
  status: string;
  detail?: string | null;
  alive: boolean;
  working: boolean;
  jobAccomplished: boolean;
  failed: boolean;
  cwd: string;
  displayName?: string | null;
  model?: string | null;
  agentSessionId?: string | null;
  createdAt: number;
  startedAt?: number | null;
  exitedAt?: number | null;
  worktreeBranch?: string | null;
  sentinel?: number | null;
  lastActivity?: number | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  costUsd?: number | null;
}

/** One normalized agent event (`EventModel`). */
export interface IAgentEvent {
  seq: number;
  sessionId: string;
  kind: string;
  text?: string | null;
  ts?: string | null;
  uuid?: string | null;
  raw: Record<string, any>;
  subtype?: string | null;
  toolName?: string | null;
  toolCallId?: string | null;
  isError?: boolean | null;
}

/** One backend of `GET /aimax/backends`. */
export interface IBackendInfo {
  name: string;
  label: string;
  allowed: boolean;
  builtin: boolean;
}

/** Body of `POST /aimax/sessions`. */
export interface ICreateRequest {
  backend: string;
  cwd?: string;
  initialPrompt?: string;
  sessionId?: string;
  model?: string;
  displayName?: string;
  worktree?: boolean;
}

/** The badge a session shows: its live state, or why it is not running. */
export function badgeOf(session: IAgentSession): string {
  if (session.status === 'stopped') {
    return 'stopped';
  }
  if (session.status === 'exited' || session.state === 'exited') {
    return session.failed ? 'failed' : 'exited';
  }
  return session.state;
}

/** Human words for a badge. */
export const BADGE_LABELS: Record<string, string> = {
  starting: 'starting',
  working: 'working',
  waiting_permission: 'needs permission',
  waiting_input: 'needs you',
  idle: 'idle',
  exited: 'exited',
  failed: 'failed',
  stopped: 'stopped'
};

/** The name a session is shown under. */
export function titleOf(session: IAgentSession): string {
  return session.displayName || session.sessionId;
}

/** "3 min ago" style age of an epoch-seconds time. */
export function ago(epochSeconds: number | null | undefined, now = Date.now() / 1000): string {
  if (!epochSeconds) {
    return '';
  }
  const s = Math.max(0, Math.round(now - epochSeconds));
  if (s < 45) {
    return 'just now';
  }
  if (s < 3600) {
    return `${Math.round(s / 60)} min ago`;
  }
  if (s < 86400) {
    return `${Math.round(s / 3600)} h ago`;
  }
  return `${Math.round(s / 86400)} d ago`;
}

/** "12.3k tok · $0.04" when the transcript reports usage, else ''. */
export function usageOf(session: IAgentSession): string {
  const tokens = (session.inputTokens ?? 0) + (session.outputTokens ?? 0);
  const parts: string[] = [];
  if (tokens > 0) {
    parts.push(tokens >= 1000 ? `${(tokens / 1000).toFixed(1)}k tok` : `${tokens} tok`);
  }
  if (session.costUsd) {
    parts.push(`$${session.costUsd.toFixed(2)}`);
  }
  return parts.join(' · ');
}
