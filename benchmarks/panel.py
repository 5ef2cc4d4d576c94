"""The chat panel in a real JupyterLab and chromium: streaming, reload, load time, bundle.

Measures, in one run, each against a baseline taken in the same run:

(a) streaming a long reply (``--tokens``, default 20,000) from the scripted model: for every
    20th chunk, the time from the kernel sending the ``text_delta`` comm message (its header
    date) to the text being painted in the chat (the animation frame after the DOM change),
    p50/p99; and the longest main-thread task while it streams (``PerformanceObserver``
    ``longtask``; target: none over 50 ms).  Baseline: a notebook cell printing the same
    tokens with the same pacing, shown by JupyterLab's own output area.
(b) reloading the page with a 200-turn history in the kernel: from the ``history`` answer
    arriving to every turn painted (target ≤ 1 s), and page load → painted; baseline: the same
    reload with an empty history.
(c) JupyterLab load time (navigation → the notebook shown) with the extension and with it
    disabled (``disabledExtensions`` in the lab's private ``labconfig/page_config.json``, what
    ``jupyter labextension disable aiikernel`` writes),
    median of ``--loads`` alternating loads (target ≤ 1.05×).
Also the size of the extension's bundle (``aiikernel/labextension/static``).

    python benchmarks/panel.py [--tokens 20000] [--turns 200] [--loads 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.chat_support import (  # noqa: E402
    LOAD_TIMEOUT_MS,
    open_chat,
    open_notebook,
    send,
    shutdown_kernels,
    start_chat_lab,
    wait_bound,
    wait_turn_done,
    write_notebook,
)
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.model_steps import Reply  # noqa: E402

MARK = "\u27e6{}\u27e7"  # ⟦n⟧: a marker the page can find in the websocket and in the DOM

#: Installed before any page script: the arrival of each marked kernel message (with the
#: kernel's header date), marker paints (MutationObserver + the next animation frame), long
#: tasks, and when the chat's history answer arrived.
PAGE_PROBE = r"""
(() => {
  const probe = { sent: {}, arrived: {}, painted: {}, longtasks: [], history: null, watching: null };
  window.__probe = probe;
  const MARK = /\u27e6(\d+)\u27e7/g;
  const wall = () => performance.timeOrigin + performance.now();
  const decoder = new TextDecoder();
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', event => {
        const now = wall();
        const text = typeof event.data === 'string' ? event.data : decoder.decode(event.data);
        if (text.includes('"type": "history"') || text.includes('"type":"history"')) {
          if (text.includes('"turns"') && probe.history === null) {
            probe.history = now;
            probe.watchTurns();
          }
        }
        if (!text.includes('\u27e6')) return;
        const date = /"date"\s*:\s*"([^"]+)"/.exec(text);
        for (const m of text.matchAll(MARK)) {
          if (!(m[1] in probe.arrived)) {
            probe.arrived[m[1]] = now;
            if (date) probe.sent[m[1]] = Date.parse(date[1]);
          }
        }
      });
    }
  };
  try {
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) probe.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) { probe.longtaskError = String(e); }
  // (b): from the history answer, the first animation frame showing every expected turn
  // (window.__wantTurns, set per page), the last one with its Markdown table rendered.
  probe.allPainted = null;
  probe.watchTurns = () => {
    const want = window.__wantTurns;
    if (want === undefined) return;
    const check = () => {
      const t = document.querySelectorAll('.jp-AiiChat-turn');
      const last = t[t.length - 1];
      if (t.length === want && (want === 0 || last.querySelector('.jp-RenderedMarkdown table'))) {
        probe.allPainted = wall();
      } else {
        requestAnimationFrame(check);
      }
    };
    requestAnimationFrame(check);
  };
  probe.watch = selector => {
    const seen = new Set();
    const pending = [];
    let frame = 0;
    const observer = new MutationObserver(records => {
      for (const r of records) {
        const nodes = r.type === 'characterData' ? [r.target] : [...r.addedNodes];
        for (const n of nodes) {
          const text = n.textContent || '';
          if (!text.includes('\u27e6')) continue;
          for (const m of text.matchAll(MARK)) {
            if (!seen.has(m[1])) { seen.add(m[1]); pending.push(m[1]); }
          }
        }
      }
      if (pending.length && !frame) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          const t = wall();
          for (const k of pending.splice(0)) probe.painted[k] = t;
        });
      }
    });
    const root = document.querySelector(selector);
    observer.observe(root, { subtree: true, childList: true, characterData: true });
    probe.watching = { selector, start: performance.now() };
  };
})();
"""


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def new_page(browser, setup: str = ""):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    if setup:
        context.add_init_script(setup)
    context.add_init_script(PAGE_PROBE)
    return context, context.new_page()


def token_chunks(tokens: int, per_chunk: int = 10) -> list[str]:
    words = [f"w{i % 97} " for i in range(tokens)]
    chunks = []
    for n, start in enumerate(range(0, tokens, per_chunk)):
        text = "".join(words[start : start + per_chunk])
        if n % 20 == 0:
            text = MARK.format(n) + " " + text
        if n % 40 == 39:
            text += "\n\n"  # paragraphs, as a real reply has
        chunks.append(text)
    return chunks


def collect_latencies(page, since: float) -> tuple[list[float], float, int]:
    probe = page.evaluate("() => window.__probe")
    delays = [
        probe["painted"][k] - probe["sent"][k] for k in probe["sent"] if k in probe["painted"]
    ]
    tasks = [d for start, d in probe["longtasks"] if start >= since]
    return delays, max(tasks, default=0.0), len(tasks)


def bench_streaming(browser, lab, model, tokens: int, delay: float) -> dict:
    chunks = token_chunks(tokens)
    results = {}
    # baseline: the notebook's own output area printing the same text at the same pace
    source = (
        "import json, time\n"
        f"chunks = json.loads({json.dumps(json.dumps(chunks))})\n"
        "for c in chunks:\n"
        "    print(c, end='', flush=True)\n"
        f"    time.sleep({delay})\n"
    )
    write_notebook(lab, "stream-base.ipynb", cells=[source])
    context, page = new_page(browser)
    open_notebook(page, lab, "stream-base.ipynb", "stream-base")
    page.get_by_text("aiipython | Idle").wait_for(timeout=LOAD_TIMEOUT_MS)
    page.evaluate("() => window.__probe.watch('.jp-Notebook')")
    since = page.evaluate("performance.now()")
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Shift+Enter")
    last = MARK.format(20 * ((len(chunks) - 1) // 20))
    page.locator(".jp-OutputArea-output", has_text=last).wait_for(timeout=600_000)
    page.wait_for_function(
        "() => document.querySelector('.jp-Notebook .jp-InputArea-prompt').textContent.includes('1')",
        timeout=600_000,
    )
    results["baseline"] = collect_latencies(page, since)
    context.close()
    shutdown_kernels(lab)

    write_notebook(lab, "stream.ipynb")
    context, page = new_page(browser)
    open_notebook(page, lab, "stream.ipynb", "stream")
    chat = open_chat(page)
    wait_bound(chat)
    page.evaluate("() => window.__probe.watch('.jp-AiiChat-conversation')")
    model.script(Reply(chunks=chunks, delay=delay))
    since = page.evaluate("performance.now()")
    send(chat, "a long answer please")
    wait_turn_done(chat, timeout=600_000)
    page.wait_for_timeout(300)
    results["chat"] = collect_latencies(page, since)
    context.close()
    shutdown_kernels(lab)
    return results


HISTORY_CODE = """
from aiikernel.chat.hub import chat_hub
from aiikernel.session import AiSession
from aiikernel.turn import events as ev
hub = chat_hub(AiSession.for_shell(get_ipython()))
hub.history.max_turns = max(hub.history.max_turns, TURNS)  # the default keeps 100
reply = ("Here is what I found about **NUM**:\\n\\n| city | temp |\\n|---|---|\\n| Oslo | 3.5 |\\n"
         "| Lima | 19.0 |\\n\\nThe mean is `16.6`; next I compute it:\\n\\n```py\\n"
         "df.temp.mean()\\n```\\n")
