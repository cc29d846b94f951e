"""The command line refuses nonsense before anything runs: usage errors exit 2 with a message naming the
option."""

from __future__ import annotations

import argparse

import pytest

from music_reclass_gui.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["batch", ".", "--jobs", "-1"],
        ["batch", ".", "--jobs", "0"],
        ["batch", ".", "--jobs", "many"],
        ["classify", "x.mp3", "--top-k", "0"],
    ],
)
def test_nonsense_numbers_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[2]}" in err and "expected a whole number of at least 1" in err


@pytest.mark.parametrize("argv", [["--timeout", "-5"], ["--size", "big"], ["--device", "tpu"]])
def test_the_window_command_refuses_nonsense_too(argv, capsys):
    from music_reclass_gui.ui.app import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2 and f"argument {argv[0]}" in capsys.readouterr().err


def _walk(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()):
    """Every (command words, action) of the parser tree, sub-commands included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, (*words, name))
        else:
            yield words, action


def _parsers():
    from music_reclass_gui.cli import build_parser
    from music_reclass_gui.ui.app import build_parser as build_gui_parser

    return {"music-reclass": build_parser(), "music-reclass-gui": build_gui_parser()}


def test_every_option_has_a_help_text():
    missing = [
        f"{prog} {' '.join(words)} {'/'.join(action.option_strings) or action.dest}"
        for prog, parser in _parsers().items()
        for words, action in _walk(parser)
        if not (action.help and action.help.strip()) and action.help is not argparse.SUPPRESS
    ]
    assert not missing, "options without help:\n" + "\n".join(missing)


def test_every_device_option_offers_the_same_choices():
    from music_reclass_gui.inference.device import DEVICE_CHOICES

    devices = [
        (words, action)
        for parser in _parsers().values()
        for words, action in _walk(parser)
        if "--device" in action.option_strings
    ]
    assert len(devices) >= 6  # classify, batch, train cnn, evaluate, train personal, the GUI
    for words, action in devices:
        assert tuple(action.choices or ()) == DEVICE_CHOICES, words


def test_the_docs_name_only_options_that_exist():
    """README and the command modules' docstrings promise no option the parsers lack (e.g. `--stages`)."""
    import re
    from pathlib import Path

    import music_reclass_gui.cli as cli_pkg

    known = {
        opt for parser in _parsers().values() for _, action in _walk(parser) for opt in action.option_strings
    }
    root = Path(__file__).resolve().parents[1]
    texts = {"README.md": (root / "README.md").read_text(encoding="utf-8")}
    for module in sorted(Path(cli_pkg.__file__).parent.glob("*_cmd.py")):
        source = module.read_text(encoding="utf-8")
        texts[module.name] = source.split('"""')[1] if source.startswith('"""') else ""
    foreign = {"--no-deps", "--index-url"}  # pip's, in the install notes
    for script in (*root.glob("benchmarks/*.py"), *root.glob("tools/*.py")):  # their own parsers
        foreign.update(
            re.findall(r"add_argument\(\s*\"(--[a-z][a-z0-9-]*)\"", script.read_text(encoding="utf-8"))
        )
    missing = {
        (name, opt)
        for name, text in texts.items()
        for opt in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)
        if opt not in known and opt not in foreign
    }
    assert not missing, sorted(missing)


def test_building_the_parser_imports_no_torch():
    """Every command starts without torch (about 2 s of imports on a small CPU); only the commands that run a
    network load it, inside their function."""
    import subprocess
    import sys

    code = "import sys; from music_reclass_gui.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
