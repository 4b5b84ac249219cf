"""The README's Python examples run as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples_and_they_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the examples write checkpoints
    blocks = python_blocks()
    assert len(blocks) >= 3
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})
    assert "accuracy 100%" in capsys.readouterr().out  # the conv net example learned its toy task


def test_readme_opens_with_the_two_commands():
    first, second = README.read_text().splitlines()[:2]
    assert "pip install" in first and "demos/" in first
    assert "pip install" in second and "pytest" in second
