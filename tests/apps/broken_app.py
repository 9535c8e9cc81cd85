"""An application that fails to import (the worker-process tests' crash loop)."""

raise RuntimeError("broken_app cannot be imported on purpose")
