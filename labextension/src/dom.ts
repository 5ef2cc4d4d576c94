/**
 * Small DOM builders shared by the panel's widgets (JupyterLab's styled buttons).
 */

/**
 * A `jp-Button` with a label and a tooltip, named for assistive technology by
 * `name` (null: by its text, which may change later).
 */
export function button(
  label: string,
  className: string,
  onClick: () => void,
  title = label,
  name: string | null = title
): HTMLButtonElement {
  const b = document.createElement('button');
  b.className = `jp-Button jp-mod-styled ${className}`;
  b.textContent = label;
  b.title = title;
  if (name !== null) {
    b.setAttribute('aria-label', name);
  }
  b.addEventListener('click', onClick);
  return b;
}
