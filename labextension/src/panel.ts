/**
 * The left-area side panel. It owns its model, tells it when it is shown or
 * hidden (hidden panels do no work), and disposes it with itself.
 */
import { SidePanel } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { ChatView } from './chatView';
import { aiikernelIcon } from './icons';
import { AiiPanelModel } from './model';
import { IAiiPanel } from './tokens';

export class AiiPanel extends SidePanel implements IAiiPanel {
  constructor(options: AiiPanel.IOptions) {
    super();
    this.id = AiiPanel.ID;
    this.addClass('jp-AiiPanel');
    this.title.icon = aiikernelIcon;
    this.title.caption = 'aiikernel';

    const heading = new Widget();
    heading.node.textContent = 'aiikernel';
    heading.addClass('jp-AiiPanel-title');
    this.header.addWidget(heading);

    this.model = options.model ?? new AiiPanelModel();
    this.chat = options.chat;
    this.addWidget(options.chat); // other sections (Agents, …) are added by their plugins
  }

  readonly model: AiiPanelModel;
  /** The Chat section. */
  readonly chat: ChatView;

  /** Each section's share of the height (in section order), used until the user drags. */
  get sectionShares(): number[] {
    return this._shares.slice();
  }

  setSectionShares(shares: number[]): void {
    this._shares = shares.slice();
    this._sharesApplied = false;
    this._applyShares();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._applyShares();
  }

  /**
   * Lumino turns relative sizes into pixels at the first layout; when that happens while the
   * panel has no real height yet (restored open at startup, before the shell is laid out), every
   * section ends up about the same. So the shares are applied again at the first real height.
   */
  private _applyShares(): void {
    if (this._sharesApplied || !this._shares.length) {
      return;
    }
    const accordion = this.content as AccordionPanel;
    accordion.setRelativeSizes(this._shares);
    this._sharesApplied = this.isVisible && this.node.clientHeight >= AiiPanel.LAID_OUT_HEIGHT;
  }

  private _shares: number[] = [];
  private _sharesApplied = false;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    this.chat.model.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    // A panel restored open at startup is attached visible and never gets after-show.
    if (this.isVisible) {
      this.model.setActive(true);
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.setActive(false);
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setActive(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setActive(false);
  }
}

export namespace AiiPanel {
  /** DOM id, also the layout-restorer key. */
  export const ID = 'aiikernel-panel';
  /** A panel at least this tall (px) has been laid out for real. */
  export const LAID_OUT_HEIGHT = 200;

  export interface IOptions {
    chat: ChatView;
    model?: AiiPanelModel;
  }
}
