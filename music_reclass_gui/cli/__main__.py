from music_reclass_gui.cli import main

raise SystemExit(main())
