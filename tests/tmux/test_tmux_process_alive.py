"""process-alive walks the pane's process tree with exact names."""

from __future__ import annotations

import pytest
from helpers import Provider, Start, wait_for

#: Runs again with GC_PORTABLE=1 (make portable-tests): it exercises the process paths.
pytestmark = pytest.mark.portable


def test_a_single_name_without_trailing_newline(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "sleep 300"})
    assert tmux_provider.ok("process-alive", name, stdin="sleep") == "true"


def test_any_of_several_names_matches(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "sleep 300"})
    assert tmux_provider.ok("process-alive", name, stdin="claude\nnode\nsleep") == "true"


def test_descendants_of_a_shell_are_found(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "sh -c 'sh -c \"sleep 300\"; true'"})
    assert wait_for(lambda: tmux_provider.ok("process-alive", name, stdin="sleep") == "true")


def test_the_tmux_server_argv_does_not_count(tmux_provider: Provider, start: Start) -> None:
    # The server keeps the argv of the client that started it, which mentions
    # `claude`; `pgrep -f claude` would say alive. Nothing named claude runs.
    name = start({"command": "sh -c 'sleep 300' # claude"})
    assert tmux_provider.ok("process-alive", name, stdin="claude") == "false"


def test_substrings_do_not_count(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "sleep 300"})
    assert tmux_provider.ok("process-alive", name, stdin="slee\nleep") == "false"


def test_interpreter_scripts_are_named_by_their_script(tmux_provider: Provider, start: Start, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "agent_runner.py"
    script.write_text("import time\ntime.sleep(300)\n")
    name = start({"command": f"python3 {script}"})
    assert wait_for(lambda: tmux_provider.ok("process-alive", name, stdin="agent_runner") == "true")


def test_false_after_the_agent_exits_and_after_stop(tmux_provider: Provider, start: Start) -> None:
    name = start({"command": "sh -c 'sleep 300'"})
    tmux_provider.ok("stop", name)
    assert tmux_provider.ok("process-alive", name, stdin="some-process") == "false"