for i in range(TURNS):
    text = reply.replace("NUM", str(i))
    hub.session.turn_count += 1  # as run_turn counts (a count of 0 reads as /reset)
    hub.on_event(ev.TurnStarted(model="openai/scripted", prompt=f"question number {i}", max_steps=10))
    hub.on_event(ev.StepStarted(step=1))
    hub.on_event(ev.TextDelta(step=1, text=text))
    hub.on_event(ev.ReplyDone(step=1, text=text))
    hub.on_event(ev.CodeStarted(step=1, index=0, code="df.temp.mean()", end_offset=len(text)))
    hub.on_event(ev.CodeFinished(step=1, index=0, result="16.6", duration=0.01))
    hub.on_event(ev.Usage(step=1, model="openai/scripted", prompt_tokens=900, completion_tokens=80))
    hub.on_event(ev.TurnDone(reason="answered", steps=1))
print("history ready", len(hub.history.turns))
"""


def _reload_painted(browser, lab, name: str, turns: int) -> tuple[float, float]:
    """(history answer → all turns painted, navigation → painted), in ms, both taken in the
    page (an animation-frame watcher started when the history arrives), not after
    Playwright's round trips: those added ~0.5 s to an empty reload in the first runs."""
    context, page = new_page(browser, f"window.__wantTurns = {turns};")
    open_notebook(page, lab, name, name.removesuffix(".ipynb"))
    open_chat(page)
    page.wait_for_function("() => window.__probe.allPainted !== null", timeout=120_000)
    probe = page.evaluate("() => window.__probe")
    origin = page.evaluate("performance.timeOrigin")
    context.close()
    return probe["allPainted"] - probe["history"], probe["allPainted"] - origin


