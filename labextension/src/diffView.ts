/**
 * File edits shown as diffs: a small line diff (longest common subsequence) of an edit's
 * old and new text, and unified patches (Codex's apply_patch) coloured by their line
 * prefixes. Text only (`textContent`): nothing from a transcript becomes markup.
 */

export type DiffLine = { op: ' ' | '-' | '+'; text: string };

/** Line diff of `before` → `after`; beyond `limit` lines a side, all removed then added. */
export function lineDiff(before: string, after: string, limit = 600): DiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.length > limit || b.length > limit) {
    return [
      ...a.map(text => ({ op: '-' as const, text })),
      ...b.map(text => ({ op: '+' as const, text }))
    ];
  }
  // lcs[i][j]: length of the common subsequence of a[i:] and b[j:].
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () =>
    new Array<number>(b.length + 1).fill(0)
  );
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', text: a[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: '-', text: a[i++] });
    } else {
      out.push({ op: '+', text: b[j++] });
    }
  }
  a.slice(i).forEach(text => out.push({ op: '-', text }));
  b.slice(j).forEach(text => out.push({ op: '+', text }));
  return out;
}

/** A unified patch's lines, typed by their first character. */
export function patchLines(patch: string): DiffLine[] {
  return patch.split('\n').map(line => {
    const op = line[0] === '+' && !line.startsWith('+++') ? '+' : line[0] === '-' && !line.startsWith('---') ? '-' : ' ';
    return { op, text: op === ' ' ? line : line.slice(1) };
  });
}

/** A `<pre>` with one line element per diff line. */
export function diffNode(lines: DiffLine[]): HTMLElement {
  const pre = document.createElement('pre');
  pre.className = 'jp-AiiAgent-diff';
  for (const line of lines) {
    const row = document.createElement('span');
    row.className =
      line.op === '+' ? 'jp-AiiAgent-add' : line.op === '-' ? 'jp-AiiAgent-del' : 'jp-AiiAgent-same';
    row.textContent = `${line.op} ${line.text}\n`;
    pre.appendChild(row);
  }
  return pre;
}
