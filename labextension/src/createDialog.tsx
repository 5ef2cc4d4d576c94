/**
 * The "New agent" dialog: backend (from the server, entry-point backends included), folder
 * (a picker that cannot leave the server's root, defaulting to the active notebook's
 * folder), a multi-line prompt, model, optional git worktree and display name. It stays
 * open while the agent starts, and shows the server's validation errors on their fields.
 */
import { PathExt } from '@jupyterlab/coreutils';
import { Contents } from '@jupyterlab/services';
import { caretDownEmptyIcon, ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { createSession, listBackends } from './agentsApi';
import { IAgentSession, IBackendInfo, ICreateRequest } from './agentTypes';
import { AiiApiError } from './restapi';

type Field = 'backend' | 'cwd' | 'initialPrompt' | 'model' | 'worktree' | 'displayName' | 'general';

interface IFormState {
  backend: string;
  cwd: string;
  initialPrompt: string;
  model: string;
  worktree: boolean;
  displayName: string;
}

/** Sub-folders of `path` (relative to the server root), for the folder picker. */
async function subfolders(contents: Contents.IManager, path: string): Promise<string[]> {
  const model = await contents.get(path, { content: true, type: 'directory' });
  return (model.content as Contents.IModel[])
    .filter(item => item.type === 'directory' && !item.name.startsWith('.'))
    .map(item => item.path)
    .sort();
}

function FolderPicker(props: {
  contents: Contents.IManager;
  value: string;
  onChange: (path: string) => void;
  invalid: boolean;
}): JSX.Element {
  const { contents, value, onChange, invalid } = props;
  const [open, setOpen] = React.useState(false);
  const [folders, setFolders] = React.useState<string[] | null>(null);
  const [problem, setProblem] = React.useState('');
  React.useEffect(() => {
    if (!open) {
      return;
    }
    let live = true;
    setFolders(null);
    setProblem('');
    subfolders(contents, value).then(
      found => live && setFolders(found),
      error => live && setProblem(`Cannot list ${value || 'the root'}: ${error.message ?? error}`)
    );
    return () => {
      live = false;
    };
  }, [open, value]);
  return (
    <div className="jp-AiiCreate-folder">
      <div className="jp-AiiCreate-row">
        <span className="jp-AiiCreate-rootMark" title="The server's root folder">
          /
        </span>
        <input
          id="jp-AiiCreate-cwd"
          className="jp-mod-styled jp-AiiCreate-input"
          value={value}
          placeholder="the server's root folder"
          aria-invalid={invalid}
          aria-describedby="jp-AiiCreate-cwd-error"
          onChange={e => onChange(e.target.value.replace(/^\/+/, ''))}
        />
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-reject"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          Browse
        </button>
      </div>
      {open && (
        <ul className="jp-AiiCreate-folders" aria-label="Sub-folders">
          {value && (
            <li>
              <button type="button" onClick={() => onChange(PathExt.dirname(value))}>
                ..
              </button>
            </li>
          )}
          {folders === null && !problem && <li className="jp-AiiPanel-hint">Loading…</li>}
          {problem && <li className="jp-AiiCreate-error">{problem}</li>}
          {folders?.map(path => (
            <li key={path}>
              <button type="button" onClick={() => onChange(path)}>
                {PathExt.basename(path)}/
              </button>
            </li>
          ))}
          {folders?.length === 0 && <li className="jp-AiiPanel-hint">No sub-folders.</li>}
        </ul>
      )}
    </div>
  );
}

/**
 * A server message shown under its field: the field's name is already the label above it
 * ("model: use a model name …" reads "Use a model name …").
 */
function underField(field: Field, message: string): string {
  const prefix = `${field}: `;
  if (!message.startsWith(prefix) || message.includes('; ')) {
    return message;
  }
  const rest = message.slice(prefix.length);
  return rest.charAt(0).toUpperCase() + rest.slice(1);
}

function CreateForm(props: {
  contents: Contents.IManager;
  initial: IFormState;
  onDone: (session: IAgentSession | null) => void;
}): JSX.Element {
  const { contents, onDone } = props;
  const [form, setForm] = React.useState<IFormState>(props.initial);
  const [backends, setBackends] = React.useState<IBackendInfo[] | null>(null);
  const [errors, setErrors] = React.useState<Partial<Record<Field, string>>>({});
  const [busy, setBusy] = React.useState(false);
  const prompt = React.useRef<HTMLTextAreaElement>(null);

  React.useEffect(() => {
    prompt.current?.focus();
    listBackends().then(
      found => {
        setBackends(found);
        const first = found.find(b => b.allowed);
        if (first && !found.some(b => b.allowed && b.name === form.backend)) {
          setForm(f => ({ ...f, backend: first.name }));
        }
      },
      error => setErrors({ general: String(error.detail ?? error.message ?? error) })
    );
  }, []);

  const set = (patch: Partial<IFormState>) => setForm(f => ({ ...f, ...patch }));

  // Keys work wherever the focus is while the dialog is up (a disabled button drops it).
  const keys = React.useRef<(e: KeyboardEvent) => void>(() => undefined);
  keys.current = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && !busy) {
      e.preventDefault();
      e.stopPropagation();
      onDone(null);
    } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      e.stopPropagation();
      void submit();
    }
  };
  React.useEffect(() => {
    const listener = (e: KeyboardEvent) => keys.current(e);
    document.addEventListener('keydown', listener, true);
    return () => document.removeEventListener('keydown', listener, true);
  }, []);

  const submit = async () => {
    if (busy) {
      return;
    }
    setBusy(true);
    setErrors({});
    const request: ICreateRequest = { backend: form.backend, cwd: form.cwd, worktree: form.worktree };
    if (form.initialPrompt.trim()) {
      request.initialPrompt = form.initialPrompt;
    }
    if (form.model.trim()) {
      request.model = form.model.trim();
    }
    if (form.displayName.trim()) {
      request.displayName = form.displayName.trim();
    }
    try {
      onDone(await createSession(request));
    } catch (error) {
      const e = error as AiiApiError;
      const field = (e.field ?? 'general') as Field;
      const known: Field[] = ['backend', 'cwd', 'initialPrompt', 'model', 'worktree', 'displayName'];
      const message = e.detail ?? e.message;
      setErrors(
        known.includes(field) ? { [field]: underField(field, message) } : { general: message }
      );
      setBusy(false);
    }
  };

  const error = (field: Field) =>
    errors[field] ? (
      <div id={`jp-AiiCreate-${field}-error`} className="jp-AiiCreate-error" role="alert">
        {errors[field]}
      </div>
    ) : null;

  return (
    <div
      className="jp-Dialog-content jp-AiiCreate"
      role="dialog"
      aria-modal="true"
      aria-labelledby="jp-AiiCreate-title"
    >
      <div className="jp-Dialog-header" id="jp-AiiCreate-title">
        New agent session
      </div>
      <form
        className="jp-Dialog-body jp-AiiCreate-body"
        onSubmit={e => {
          e.preventDefault();
          void submit();
        }}
      >
        <label htmlFor="jp-AiiCreate-backend">Agent</label>
        {/* JupyterLab's styled select (as its own dialogs wrap it): the inputs' box, a caret. */}
        <div className="jp-select-wrapper jp-AiiCreate-select">
          <select
            id="jp-AiiCreate-backend"
            className="jp-mod-styled"
            value={form.backend}
            aria-invalid={!!errors.backend}
            onChange={e => set({ backend: e.target.value })}
          >
            {(backends ?? [{ name: form.backend, label: form.backend, allowed: true, builtin: true }]).map(b => (
              <option key={b.name} value={b.name} disabled={!b.allowed}>
                {b.label}
                {b.allowed ? '' : ' (disabled on this server)'}
              </option>
            ))}
          </select>
          <caretDownEmptyIcon.react tag="span" stylesheet="select" right="8px" top="5px" width="18px" />
        </div>
        {error('backend')}
        <label htmlFor="jp-AiiCreate-cwd">Folder</label>
        <FolderPicker contents={contents} value={form.cwd} onChange={cwd => set({ cwd })} invalid={!!errors.cwd} />
        {error('cwd')}
        <label htmlFor="jp-AiiCreate-prompt">Prompt</label>
        <textarea
          id="jp-AiiCreate-prompt"
          ref={prompt}
          className="jp-mod-styled jp-AiiCreate-prompt"
          rows={6}
          placeholder="What should the agent do? (optional; Ctrl+Enter starts)"
          value={form.initialPrompt}
          aria-invalid={!!errors.initialPrompt}
          onChange={e => set({ initialPrompt: e.target.value })}
        />
        {error('initialPrompt')}
        <div className="jp-AiiCreate-pair">
          <div>
            <label htmlFor="jp-AiiCreate-model">Model</label>
            <input
              id="jp-AiiCreate-model"
              className="jp-mod-styled jp-AiiCreate-input"
              placeholder="the agent's default"
              value={form.model}
              aria-invalid={!!errors.model}
              onChange={e => set({ model: e.target.value })}
            />
            {error('model')}
          </div>
          <div>
            <label htmlFor="jp-AiiCreate-name">Display name</label>
            <input
              id="jp-AiiCreate-name"
              className="jp-mod-styled jp-AiiCreate-input"
              placeholder="optional"
              value={form.displayName}
              aria-invalid={!!errors.displayName}
              onChange={e => set({ displayName: e.target.value })}
            />
            {error('displayName')}
          </div>
        </div>
        <label className="jp-AiiCreate-check">
          <input type="checkbox" checked={form.worktree} onChange={e => set({ worktree: e.target.checked })} />
          Work in a new git worktree (branch <code>aimax/&lt;session&gt;</code>)
        </label>
        {error('worktree')}
        {error('general')}
        <button type="submit" hidden />
      </form>
      <div className="jp-Dialog-footer">
        {busy && <span className="jp-AiiCreate-busy" role="status">Starting the agent…</span>}
        <button className="jp-Dialog-button jp-mod-reject jp-mod-styled" disabled={busy} onClick={() => onDone(null)}>
          <div className="jp-Dialog-buttonLabel">Cancel</div>
        </button>
        <button className="jp-Dialog-button jp-mod-accept jp-mod-styled" disabled={busy} onClick={() => void submit()}>
          <div className="jp-Dialog-buttonLabel">Start</div>
        </button>
      </div>
    </div>
  );
}