#: The panel's default "turns shown" setting (older turns behind "Show N earlier turns").
DEFAULT_SHOWN = 50


def bench_reload(browser, lab, turns: int) -> dict:
    """Reload with an empty history, with ``turns`` turns at the default setting (the newest
    50 drawn), and with every turn drawn (``historyShown: 0``)."""
    from tests.browser.test_chat_notebook import _put_settings

    results = {}
    for label, count in (("empty", 0), ("full", turns)):
        name = f"reload-{label}.ipynb"
        write_notebook(lab, name, cells=[HISTORY_CODE.replace("TURNS", str(count))])
        context, page = new_page(browser)
        open_notebook(page, lab, name, name.removesuffix(".ipynb"))
        page.get_by_text("aiipython | Idle").wait_for(timeout=LOAD_TIMEOUT_MS)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Shift+Enter")
        page.locator(".jp-OutputArea-output", has_text="history ready").wait_for(timeout=120_000)
        context.close()
        for shown in (0, DEFAULT_SHOWN) if count else (0,):
            _put_settings(lab, {"historyShown": shown})
            drawn = min(count, shown) if shown else count
            runs = [_reload_painted(browser, lab, name, drawn) for _ in range(3)]
            results[label if shown == 0 else "default"] = (
                statistics.median(r[0] for r in runs),
                statistics.median(r[1] for r in runs),
            )
    _put_settings(lab, {})
    shutdown_kernels(lab)
    return results


def _load_once(browser, lab) -> tuple[float, bool]:
    context, page = new_page(browser)
    page.goto(lab.url("lab/workspaces/load/tree/load.ipynb"), timeout=LOAD_TIMEOUT_MS)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator(".jp-Notebook-ExecutionIndicator, .jp-Toolbar-kernelName").first.wait_for(
        timeout=LOAD_TIMEOUT_MS
    )
    elapsed = page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => r(performance.now())))"
    )
    enabled = page.evaluate(
        """() => {
            const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
            const off = config.disabledExtensions || [];
            const disabled = Array.isArray(off) ? off.includes('aiikernel') : !!off['aiikernel'];
            return config.federated_extensions.some(e => e.name === 'aiikernel') && !disabled;
        }"""
    )
    context.close()
    return elapsed, enabled


