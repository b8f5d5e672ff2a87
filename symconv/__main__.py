"""``python -m symconv``: the same as the ``symconv`` command."""

from symconv.cli import main

raise SystemExit(main())
