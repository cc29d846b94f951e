"""The command line refuses nonsense before anything runs: usage errors exit 2 with a message naming the
option."""

from __future__ import annotations

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