def bench_load(browser, lab, root: Path, loads: int, disable: str = "aiikernel") -> dict:
    write_notebook(lab, "load.ipynb", kernel="python3", cells=["1 + 1"])
    page_config = root / "config" / "labconfig" / "page_config.json"
    page_config.parent.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[float]] = {"with": [], "without": []}
    _load_once(browser, lab)  # warm the server's and chromium's caches
    for i in range(loads * 2):
        which = "with" if i % 2 == 0 else "without"
        if which == "without":
            page_config.write_text(json.dumps({"disabledExtensions": {disable: True}}))
        else:
            page_config.unlink(missing_ok=True)
        elapsed, enabled = _load_once(browser, lab)
        if disable == "aiikernel":
            assert enabled == (which == "with"), f"extension state wrong for the '{which}' load"
        times[which].append(elapsed)
    page_config.unlink(missing_ok=True)
    shutdown_kernels(lab)
    return {k: statistics.median(v) for k, v in times.items()}


def bundle_size() -> tuple[int, int]:
    static = REPO / "aiikernel" / "labextension" / "static"
    files = [p for p in static.rglob("*") if p.is_file() and not p.name.endswith(".map")]
    return sum(p.stat().st_size for p in files), len(files)


def report_load(load: dict, args: argparse.Namespace) -> None:
    print(
        f"(c) lab load, median of {args.loads}: with {load['with']:.0f} ms, "
        f"without {args.disable} {load['without']:.0f} ms, "
        f"ratio {load['with'] / load['without']:.3f}"
    )


def report_streaming(stream: dict) -> None:
    for label, (delays, longest, over) in (
        ("notebook output (baseline)", stream["baseline"]),
        ("chat panel", stream["chat"]),
    ):
        print(
            f"(a) {label}: {len(delays)} marks, kernel send → painted "
            f"p50 {pct(delays, 50):.1f} ms, p99 {pct(delays, 99):.1f} ms; "
            f"longest task {longest:.0f} ms, {over} tasks over 50 ms"
        )
    base, chat = stream["baseline"][0], stream["chat"][0]
    print(
        f"(a) ratio chat / notebook: p50 {pct(chat, 50) / pct(base, 50):.2f}, "
        f"p99 {pct(chat, 99) / pct(base, 99):.2f}"
    )


def report_reload(reload: dict, turns: int) -> None:
    empty = reload["empty"]
    for key, what in (
        ("default", f"newest {DEFAULT_SHOWN} drawn (default)"),
        ("full", "all drawn"),
    ):
        print(
            f"(b) reload, {turns} turns, {what}: history answer → painted {reload[key][0]:.0f} ms "
            f"(empty history {empty[0]:.0f} ms); navigation → painted {reload[key][1]:.0f} ms "
            f"(empty {empty[1]:.0f} ms, ratio {reload[key][1] / empty[1]:.2f})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--delay", type=float, default=0.004, help="seconds between chunks")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument(
        "--disable",
        default="aiikernel",
        help="what (c) disables: the extension, or one plugin id (aiikernel:panel, …)",
    )
    parser.add_argument("--only", choices=["load", "stream", "reload"], help="run one part")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    size, count = bundle_size()
    print(
        f"bundle: {size / 1024:.1f} KiB in {count} files (aiikernel/labextension/static, no maps)"
    )
    with (
        tempfile.TemporaryDirectory(prefix="aii-panel-bench-") as tmp,
        ScriptedModelServer() as model,
    ):
        root = Path(tmp)
        lab = start_chat_lab(root, model)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                if args.only in (None, "load"):
                    report_load(bench_load(browser, lab, root, args.loads, args.disable), args)
                if args.only in (None, "stream"):
                    report_streaming(bench_streaming(browser, lab, model, args.tokens, args.delay))
                if args.only in (None, "reload"):
                    report_reload(bench_reload(browser, lab, args.turns), args.turns)
                browser.close()
        finally:
            lab.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
