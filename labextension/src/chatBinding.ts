/**
 * The chat's binding rules: a notebook or console with the aiipython kernel is
 * chatted with; any other state is described (and, for another kernel, offered
 * a switch).
 */
import { ISessionContext } from '@jupyterlab/apputils';

import { KERNEL_NAME } from './protocol';
import { ChatBinding } from './tokens';

/**
 * What a chat following `context` is bound to; `live`: the binding of a connection
 * still open to the context's kernel, kept as it is.
 */
export function bindingOf(context: ISessionContext | null, label: string, live: ChatBinding | null): ChatBinding {
  const kernel = context?.session?.kernel ?? null;
  if (!context) {
    return { kind: 'none' };
  } else if (!kernel) {
    return { kind: 'no-kernel', label };
  } else if (kernel.name !== KERNEL_NAME) {
    return { kind: 'other-kernel', label, kernelName: context.kernelDisplayName || kernel.name };
  } else if (isGoingAway(kernel.status)) {
    return { kind: 'restarting', label };
  }
  return live ?? { kind: 'connecting', label };
}

/** The kernel is restarting or dead: its comm is gone, a new one must be opened. */
export function isGoingAway(status: string | undefined): boolean {
  return status === 'restarting' || status === 'autorestarting' || status === 'dead';
}
