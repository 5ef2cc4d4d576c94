/**
 * @-mentions in a prompt: `@df` (a variable — the kernel describes it), `@cell` (the
 * active cell's source and outputs), `@notebook` (the notebook's cells, budgeted) and
 * `@file:path` (a file under the server root, read through the contents API).
 *
 * The mentions are read from the prompt's text, so the chips above the input always
 * match what was typed; they are resolved into attachments when the prompt is sent.
 */
import { Attachment, INameInfo } from './protocol';

/** What the panel can read for a mention (wired to the notebook tracker and contents API). */
export interface IMentionSource {
  /** The active cell of the followed notebook as text (source, then outputs), if any. */
  activeCell(): string | null;
  /** The followed notebook's cells as text, within `budget` characters. */
  notebook(budget: number): string | null;
  /** A text file under the server root. */
  readFile(path: string): Promise<string>;
  /** Entries of a directory under the server root (directories end with `/`). */
  listDirectory(path: string): Promise<string[]>;
}

export type Mention =
  | { kind: 'cell' }
  | { kind: 'notebook' }
  | { kind: 'file'; path: string }
  | { kind: 'variable'; name: string };

export const NOTEBOOK_BUDGET = 30_000;
export const FILE_BUDGET = 100_000;

const MENTION = /(^|\s)@(file:\S+|[A-Za-z_][A-Za-z0-9_]*)/g;

/** The label a mention has in the prompt (`@df`, `@file:data.csv`). */
export function mentionLabel(mention: Mention): string {
  switch (mention.kind) {
    case 'cell':
    case 'notebook':
      return `@${mention.kind}`;
    case 'file':
      return `@file:${mention.path}`;
    default:
      return `@${mention.name}`;
  }
}

/** The distinct mentions in `text`, in order. */
export function parseMentions(text: string): Mention[] {
  const seen = new Set<string>();
  const found: Mention[] = [];
  for (const match of text.matchAll(MENTION)) {
    const token = match[2];
    let mention: Mention;
    if (token.startsWith('file:')) {
      mention = { kind: 'file', path: token.slice(5) };
    } else if (token === 'cell' || token === 'notebook') {
      mention = { kind: token };
    } else {
      mention = { kind: 'variable', name: token };
    }
    const label = mentionLabel(mention);
    if (!seen.has(label)) {
      seen.add(label);
      found.push(mention);
    }
  }
  return found;
}

/** `text` without the mention `label` (a chip's ×). */
export function removeMention(text: string, label: string): string {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text
    .replace(new RegExp(`(^|\\s)${escaped}(?=\\s|$)`, 'g'), '$1')
    .replace(/ {2,}/g, ' ')
    .trim();
}

function cut(text: string, budget: number): string {
  return text.length <= budget ? text : text.slice(0, budget) + `\n… [${text.length - budget} characters cut]`;
}

/** The attachments for the mentions in `text` (a mention that cannot be read says why). */
export async function resolveMentions(text: string, source: IMentionSource | null): Promise<Attachment[]> {
  const attachments: Attachment[] = [];
  for (const mention of parseMentions(text)) {
    const label = mentionLabel(mention);
    switch (mention.kind) {
      case 'variable':
        attachments.push({ kind: 'variable', name: mention.name });
        break;
      case 'cell':
        attachments.push({ kind: 'text', label, text: source?.activeCell() ?? '(no active cell)' });
        break;
      case 'notebook':
        attachments.push({ kind: 'text', label, text: source?.notebook(NOTEBOOK_BUDGET) ?? '(no notebook)' });
        break;
      case 'file': {
        let body: string;
        try {
          body = source ? cut(await source.readFile(mention.path), FILE_BUDGET) : '(no file access)';
        } catch (error) {
          body = `(could not read ${mention.path}: ${(error as Error).message ?? error})`;
        }
        attachments.push({ kind: 'text', label, text: body });
        break;
      }
    }
  }
  return attachments;
}

/** One entry of the `@` completion list. */
export interface IMentionCompletion {
  /** What replaces the typed `@…` token. */
  insert: string;
  /** Shown in the list. */
  label: string;
  detail: string;
}

/** Completions for the token `@prefix` (variables, `cell`, `notebook`, `file:` paths). */
export async function mentionCompletions(
  prefix: string,
  names: readonly INameInfo[],
  source: IMentionSource | null
): Promise<IMentionCompletion[]> {
  if (prefix.startsWith('file:')) {
    const path = prefix.slice(5);
    const slash = path.lastIndexOf('/');
    const dir = slash >= 0 ? path.slice(0, slash) : '';
    const entries = source ? await source.listDirectory(dir).catch(() => [] as string[]) : [];
    return entries
      .map(entry => (dir ? `${dir}/${entry}` : entry))
      .filter(entry => entry.startsWith(path))
      .slice(0, 50)
      .map(entry => ({
        insert: `@file:${entry}` + (entry.endsWith('/') ? '' : ' '),
        label: `@file:${entry}`,
        detail: entry.endsWith('/') ? 'folder' : 'file'
      }));
  }
  const fixed: IMentionCompletion[] = [
    { insert: '@cell ', label: '@cell', detail: 'the active cell and its outputs' },
    { insert: '@notebook ', label: '@notebook', detail: 'the notebook’s cells' },
    { insert: '@file:', label: '@file:…', detail: 'a file under the server root' }
  ];
  const variables = [...names]
    .reverse()
    .map(n => ({ insert: `@${n.name} `, label: `@${n.name}`, detail: n.type }));
  const lower = prefix.toLowerCase();
  return [...variables, ...fixed].filter(c => c.label.slice(1).toLowerCase().startsWith(lower)).slice(0, 50);
}