/** Show the dialog; resolves with the new session, or null when cancelled. */
export function showCreateDialog(options: {
  contents: Contents.IManager;
  folder?: string;
  prompt?: string;
  backend?: string;
}): Promise<IAgentSession | null> {
  return new Promise(resolve => {
    const restore = document.activeElement as HTMLElement | null;
    let widget: Widget;
    const done = (session: IAgentSession | null) => {
      widget.dispose();
      restore?.focus?.();
      resolve(session);
    };
    const initial: IFormState = {
      backend: options.backend ?? 'tmux-claude-code',
      cwd: options.folder ?? '',
      initialPrompt: options.prompt ?? '',
      model: '',
      worktree: false,
      displayName: ''
    };
    widget = ReactWidget.create(<CreateForm contents={options.contents} initial={initial} onDone={done} />);
    // jp-ThemedContainer is what gives JupyterLab's own dialogs their full-window backdrop
    // (position, size, dimmed background); without it the form sat at the top of the page.
    widget.addClass('jp-Dialog');
    widget.addClass('jp-ThemedContainer');
    widget.addClass('jp-AiiCreate-dialog');
    Widget.attach(widget, document.body);
  });
}

/** The folder of the active notebook (relative to the server root), or the root. */
export function folderOf(path: string | undefined | null): string {
  return path ? PathExt.dirname(path) : '';
}
