"""`SandboxConfig`: one declaration of the sandbox's options, taken everywhere."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import atomscale_async.sandbox
from atomscale_async._cli import main
from atomscale_async.sandbox import (
    Faults,
    SandboxConfig,
    SandboxServer,
    create_app,
    sandbox_state,
)
from atomscale_async.sandbox._config import options


def test_options_are_the_config_fields_and_the_fault_fields() -> None:
    names = [option.name for option in options()]
    own = [f.name for f in attrs.fields(SandboxConfig) if f.name != "faults"]
    assert names == [*own, *(f.name for f in attrs.fields(Faults))]
    assert all(option.help for option in options())


def test_options_by_name_reach_the_nested_faults() -> None:
    config = SandboxConfig(entries=5).replace(latency_ms=20, error_rate=0.1, seed=3)
    assert config.faults == Faults(latency_ms=20, error_rate=0.1)
    assert (config.entries, config.seed) == (5, 3)
    assert SandboxConfig().replace(**config.to_options()) == config


def test_a_misspelled_option_is_refused_with_the_closest_name() -> None:
    with pytest.raises(TypeError, match="did you mean 'latency_ms'"):
        create_app(latncy_ms=5)
    with pytest.raises(TypeError, match="did you mean 'entries'"):
        SandboxServer(entrys=5)


def test_invalid_values_are_refused_naming_the_option() -> None:
    with pytest.raises(ValueError, match="entries must be a number >= 0"):
        SandboxConfig(entries=-1)
    with pytest.raises(ValueError, match="oes_points"):
        create_app(oes_points=3)


def test_create_app_and_server_take_a_config_and_options_on_top() -> None:
    config = SandboxConfig(entries=7, seed=2, faults=Faults(retry_after=3))
    state = sandbox_state(create_app(config, rate_limit=0.5))
    assert state.config == attrs.evolve(config, faults=Faults(retry_after=3, rate_limit=0.5))
    assert len(state.data_ids) == 7
    server = SandboxServer(config=config)
    assert server.state.config == config
    assert server.faults == Faults(retry_after=3)


def test_the_api_key_stays_out_of_the_repr() -> None:
    assert "secret-key" not in repr(SandboxConfig(api_key="secret-key"))


def test_the_sandbox_command_has_a_flag_for_every_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sandbox", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for option in options():
        flag = "--" + option.name.replace("_", "-")
        assert flag in help_text
        assert f"{option.help} (default: {option.default})" in help_text


def test_the_sandbox_command_serves_the_config_its_flags_describe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[tuple[SandboxConfig, dict[str, Any]]] = []
    monkeypatch.setattr(
        atomscale_async.sandbox,
        "serve",
        lambda config, **where: served.append((config, where)),
        raising=False,
    )
    args = ["sandbox", "--port", "0", "--entries", "9", "--retry-after", "3", "--drop-rate", "0.5"]
    assert main(args) == 0
    [(config, where)] = served
    assert config == SandboxConfig(entries=9, faults=Faults(retry_after=3, drop_rate=0.5))
    assert where["port"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--error-rate", "2"], "argument --error-rate: must be a fraction from 0 to 1, got 2.0"),
        (["--entries", "x"], "argument --entries: expected a whole number, got 'x'"),
        (["--error-rate", ".5", "--drop-rate", ".6"], "--error-rate + --rate-limit + --drop-rate"),
    ],
)
def test_sandbox_usage_errors_name_the_flag(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["sandbox", *args]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "error_rate" not in error
