"""``cherrypy._cplogging``: the log manager, implemented in ``cherrypy_rs._log``.

A thin alias (see docs/architecture.md, "Module names"), and more than a re-export:
the module object itself is ``cherrypy_rs._log``, so that patching a name here
(``cherrypy._cplogging.LazyRfc3339UtcTime = ...``, as CherryPy's tests do) changes what
the log manager uses.
"""

import sys

from . import _log

sys.modules[__name__] = _log
