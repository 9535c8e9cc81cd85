"""``python -m cherrypy_rs``: the same as the ``cherrypy-rs`` command."""

import sys

from .cli import main

sys.exit(main())
