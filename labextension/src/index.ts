/**
 * Wiring only: create the chat model and views, put the panel in the left area,
 * follow the active notebook or console, restore the panel, add the commands.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IConsoleTracker } from '@jupyterlab/console';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { ChatBinder } from './binder';
import { ChatModel } from './chatModel';
import { ChatView } from './chatView';
import { CheckpointsView } from './checkpointsView';
import { showRawMarkdown, showWireLog, variablesWidget } from './inspectors';
import { ErrorActions } from './errorActions';
import { aiCellHighlightPlugin } from './aiCellHighlight';
import { agentsPlugin } from './agentsPlugin';
import { aiikernelIcon } from './icons';
import { codeActions, mentionSource } from './notebookActions';
import { AiiPanel } from './panel';
import { SubAgentsModel, SubAgentsSection } from './subAgents';
import { CommandIDs, IAiiPanel, IChatSettings } from './tokens';

export * from './tokens';

const panelPlugin: JupyterFrontEndPlugin<IAiiPanel> = {
  id: 'aiikernel:panel',
  description: 'The aiikernel side panel: chat with the aiipython kernel, agent sessions.',
  autoStart: true,
  provides: IAiiPanel,
  requires: [IRenderMimeRegistry],
  optional: [ILayoutRestorer, ICommandPalette, ILabShell, INotebookTracker, IConsoleTracker, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    labShell: ILabShell | null,
    notebooks: INotebookTracker | null,
    consoles: IConsoleTracker | null,
    settings: ISettingRegistry | null
  ): IAiiPanel => {
    const chatModel = new ChatModel();
    const chat = new ChatView({
      model: chatModel,
      rendermime,
      actions: notebooks ? codeActions(notebooks) : null,
      mentions: notebooks ? mentionSource(notebooks, app.serviceManager.contents) : null
    });
    const panel = new AiiPanel({ chat });
    const checkpoints = new CheckpointsView(chatModel);
    panel.addWidget(checkpoints);
    const binder = new ChatBinder({ model: chatModel, labShell, notebooks, consoles });
    panel.disposed.connect(() => binder.dispose());
    const subAgents = new SubAgentsModel(chatModel);
    const subAgentsSection = new SubAgentsSection(subAgents);
    panel.addWidget(subAgentsSection);
    panel.disposed.connect(() => subAgents.dispose());
    // Once every section is in: a section added after the sizes were set starts at zero height.
    const accordion = panel.content as AccordionPanel;
    const share = (w: Widget) => (w === chat ? 0.55 : w === checkpoints ? 0.33 : w === subAgentsSection ? 0.12 : 0);
    panel.setSectionShares(accordion.widgets.map(share));
    app.shell.add(panel, 'left', { rank: 950 });
    restorer?.add(panel, AiiPanel.ID);

    if (notebooks) {
      const fixes = new ErrorActions({
        notebooks,
        send: (notebook, prompt) => {
          app.shell.activateById(notebook.id); // the chat follows the notebook it fixes
          app.shell.activateById(panel.id);
          chatModel.send(prompt);
        }
      });
      panel.disposed.connect(() => fixes.dispose());
    }

    if (settings) {
      void settings.load(panelPlugin.id).then(
        setting => {
          const apply = () => chat.configure(setting.composite as unknown as Partial<IChatSettings>);
          apply();
          setting.changed.connect(apply);
        },
        reason => console.warn('aiikernel: settings could not be loaded', reason)
      );
    }

    chat.escaped.connect(() => {
      const current = binder.current;
      if (current) {
        app.shell.activateById(current.id);
      }
    });

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open aiikernel Panel',
      caption: 'Show the aiikernel side panel',
      icon: aiikernelIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.focusChat, {
      label: 'Focus the AI Chat',
      caption: 'Open the aiikernel panel and put the cursor in the chat input',
      execute: () => {
        app.shell.activateById(panel.id);
        chat.input.focus();
      }
    });
    app.commands.addCommand(CommandIDs.stopTurn, {
      label: 'Stop the AI Turn',
      caption: 'Interrupt the kernel the chat is bound to',
      isEnabled: () => chatModel.isTurnRunning,
      execute: () => chatModel.stop()
    });
    app.commands.addCommand(CommandIDs.showCheckpoints, {
      label: 'Show the Checkpoints',
      caption: 'The checkpoint tree of the bound kernel: restore, fork, undo',
      execute: () => {
        app.shell.activateById(panel.id);
        accordion.expand(accordion.widgets.indexOf(checkpoints));
        checkpoints.node.querySelector<HTMLElement>('[aria-current="true"]')?.focus();
      }
    });
    let variables: ReturnType<typeof variablesWidget> | null = null;
    app.commands.addCommand(CommandIDs.inspectVariables, {
      label: 'Inspect the AI Kernel Variables',
      caption: "The bound kernel's variables: types, shapes, sizes (nothing runs in your namespace)",
      execute: () => {
        if (!variables || variables.isDisposed) {
          variables = variablesWidget(chatModel);
          app.shell.add(variables, 'main', { mode: 'split-right' });
        }
        app.shell.activateById(variables.id);
      }
    });
    app.commands.addCommand(CommandIDs.inspectMarkdown, {
      label: 'Show the Raw Markdown of the Last AI Reply',
      execute: () => showRawMarkdown(chatModel.turns[chatModel.turns.length - 1])
    });
    app.commands.addCommand(CommandIDs.inspectWire, {
      label: 'Show the AI Wire Log',
      caption: 'The last model requests and responses, secrets redacted',
      execute: () => showWireLog(chatModel)
    });
    for (const command of [
      CommandIDs.openPanel,
      CommandIDs.focusChat,
      CommandIDs.stopTurn,
      CommandIDs.showCheckpoints,
      CommandIDs.inspectVariables,
      CommandIDs.inspectMarkdown,
      CommandIDs.inspectWire
    ]) {
      palette?.addItem({ command, category: 'aiikernel' });
    }
    return panel;
  }
};

export default [panelPlugin, aiCellHighlightPlugin, agentsPlugin];
