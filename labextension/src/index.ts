/**
 * Wiring only: create the panel, put it in the left area, restore it, and add
 * the command that opens it.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { aiCellHighlightPlugin } from './aiCellHighlight';
import { aiikernelIcon } from './icons';
import { AiiPanel } from './panel';
import { CommandIDs, IAiiPanel } from './tokens';

export * from './tokens';

const panelPlugin: JupyterFrontEndPlugin<IAiiPanel> = {
  id: 'aiikernel:panel',
  description: 'The aiikernel side panel (chat and agent sessions).',
  autoStart: true,
  provides: IAiiPanel,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): IAiiPanel => {
    const panel = new AiiPanel();
    app.shell.add(panel, 'left', { rank: 950 });
    restorer?.add(panel, AiiPanel.ID);

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open aiikernel Panel',
      caption: 'Show the aiikernel side panel',
      icon: aiikernelIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    palette?.addItem({ command: CommandIDs.openPanel, category: 'aiikernel' });
    return panel;
  }
};

export default [panelPlugin, aiCellHighlightPlugin];
