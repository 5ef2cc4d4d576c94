/**
 * One async function per aimax endpoint the Agents view uses (the list itself is in
 * `restapi.ts`), and the URLs of its two websockets.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IAgentSession, IBackendInfo, ICreateRequest } from './agentTypes';
import { AiiApiError, requestJSON } from './restapi';

const json = (body: unknown): RequestInit => ({
  body: JSON.stringify(body),
  headers: { 'Content-Type': 'application/json' }
});

function sessionPath(sessionId: string, ...rest: string[]): string {
  return ['aimax/sessions', encodeURIComponent(sessionId), ...rest].join('/');
}

function expectSession(body: any, path: string): IAgentSession {
  if (!body || typeof body.sessionId !== 'string') {
    throw new AiiApiError(`${path}: unexpected reply from the server`, 200);
  }
  return body as IAgentSession;
}

/** `GET /aimax/backends`. */
export async function listBackends(): Promise<IBackendInfo[]> {
  const body = (await requestJSON('aimax/backends', { method: 'GET' })) as any;
  if (!Array.isArray(body?.backends)) {
    throw new AiiApiError('aimax/backends: unexpected reply from the server', 200);
  }
  return body.backends;
}

/** `POST /aimax/sessions`: resolves once the agent is ready and the prompt confirmed. */
export async function createSession(request: ICreateRequest): Promise<IAgentSession> {
  const body = await requestJSON('aimax/sessions', { method: 'POST', ...json(request) });
  return expectSession(body, 'aimax/sessions');
}

/** `POST …/messages`: queue a prompt, or interrupt the running turn first. */
export async function sendPrompt(
  sessionId: string,
  prompt: string,
  mode: 'queue' | 'interrupt' = 'queue'
): Promise<void> {
  await requestJSON(sessionPath(sessionId, 'messages'), {
    method: 'POST',
    ...json({ prompt, mode })
  });
}

/** `DELETE /aimax/sessions/{id}`: stop the agent (the session stays listed). */
export async function stopSession(sessionId: string): Promise<void> {
  await requestJSON(sessionPath(sessionId), { method: 'DELETE' });
}

/** `POST …/resume`: restart an exited or stopped session. */
export async function resumeSession(sessionId: string): Promise<IAgentSession> {
  const path = sessionPath(sessionId, 'resume');
  return expectSession(await requestJSON(path, { method: 'POST', ...json({}) }), path);
}

/** `POST …/permission`: approve or deny; resolves with the question that was answered. */
export async function answerPermission(sessionId: string, approve: boolean): Promise<string> {
  const body = (await requestJSON(sessionPath(sessionId, 'permission'), {
    method: 'POST',
    ...json({ approve })
  })) as any;
  return String(body?.question ?? '');
}

/** The agent's screen as text; `activity` identifies it for `getScreen(…, after)`. */
export interface IScreen {
  text: string;
  activity: number;
  alive: boolean;
}

/** `GET …/screen`: with `after`, the server waits (up to `wait` s) for the screen to change. */
export async function getScreen(
  sessionId: string,
  after?: number,
  wait = 0,
  init: RequestInit = {}
): Promise<IScreen> {
  const query = after === undefined ? '' : `?after=${after}&wait=${wait}`;
  return (await requestJSON(sessionPath(sessionId, 'screen') + query, {
    method: 'GET',
    ...init
  })) as IScreen;
}

/** The websocket URL of a path under the server's base URL (token added when there is one). */
export function websocketUrl(path: string, query: Record<string, string> = {}): string {
  const settings = ServerConnection.makeSettings();
  const params = new URLSearchParams(query);
  if (settings.token && settings.appendToken) {
    params.set('token', settings.token);
  }
  const text = params.toString();
  return URLExt.join(settings.wsUrl, path) + (text ? `?${text}` : '');
}

export const WATCH_PATH = 'aimax/watch';

export function streamPath(sessionId: string): string {
  return sessionPath(sessionId, 'stream');
}
