/**
 * `%%ai` cells hold a Markdown prompt, not Python: highlight their body as Markdown.
 *
 * JupyterLab gives every code cell of an IPython kernel the `ipython` language
 * (CodeMirror's Python parser), so a prompt's apostrophes opened strings and its
 * `# headings` read as comments. The registry cannot replace a language, so this
 * wraps the loader of the `ipython` entry: its parser mounts a Markdown tree over
 * everything after a first line `%%ai …`. Other cells, and `.py` files, stay Python.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import {
  LanguageSupport,
  LRLanguage,
  ParseContext
} from '@codemirror/language';
import { Parser, parseMixed } from '@lezer/common';

/** The cell magic whose body is Markdown (the rest of its first line is options). */
const AI_MAGIC = /^%%ai(?:\s|$)/;

/** How far to look for the end of the first line (options are short). */
const FIRST_LINE_LIMIT = 4096;

/** Where the Markdown parser comes from: at once when loaded, else a promise of it. */
export interface IMarkdownSource {
  parser(): Parser | null;
  load(): Promise<unknown>;
}

/**
 * ``python`` whose parser hands the body of an `%%ai` cell to Markdown; ``python`` itself
 * when its language cannot be reconfigured. Markdown is loaded only when a `%%ai` cell is
 * first parsed (until then that body is skipped and re-parsed once it arrives), so notebooks
 * without `%%ai` cells never pay for it.
 */
export function withAiCells(
  python: LanguageSupport,
  markdown: IMarkdownSource
): LanguageSupport {
  if (!(python.language instanceof LRLanguage)) {
    return python;
  }
  const wrap = parseMixed((node, input) => {
    if (!node.type.isTop) {
      return null;
    }
    const head = input.read(0, Math.min(input.length, FIRST_LINE_LIMIT));
    const eol = head.indexOf('\n');
    if (!AI_MAGIC.test(head) || eol < 0) {
      return null;
    }
    const parser =
      markdown.parser() ??
      ParseContext.getSkippingParser(markdown.load()) ??
      null;
    return parser
      ? { parser, overlay: [{ from: eol + 1, to: input.length }] }
      : null;
  });
  return new LanguageSupport(
    python.language.configure({ wrap }),
    python.support
  );
}

/** The registry's entries are CodeMirror `LanguageDescription`s: loader and cache. */
interface ILoadable {
  load: () => Promise<LanguageSupport>;
  support?: LanguageSupport;
}

/** The registry's Markdown (`ipythongfm`), fetched on first demand and then kept. */
function markdownFrom(languages: IEditorLanguageRegistry): IMarkdownSource {
  let parser: Parser | null = null;
  let loading: Promise<unknown> | null = null;
  return {
    parser: () => parser,
    load: () =>
      (loading ??= languages
        .getLanguage('ipythongfm')
        .then(md => {
          parser = md?.support?.language.parser ?? null;
        })
        .catch(() => undefined))
  };
}

/** Make the registry's `ipython` language (notebook code cells) know `%%ai` cells. */
export function highlightAiCells(languages: IEditorLanguageRegistry): void {
  const ipython = languages.findByName('ipython') as ILoadable | null;
  if (!ipython?.load) {
    return;
  }
  const loadPython = ipython.load.bind(ipython);
  const markdown = markdownFrom(languages);
  let loading: Promise<LanguageSupport> | null = null;
  ipython.load = () =>
    (loading ??= loadPython().then(python => withAiCells(python, markdown)));
  ipython.support = undefined; // editors opened from now on load the wrapped one
}

export const aiCellHighlightPlugin: JupyterFrontEndPlugin<void> = {
  id: 'aiikernel:ai-cell-highlight',
  description: 'Highlights the body of %%ai cells as Markdown.',
  autoStart: true,
  requires: [IEditorLanguageRegistry],
  activate: (_app: JupyterFrontEnd, languages: IEditorLanguageRegistry) =>
    highlightAiCells(languages)
};
