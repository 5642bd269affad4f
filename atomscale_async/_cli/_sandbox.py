"""The ``sandbox`` command, its flags made from `SandboxConfig`, and the demo's sandbox."""

from __future__ import annotations

import argparse
import re
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ._output import EXIT_OK, EXIT_USAGE, CLIError, Output, error_line

if TYPE_CHECKING:
    from ..sandbox import SandboxConfig, SandboxServer
    from ..sandbox._config import Option

__all__ = [
    "SANDBOX_KEY",
    "add_config_options",
    "missing_sandbox",
    "run_sandbox",
    "sandbox_config",
    "start_sandbox",
]

SANDBOX_KEY = "sandbox-key"
#: Where the parsed values of the sandbox's options go in the namespace.
_DEST = "sandbox_option_"


def missing_sandbox(exc: ImportError) -> CLIError:
    """The error to report when the sandbox extra is not installed."""
    missing = exc.name or "a dependency"
    return CLIError(
        f"the sandbox needs {missing}, which is not installed: "
        "install the [sandbox] extra (pip install -e '.[sandbox]' in atomscale-async's checkout)"
    )


def flag(name: str) -> str:
    """The command-line flag of an option, e.g. ``--latency-ms`` for ``latency_ms``."""
    return "--" + name.replace("_", "-")


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` one flag per option of `SandboxConfig`, with its help and default."""
    from ..sandbox._checks import METAVAR
    from ..sandbox._config import options

    group = parser.add_argument_group("sandbox options")
    for option in options():
        kind = _value_type(option)
        metavar = option.attribute.metadata.get(METAVAR)
        if kind is bool:
            group.add_argument(
                flag(option.name),
                dest=_DEST + option.name,
                action=argparse.BooleanOptionalAction,
                default=option.default,
                help=f"{option.help} (default: %(default)s)",
            )
            continue
        group.add_argument(
            flag(option.name),
            dest=_DEST + option.name,
            type=_converter(option, kind),
            default=option.default,
            metavar=metavar or kind.__name__.upper(),
            help=f"{option.help} (default: %(default)s)",
        )


def sandbox_config(args: argparse.Namespace) -> SandboxConfig:
    """The `SandboxConfig` the flags describe (a usage error names the flags)."""
    from ..sandbox import SandboxConfig

    values = {
        name.removeprefix(_DEST): value
        for name, value in vars(args).items()
        if name.startswith(_DEST)
    }
    try:
        return SandboxConfig().replace(**values)
    except (TypeError, ValueError) as exc:
        raise CLIError(flag_words(error_line(exc)), EXIT_USAGE) from None


def flag_words(text: str) -> str:
    """``text`` with every option's Python name replaced by its flag.

    Example:
        >>> flag_words("error_rate + rate_limit must not exceed 1")
        '--error-rate + --rate-limit must not exceed 1'
    """
    from ..sandbox._config import options

    names = sorted((option.name for option in options()), key=len, reverse=True)
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda match: flag(match[1]), text)


def _optional(option: Option) -> bool:
    kind = option.attribute.type
    return isinstance(kind, types.UnionType) and type(None) in kind.__args__


def _value_type(option: Option) -> type:
    kind: Any = option.attribute.type
    if isinstance(kind, types.UnionType):  # e.g. float | None: the flag gives a float
        kind = next(arg for arg in kind.__args__ if arg is not type(None))
    if kind not in (bool, int, float, str):
        msg = f"the sandbox option {option.name!r} has a type the command line cannot parse"
        raise TypeError(msg)
    return cast("type", kind)


def _converter(option: Option, kind: type) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        if _optional(option) and kind is not str and text.lower() == "none":
            return None
        try:
            value = kind(text)
        except ValueError:
            expected = {int: "a whole number", float: "a number"}.get(kind, "a value")
            if _optional(option):
                expected += " or none"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        validator = option.attribute.validator
        if validator is not None:
            try:
                validator(None, option.attribute, value)
            except (TypeError, ValueError) as exc:
                message = str(exc).removeprefix(f"{option.name} ")
                raise argparse.ArgumentTypeError(flag_words(message)) from None
        return value

    convert.__name__ = kind.__name__
    return convert


def run_sandbox(args: argparse.Namespace, out: Output) -> int:
    """The ``sandbox`` command: serve a sandbox in the foreground until Ctrl-C."""
    try:
        from ..sandbox import serve
    except ImportError as exc:
        raise missing_sandbox(exc) from None
    config = sandbox_config(args)
    try:
        serve(
            config,
            host=args.host,
            port=args.port,
            show_key=config.api_key == SANDBOX_KEY,  # a key of the user's own is never printed
        )
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        raise CLIError(f"could not serve on {where}: {error_line(exc)}") from None
    return EXIT_OK


def start_sandbox(entries: int, seed: int) -> SandboxServer:
    """A sandbox serving from a child process on a free port, for the demo."""
    try:
        from ..sandbox import SandboxServer
    except ImportError as exc:
        raise missing_sandbox(exc) from None
    server = SandboxServer(entries=entries, seed=seed, port=0, process=True, startup_timeout=60)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        raise CLIError(f"could not start the sandbox: {error_line(exc)}") from None
    return server
