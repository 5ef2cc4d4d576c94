/**
 * Wiring of the Agents view: the live session list in the side panel, session tabs in the
 * main area (restored with the layout), the "New agent" dialog, notifications when a
 * session needs permission or ends its job, and the notebook / chat hand-offs.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, InputDialog, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { AgentsSection } from './agentsList';
import { AgentsModel, IAgentTransition } from './agentsModel';
import { titleOf } from './agentTypes';
import { folderOf, showCreateDialog } from './createDialog';
import { AiiPanel } from './panel';
import { AgentSessionView } from './sessionView';
import { AgentCommandIDs, IAiiPanel } from './tokens';

const MESSAGES: Record<IAgentTransition['kind'], (name: string) => string> = {
  permission: name => `Agent “${name}” asks for permission.`,
  finished: name => `Agent “${name}” finished its job.`,
  failed: name => `Agent “${name}” reports its job failed.`,
  exited: name => `Agent “${name}” exited.`
};

export const agentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'aiikernel:agents',
  description: 'Claude Code and Codex sessions: list, create, follow live, answer, stop.',
  autoStart: true,
  requires: [IAiiPanel, IRenderMimeRegistry],
  optional: [ILayoutRestorer, ICommandPalette, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    panel: IAiiPanel,
    rendermime: IRenderMimeRegistry,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null
  ) => {
    const model = new AgentsModel();
    const tracker = new WidgetTracker<AgentSessionView>({ namespace: 'aiikernel-agent' });
    const contents = app.serviceManager.contents;

    const open = (sessionId: string): AgentSessionView => {
      let view = tracker.find(w => w.sessionId === sessionId);
      if (!view) {
        view = new AgentSessionView({ sessionId, agents: model, rendermime });
        void tracker.add(view);
        app.shell.add(view, 'main');
      }
      app.shell.activateById(view.id);
      return view;
    };

    const create = async (args: { folder?: string; prompt?: string }) => {
      const session = await showCreateDialog({ contents, folder: args.folder, prompt: args.prompt });
      if (session) {
        open(session.sessionId);
      }
      return session;
    };

    const notebookFolder = () => folderOf(notebooks?.currentWidget?.context.path);

    const section = new AgentsSection({
      model,
      onOpen: id => open(id),
      onCreate: () => void create({ folder: notebookFolder() })
    });
    panel.addWidget(section);
    if (panel instanceof AiiPanel) {
      // 18 % of the panel for the list; the sections before it keep their proportions.
      const others = panel.sectionShares;
      const total = others.reduce((a, b) => a + b, 0) || 1;
      panel.setSectionShares([...others.map(x => (0.82 * x) / total), 0.18]);
    }

    // A permission question's notification, per session, until the question is answered.
    const asking = new Map<string, string>();
    model.changed.connect(() => {
      for (const [sessionId, notification] of asking) {
        const session = model.sessions.find(s => s.sessionId === sessionId);
        if (session?.state !== 'waiting_permission') {
          Notification.dismiss(notification);
          asking.delete(sessionId);
        }
      }
    });
    model.transition.connect((_, { session, kind }) => {
      const message = MESSAGES[kind](titleOf(session));
      const options = {
        autoClose: kind === 'finished' ? 8000 : (false as const),
        actions: [{ label: 'Open', callback: () => void open(session.sessionId) }]
      };
      if (kind === 'permission') {
        asking.set(session.sessionId, Notification.warning(message, options));
      } else if (kind === 'finished') {
        Notification.success(message, options);
      } else {
        Notification.error(message, options);
      }
    });

    app.commands.addCommand(AgentCommandIDs.newAgent, {
      label: 'New Agent Session…',
      caption: 'Start Claude Code or Codex on a folder',
      execute: args =>
        create({ folder: (args.folder as string) ?? notebookFolder(), prompt: args.prompt as string })
    });
    app.commands.addCommand(AgentCommandIDs.openAgent, {
      label: args => `Open Agent ${args.sessionId ?? ''}`,
      execute: args => open(String(args.sessionId))
    });
    app.commands.addCommand(AgentCommandIDs.agentOnNotebook, {
      label: 'Start an Agent on This Notebook’s Folder…',
      caption: 'Open the New agent dialog on the active notebook’s folder',
      isEnabled: () => !!notebooks?.currentWidget,
      execute: () => create({ folder: notebookFolder() })
    });
    app.commands.addCommand(AgentCommandIDs.chatToAgent, {
      label: 'Hand the Chat Prompt to an Agent…',
      caption: 'Send what is in the chat box to an agent session instead of the kernel',
      execute: async args => {
        const chat = panel instanceof AiiPanel ? panel.chat.input : null;
        const prompt = String(args.prompt ?? chat?.value ?? '').trim();
        const running = model.sessions.filter(s => s.status === 'running' && s.alive);
        const fresh = 'New agent session…';
        const items = [...running.map(s => `${titleOf(s)} (${s.sessionId})`), fresh];
        const choice = await InputDialog.getItem({ title: 'Hand the prompt to', items, current: 0 });
        if (!choice.button.accept || choice.value === null) {
          return;
        }
        if (choice.value === fresh) {
          if (await create({ folder: notebookFolder(), prompt })) {
            chat && (chat.value = '');
          }
          return;
        }
        const target = running[items.indexOf(choice.value)];
        if (target) {
          open(target.sessionId).setDraft(prompt);
          chat && (chat.value = '');
        }
      }
    });
    for (const command of [AgentCommandIDs.newAgent, AgentCommandIDs.agentOnNotebook, AgentCommandIDs.chatToAgent]) {
      palette?.addItem({ command, category: 'aiikernel' });
    }
    app.contextMenu.addItem({ command: AgentCommandIDs.agentOnNotebook, selector: '.jp-Notebook', rank: 90 });
    app.contextMenu.addItem({ command: AgentCommandIDs.chatToAgent, selector: '.jp-AiiChat-textarea', rank: 10 });

    if (restorer) {
      void restorer.restore(tracker, {
        command: AgentCommandIDs.openAgent,
        args: w => ({ sessionId: w.sessionId }),
        name: w => w.sessionId
      });
    }
  }
};
