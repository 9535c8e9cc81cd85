"""CherryPy's test support (``cherrypy.test``) for cherrypy_rs: ``helper.CPWebCase``
starts the application under test on a live cherrypy_rs server on 127.0.0.1,
``webtest.WebCase`` requests pages and checks responses, ``logtest.LogCase`` checks
log files. An application's suite written for CherryPy runs unchanged with
``sys.modules["cherrypy"] = cherrypy_rs`` (in its ``conftest.py``).
"""
