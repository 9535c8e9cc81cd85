"""Config values built from their Python expression, and INI config files
(``cherrypy.lib.reprconf``).

A config value is written as a Python expression: ``8080``, ``"text"``, ``[1, 2]``,
``6 * 7``, ``os.path.join(sys.prefix, "x")``, ``cherrypy.dispatch.MethodDispatcher()``.
``unrepr`` parses the text with ``ast`` and walks the tree, building only what the
tree names: literals, containers, arithmetic, names (``True``/``None``, an importable
module, a builtin), attribute lookups (importing ``pkg.mod`` when ``pkg`` has no
attribute ``mod`` yet), subscripts and calls. The text is never given to ``eval`` or
``exec``; anything else (lambdas, comprehensions, comparisons...) is refused with a
message naming the construct.

A config file is trusted like the application's code: a call written in it runs when
the file is loaded, as in CherryPy.

The ``Config`` and ``NamespaceSet`` classes here are CherryPy's generic ones; the global
``cherrypy.config`` (``cherrypy_rs._config.Config``) builds on them.
"""

from __future__ import annotations

import ast
import builtins
import configparser
import importlib
import io
import operator
import sys
from typing import Any, Callable

__all__ = [
    "Config",
    "ConfigFileError",
    "NamespaceSet",
    "Parser",
    "UnreprError",
    "attributes",
    "modules",
    "unrepr",
]


class UnreprError(ValueError):
    """A config value whose expression cannot be built; the message says why."""


class ConfigFileError(ValueError):
    """A config file that cannot be read: its message is one line naming the file, the
    line, the section and the key."""


_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}

_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
}

_CONSTANT_NAMES = {"None": None, "True": True, "False": False}


def _package() -> Any:
    """The cherrypy_rs package: what the name ``cherrypy`` means in a config value."""
    # Lazy: lib/ is imported by the package itself; it is complete by the time a
    # config value names it.
    return importlib.import_module(__name__.split(".", 1)[0])


class _Builder:
    """Walks an expression's AST and builds the value it describes."""

    def build(self, node: ast.AST) -> Any:
        method = getattr(self, "build_" + type(node).__name__, None)
        if method is None:
            raise UnreprError(
                f"{type(node).__name__} expressions are not allowed in config values "
                "(use literals, names, attributes, subscripts, calls and arithmetic)"
            )
        return method(node)

    def build_Expression(self, node: ast.Expression) -> Any:
        return self.build(node.body)

    def build_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def build_List(self, node: ast.List) -> list[Any]:
        return [self.build(e) for e in node.elts]

    def build_Tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self.build(e) for e in node.elts)

    def build_Set(self, node: ast.Set) -> set[Any]:
        return {self.build(e) for e in node.elts}

    def build_Dict(self, node: ast.Dict) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:  # {**other}
                result.update(self.build(value))
            else:
                result[self.build(key)] = self.build(value)
        return result

    def build_BinOp(self, node: ast.BinOp) -> Any:
        op = _BINARY.get(type(node.op))
        if op is None:
            raise UnreprError(f"the operator {type(node.op).__name__} is not allowed")
        return op(self.build(node.left), self.build(node.right))

    def build_UnaryOp(self, node: ast.UnaryOp) -> Any:
        op = _UNARY.get(type(node.op))
        if op is None:  # pragma: no cover - every unary operator is listed
            raise UnreprError(f"the operator {type(node.op).__name__} is not allowed")
        return op(self.build(node.operand))

    def build_Name(self, node: ast.Name) -> Any:
        name = node.id
        if name in _CONSTANT_NAMES:
            return _CONSTANT_NAMES[name]
        if name == "cherrypy":
            return _package()
        try:
            return modules(name)
        except ImportError:
            pass
        try:
            return getattr(builtins, name)
        except AttributeError:
            raise UnreprError(
                f"the name {name!r} is neither a module nor a builtin (quote strings: '{name}')"
            ) from None

    def build_Attribute(self, node: ast.Attribute) -> Any:
        parent = self.build(node.value)
        try:
            return getattr(parent, node.attr)
        except AttributeError:
            module_name = getattr(parent, "__name__", None)
            if isinstance(parent, type(sys)) and module_name:
                # pkg.mod where mod is a submodule not imported yet.
                try:
                    return modules(f"{module_name}.{node.attr}")
                except ImportError:
                    pass
            raise UnreprError(f"{parent!r} has no attribute {node.attr!r}") from None

    def build_Subscript(self, node: ast.Subscript) -> Any:
        return self.build(node.value)[self.build(node.slice)]

    def build_Slice(self, node: ast.Slice) -> slice:
        parts = (node.lower, node.upper, node.step)
        lower, upper, step = (None if p is None else self.build(p) for p in parts)
        return slice(lower, upper, step)

    def build_Call(self, node: ast.Call) -> Any:
        func = self.build(node.func)
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.extend(self.build(arg.value))
            else:
                args.append(self.build(arg))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:  # **mapping; the keywords written out win
                mapping = self.build(kw.value)
                if not isinstance(mapping, dict):
                    raise UnreprError("** in a config value needs a mapping")
                for key, value in mapping.items():
                    kwargs.setdefault(key, value)
            else:
                kwargs[kw.arg] = self.build(kw.value)
        return func(*args, **kwargs)


