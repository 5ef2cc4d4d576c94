"""A notebook with %%ai cells, executed headless by nbclient against the real aiipython kernel."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from tests.support.kernels import model_env
from tests.support.model_steps import Reply


def test_notebook_with_ai_cells_executes(model_server, tmp_path):
    model_server.script(
        Reply("Creating it.\n```py\nsquares = [n * n for n in range(5)]\nprint(squares)\n```"),
        Reply("Done: `squares` holds five squares."),
        Reply("The sum is 30."),
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("base = 5"),
        nbformat.v4.new_code_cell("%%ai\nmake a list of the first `base` squares"),
        nbformat.v4.new_code_cell("%%ai\nwhat is their sum?"),
        nbformat.v4.new_code_cell("sum(squares)"),
    ]
    client = NotebookClient(
        nb, kernel_name="aiipython", timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=model_env(model_server), cwd=str(tmp_path))
    ai_cell = nb.cells[1]
    streams = "".join(o.get("text", "") for o in ai_cell.outputs if o.output_type == "stream")
    assert "[0, 1, 4, 9, 16]" in streams
    markdown = [
        o.data["text/markdown"]
        for o in ai_cell.outputs
        if o.output_type == "display_data" and o.data.get("text/markdown")
    ]
    assert any("Creating it." in m for m in markdown)
    assert any("five squares" in m for m in markdown)
    assert nb.cells[3].outputs[0].data["text/plain"] == "30"
    # the second %%ai cell continued the same conversation and saw `squares`
    third = model_server.model_requests()[2].body_json["messages"]
    assert "squares: list len=5" in third[0]["content"]
    assert [m["role"] for m in third][-2:] == ["assistant", "user"]
