"""`python -m weekly_er_tui.cli`: the `weekly-er-tui` command."""

from weekly_er_tui.cli import main

raise SystemExit(main())
