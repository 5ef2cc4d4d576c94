/**
 * One async function per endpoint of the aiikernel server extension.
 *
 * Every function checks the HTTP status and the shape of the reply, and throws an
 * `AiiApiError` carrying the server's message, so callers can show it as is.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IAgentSessionSummary } from './tokens';

/** An endpoint answered with an error or with a body of the wrong shape. */
export class AiiApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The request field the server blamed (422/403 on a field), if any. */
    readonly field: string | null = null,
    /** The server's own message, without the route and status. */
    readonly detail: string = message
  ) {
    super(message);
    this.name = 'AiiApiError';
  }
}

export async function requestJSON(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<unknown> {
  const url = URLExt.join(settings.baseUrl, path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new AiiApiError(`Cannot reach the Jupyter server: ${error}`, 0);
  }
  const text = await response.text();
  let body: any = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const detail = body?.message ?? body?.reason ?? response.statusText;
    throw new AiiApiError(
      `${path}: ${response.status} ${detail}`,
      response.status,
      typeof body?.field === 'string' ? body.field : null,
      String(detail)
    );
  }
  return body;
}

function isSessionSummary(value: any): value is IAgentSessionSummary {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.sessionId === 'string' &&
    typeof value.backend === 'string' &&
    typeof value.state === 'string'
  );
}

/** `GET /aimax/sessions` (body `{"sessions": [...]}`): the agent sessions on the server. */
export async function listAgentSessions(
  settings?: ServerConnection.ISettings
): Promise<IAgentSessionSummary[]> {
  const body = await requestJSON('aimax/sessions', { method: 'GET' }, settings);
  const items = (body as any)?.sessions;
  if (!Array.isArray(items) || !items.every(isSessionSummary)) {
    throw new AiiApiError('aimax/sessions: unexpected reply from the server', 200);
  }
  return items;
}
