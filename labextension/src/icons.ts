/** The aiikernel icon, shown on the left-area tab of the side panel. */
import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2 3 7v10l9 5 9-5V7zm0 2.3 6.8 3.8L12 11.8 5.2 8.1zM5 9.8l6 3.3v6.6l-6-3.3zm8 9.9v-6.6l6-3.3v6.6z"/>
    <circle cx="12" cy="8" r="1.4"/>
  </g>
</svg>`;

export const aiikernelIcon = new LabIcon({ name: 'aiikernel:logo', svgstr: svg });
