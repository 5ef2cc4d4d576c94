/**
 * What the chat can do with and read from the notebook it follows: insert or replace
 * cells with code from a turn, and read the active cell, the notebook or a file for
 * an @-mention.
 */
import { CodeCell } from '@jupyterlab/cells';
import * as nbformat from '@jupyterlab/nbformat';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { Contents } from '@jupyterlab/services';

import { stripAnsi } from './errorActions';
import { IMentionSource } from './mentions';
import { ICodeActions } from './tokens';

/** Code actions on the notebook the chat follows. */
export function codeActions(notebooks: INotebookTracker): ICodeActions {
  return {
    insertBelow: (code: string) => {
      const notebook = notebooks.currentWidget?.content;
      if (notebook) {
        NotebookActions.insertBelow(notebook);
        notebook.activeCell?.model.sharedModel.setSource(code);
      }
    },
    insertAllBelow: (codes: readonly string[]) => {
      const notebook = notebooks.currentWidget?.content;
      if (notebook) {
        for (const code of codes) {
          NotebookActions.insertBelow(notebook);
          notebook.activeCell?.model.sharedModel.setSource(code);
        }
      }
    },
    replaceActive: (code: string) => {
      notebooks.currentWidget?.content.activeCell?.model.sharedModel.setSource(code);
    }
  };
}

/** One output as short text (rich outputs are named by MIME type). */
export function outputText(output: nbformat.IOutput): string {
  switch (output.output_type) {
    case 'stream': {
      const text = (output as nbformat.IStream).text;
      return Array.isArray(text) ? text.join('') : text;
    }
    case 'error': {
      const error = output as nbformat.IError;
      return stripAnsi(error.traceback?.join('\n') || `${error.ename}: ${error.evalue}`);
    }
    case 'execute_result':
    case 'display_data': {
      const data = (output as nbformat.IDisplayData).data ?? {};
      const plain = data['text/plain'];
      const text = Array.isArray(plain) ? plain.join('') : (plain as string | undefined) ?? '';
      const others = Object.keys(data).filter(m => m !== 'text/plain');
      return (others.length ? `[${others.join(', ')}] ` : '') + text;
    }
    default:
      return '';
  }
}

function cellText(cell: { model: { type: string; sharedModel: { getSource(): string } } }, outputLimit = 2000): string {
  const source = cell.model.sharedModel.getSource();
  let text = cell.model.type === 'code' ? '```python\n' + source + '\n```' : source;
  if (cell instanceof CodeCell) {
    const outputs = cell.outputArea.model.toJSON().map(outputText).join('\n').trim();
    if (outputs) {
      const shown = outputs.length > outputLimit ? outputs.slice(0, outputLimit) + '\n…' : outputs;
      text += '\nOutput:\n```\n' + shown + '\n```';
    }
  }
  return text;
}

/** Mentions read from the followed notebook and the server's files. */
export function mentionSource(notebooks: INotebookTracker, contents: Contents.IManager): IMentionSource {
  return {
    activeCell: () => {
      const cell = notebooks.currentWidget?.content.activeCell;
      return cell ? cellText(cell) : null;
    },
    notebook: (budget: number) => {
      const panel = notebooks.currentWidget;
      if (!panel) {
        return null;
      }
      const parts: string[] = [`Notebook ${panel.context.path}:`];
      let used = 0;
      for (const [i, cell] of panel.content.widgets.entries()) {
        const text = `Cell ${i + 1} (${cell.model.type}):\n` + cellText(cell, 500);
        if (used + text.length > budget) {
          parts.push(`… ${panel.content.widgets.length - i} more cells not included`);
          break;
        }
        parts.push(text);
        used += text.length;
      }
      return parts.join('\n\n');
    },
    readFile: async (path: string) => {
      const model = await contents.get(path, { content: true, format: 'text', type: 'file' });
      return typeof model.content === 'string' ? model.content : JSON.stringify(model.content);
    },
    listDirectory: async (path: string) => {
      const model = await contents.get(path, { content: true });
      if (model.type !== 'directory' || !Array.isArray(model.content)) {
        return [];
      }
      return (model.content as Contents.IModel[])
        .filter(item => !item.name.startsWith('.'))
        .map(item => (item.type === 'directory' ? `${item.name}/` : item.name))
        .sort();
    }
  };
}
