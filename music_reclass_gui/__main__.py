"""`python -m music_reclass_gui` opens the window."""

from music_reclass_gui.ui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
