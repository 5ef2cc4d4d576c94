/**
 * A read-only look at the agent's terminal (the tmux screen as text), refreshed when it
 * changes: each request asks the server to wait for pane activity newer than the screen
 * shown, so an idle agent costs one pending request, not a poll loop.
 */
import { Widget } from '@lumino/widgets';

import { getScreen } from './agentsApi';

const WAIT_SECONDS = 20;

export class TerminalView extends Widget {
  constructor(readonly sessionId: string) {
    super({ node: document.createElement('pre') });
    this.addClass('jp-AiiAgent-terminal');
    this.node.setAttribute('aria-label', 'Agent terminal (read-only)');
    this.node.tabIndex = 0;
  }

  /** Start following the screen (when shown). */
  start(): void {
    if (this._running) {
      return;
    }
    this._running = true;
    void this._loop();
  }

  /** Stop following (when hidden or disposed). */
  stop(): void {
    this._running = false;
    this._abort?.abort();
  }

  dispose(): void {
    this.stop();
    super.dispose();
  }

  private async _loop(): Promise<void> {
    let after: number | undefined = undefined;
    while (this._running && !this.isDisposed) {
      this._abort = new AbortController();
      try {
        const screen = await getScreen(this.sessionId, after, after === undefined ? 0 : WAIT_SECONDS, {
          signal: this._abort.signal
        });
        if (!this._running) {
          return;
        }
        this.node.textContent = screen.alive ? screen.text : '(the agent is not running)';
        this.node.dataset.activity = String(screen.activity);
        if (!screen.alive) {
          after = undefined;
          await new Promise(resolve => setTimeout(resolve, 5000));
        } else {
          after = screen.activity;
        }
      } catch (error) {
        if (!this._running) {
          return;
        }
        this.node.textContent = `Cannot read the terminal: ${(error as Error).message ?? error}`;
        after = undefined;
        await new Promise(resolve => setTimeout(resolve, 3000));
      }
    }
  }

  private _abort: AbortController | null = null;
  private _running = false;
}