def unrepr(s: Any) -> Any:
    """Build the Python object that the expression ``s`` describes (see the module doc).

    An empty value stays as it is. Raises ``UnreprError`` (a ValueError) for a syntax
    error or a construct that is not allowed; an error raised by a call the expression
    makes propagates.
    """
    if not s:
        return s
    try:
        tree = ast.parse(s.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnreprError(f"{s.strip()!r} is not a Python expression: {exc.msg}") from None
    return _Builder().build(tree)


def modules(modulePath: str) -> Any:
    """Import the module ``modulePath`` and return it."""
    __import__(modulePath)
    return sys.modules[modulePath]


def attributes(full_attribute_name: str) -> Any:
    """Import ``pkg.mod.attr``'s module and return the attribute."""
    mod_path, _, attr_name = full_attribute_name.rpartition(".")
    mod = modules(mod_path)
    try:
        return getattr(mod, attr_name)
    except AttributeError:
        raise AttributeError(f"{mod_path!r} object has no attribute {attr_name!r}") from None


class NamespaceSet(dict):
    """Config namespace names → handlers (``config.namespaces``).

    Each entry ``"ns.rest"`` of a config is given to the ``ns`` handler as
    ``handler("rest", value)``. A handler may also be a context manager whose
    ``__enter__`` returns the callable (as CherryPy's toolbox is); its ``__exit__``
    runs after the namespace's entries.
    """

    def __call__(self, config: dict[str, Any]) -> None:
        buckets: dict[str, dict[str, Any]] = {}
        for key, value in config.items():
            if isinstance(key, str) and "." in key:
                ns, name = key.split(".", 1)
                buckets.setdefault(ns, {})[name] = value
        for ns, handler in list(self.items()):
            entries = buckets.get(ns)
            exit_ = getattr(handler, "__exit__", None)
            if exit_ is None:
                for name, value in (entries or {}).items():
                    handler(name, value)
                continue
            call = handler.__enter__()
            try:
                for name, value in (entries or {}).items():
                    call(name, value)
            except BaseException:
                if not exit_(*sys.exc_info()):
                    raise
            else:
                exit_(None, None, None)

    def __repr__(self) -> str:
        return f"{self.__module__}.{type(self).__name__}({dict.__repr__(self)})"

    def copy(self) -> NamespaceSet:
        new = type(self)()
        new.update(self)
        return new

    __copy__ = copy


class Parser(configparser.ConfigParser):
    """An INI config file read as CherryPy reads it: key case kept, ``%(name)s``
    interpolation (``[DEFAULT]``), each value built with ``unrepr``.

    An error names the file, the line, the section and the key.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._filename = "<config>"
        self._lines: list[str] = []

    def optionxform(self, optionstr: str) -> str:
        return optionstr

    def read(self, filenames: Any, encoding: str | None = None) -> list[str]:  # type: ignore[override]
        """Read each file; a missing file is an error (not skipped)."""
        if isinstance(filenames, (str, bytes)):
            filenames = [filenames]
        done = []
        for filename in filenames:
            name = filename.decode() if isinstance(filename, bytes) else str(filename)
            with open(name, encoding=encoding or "utf-8") as fp:
                self.read_file(fp, name)
            done.append(name)
        return done

    def read_file(self, f: Any, source: str | None = None) -> None:
        text = f.read()
        self._filename = source or getattr(f, "name", None) or "<config>"
        self._lines = text.splitlines()
        try:
            super().read_file(io.StringIO(text), self._filename)
        except configparser.Error as exc:
            raise ConfigFileError(_syntax_message(self._filename, exc)) from None

    def line_of(self, section: str, option: str) -> int | None:
        """The line number of ``option`` in ``[section]`` (None when not found)."""
        in_section = False
        for number, line in enumerate(self._lines, 1):
            stripped = line.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                in_section = stripped[1:-1].strip() == section
                continue
            if in_section and stripped.startswith(option):
                rest = stripped[len(option) :].lstrip()
                if rest[:1] in ("=", ":"):
                    return number
        return None

    def where(self, section: str, option: str) -> str:
        line = self.line_of(section, option)
        if line is None:
            line = self.line_of(self.default_section, option)
        place = f"{self._filename}:{line}" if line else self._filename
        return f"{place} [{section}] {option}"

    def as_dict(self, raw: bool = False, vars: Any = None) -> dict[str, dict[str, Any]]:
        """The file as ``{section: {key: value}}`` with each value built."""
        result: dict[str, dict[str, Any]] = {}
        for section in self.sections():
            values = result.setdefault(section, {})
            for option in self.options(section):
                try:
                    text = self.get(section, option, raw=raw, vars=vars)
                except configparser.Error as exc:
                    where = self.where(section, option)
                    raise ConfigFileError(f"{where}: {_first_line(exc)}") from None
                try:
                    values[option] = unrepr(text)
                except Exception as exc:
                    raise ConfigFileError(
                        f"{self.where(section, option)}: cannot build the value "
                        f"{text.strip()!r}: {_first_line(exc)}. Config values are Python "
                        "expressions: quote strings."
                    ) from None
        return result

    def dict_from_file(self, file: Any) -> dict[str, dict[str, Any]]:
        if hasattr(file, "read"):
            self.read_file(file)
        else:
            self.read(file)
        return self.as_dict()

    @classmethod
    def load(cls, input: Any) -> dict[str, Any]:
        """A config given as a dict, a filename or an open file, as a dict (a copy)."""
        if isinstance(input, (str, bytes)) or hasattr(input, "read"):
            return cls().dict_from_file(input)
        return dict(input)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if isinstance(exc, UnreprError) and text:
        return text[0]
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _syntax_message(filename: str, exc: configparser.Error) -> str:
    lineno = getattr(exc, "lineno", None)
    if lineno is None:
        errors = getattr(exc, "errors", None)
        if errors:
            lineno = errors[0][0]
    if isinstance(exc, configparser.MissingSectionHeaderError):
        what = "a section header such as [global] or [/] must come first"
    elif isinstance(exc, configparser.DuplicateOptionError):
        what = f"the key {exc.option!r} appears twice in [{exc.section}]"
    elif isinstance(exc, configparser.DuplicateSectionError):
        what = f"the section [{exc.section}] appears twice"
    else:
        what = "not a 'key = value' line or a [section] header"
    place = f"{filename}:{lineno}" if lineno else filename
    return f"{place}: config file syntax error: {what}"


class Config(dict):
    """A dict of config entries with defaults, environments and namespaces.

    Takes a dict, a filename or an open file.
    """

    defaults: dict[str, Any] = {}
    environments: dict[str, dict[str, Any]] = {}
    namespaces = NamespaceSet()

    def __init__(self, file: Any = None, **kwargs: Any) -> None:
        super().__init__()
        self.reset()
        if file is not None:
            self.update(file)
        if kwargs:
            self.update(kwargs)

    def reset(self) -> None:
        """Back to the defaults."""
        self.clear()
        dict.update(self, self.defaults)

    def update(self, config: Any) -> None:  # type: ignore[override]
        """Merge a dict, a filename or an open file."""
        self._apply(Parser.load(config))

    def _apply(self, config: dict[str, Any]) -> None:
        env = config.get("environment")
        if env:
            for key, value in self.environments[env].items():
                config.setdefault(key, value)
        dict.update(self, config)
        self.namespaces(config)

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self.namespaces({key: value})
