"""``python -m logship.cli``: the ``logship`` command."""

from logship.cli import main

raise SystemExit(main())
