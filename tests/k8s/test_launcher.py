"""Each executable (`gc-session-k8s`, `gc-session-tmux`, `gc-beads-k8s`) is one /bin/sh
launcher: it starts `<name>.py`, installed beside it, with the interpreter its installer
wrote there in whatever form (a shebang with spaces, a `#!/bin/sh` trampoline), without
Python's site setup for gc-session-k8s, the venv's own interpreter when the venv moved, and
runs it as any script whenever that cannot be done. tests/install does it with real pip and
uv installs.

These pin the launcher alone, with a stand-in program that reports how it was started; the
real program goes through it in every other k8s test (and `test_hot_path` checks that a
tick's read loads neither site nor os).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import REPO, executable

LAUNCHER = REPO / "providers" / "bin" / "gc-session-k8s"
#: Reports what the launcher handed it: how Python started, its argv and its stdin.
REPORTER = """import json, sys
print(json.dumps({"no_site": sys.flags.no_site, "argv": sys.argv[1:],
                  "stdin": sys.stdin.read(), "program": sys.argv[0]}))
"""


def install(where: Path, first_line: str | None = None) -> Path:
    """The launcher and a stand-in program, as an installer lays them out."""
    where.mkdir(parents=True, exist_ok=True)
    launcher = where / "gc-session-k8s"
    shutil.copy(LAUNCHER, launcher)
    program = where / "gc-session-k8s.py"
    program.write_text(f"{first_line or '#!' + sys.executable}\n{REPORTER}")
    program.chmod(0o755)
    return launcher


def run(argv: list[str], stdin: str = "", cwd: Path | None = None) -> dict[str, object]:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60,
                          cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stderr
    report: dict[str, object] = json.loads(proc.stdout)
    return report


ARGS = ["is-running", "a b", "", "x;", "-S", "$(touch pwned)", "line\nbreak", "*"]


def test_the_program_starts_without_site_with_every_argument_and_stdin_intact(
        tmp_path: Path) -> None:
    report = run([str(install(tmp_path / "bin")), *ARGS], stdin="claude\nnode\n",
                 cwd=tmp_path)
    assert report == {"no_site": 1, "argv": ARGS, "stdin": "claude\nnode\n",
                      "program": str(tmp_path / "bin" / "gc-session-k8s.py")}
    assert not (tmp_path / "pwned").exists()


def test_a_directory_with_spaces_and_a_relative_invocation(tmp_path: Path) -> None:
    where = tmp_path / "my tools" / "bin"
    install(where)
    assert run([str(where / "gc-session-k8s"), "get-meta", "s", "k"])["no_site"] == 1
    assert run(["sh", "gc-session-k8s", "peek", "s"], cwd=where)["argv"] == ["peek", "s"]


@pytest.mark.parametrize("relative", [False, True], ids=["absolute link", "relative link"])
def test_a_launcher_linked_alone_elsewhere_finds_its_program(tmp_path: Path,
                                                              relative: bool) -> None:
    launcher = install(tmp_path / "venv" / "bin")
    hop = tmp_path / "opt" / "gc-session-k8s"  # a link to a link: followed to the end
    link = tmp_path / "local" / "bin" / "gc-session-k8s"
    for made, to in ((hop, launcher), (link, hop)):
        made.parent.mkdir(parents=True)
        made.symlink_to(os.path.relpath(to, made.parent) if relative else to)
    report = run([str(link), "is-running", "s"])
    assert report["no_site"] == 1
    assert Path(str(report["program"])).resolve() == launcher.with_name("gc-session-k8s.py")


def test_another_first_line_runs_the_program_as_any_script(tmp_path: Path) -> None:
    interpreter = shutil.which("python3") or sys.executable
    launcher = install(tmp_path, first_line=f"#!/usr/bin/env {Path(interpreter).name}")
    env_path = f"{Path(interpreter).parent}:{os.environ.get('PATH', '')}"
    proc = subprocess.run([str(launcher), "is-running", "s"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PATH": env_path}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["no_site"] == 0


def test_a_missing_program_is_one_line_and_exit_1(tmp_path: Path) -> None:
    launcher = install(tmp_path)
    (tmp_path / "gc-session-k8s.py").unlink()
    alone = tmp_path / "elsewhere" / "gc-session-k8s"  # and a link to the launcher alone
    alone.parent.mkdir()
    alone.symlink_to(launcher)
    for argv in ([str(launcher)], [str(alone)]):
        proc = subprocess.run([*argv, "is-running", "s"], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 1
        assert proc.stderr.count("\n") == 1 and "gc-session-k8s.py" in proc.stderr


#: The program, shipped in the package (providers/bin), never on PATH.
PROGRAM = REPO / "providers" / "bin" / "gc-session-k8s.py"


def test_the_installed_program_run_directly_answers_as_the_launcher_does() -> None:
    launcher = executable("gc-session-k8s")
    if len(launcher) > 1:
        pytest.skip("not installed: the program is already run directly")
    for argv in (["bogus", "x"], ["is-running"], ["is-running", "bad;name"]):
        through = subprocess.run([*launcher, *argv], capture_output=True, timeout=60,
                                 check=False)
        direct = subprocess.run([sys.executable, str(PROGRAM), *argv], capture_output=True,
                                timeout=60, check=False)
        assert (through.returncode, through.stdout, through.stderr) == (
            direct.returncode, direct.stdout, direct.stderr), argv


def test_a_layout_only_site_knows_still_runs_the_op(tmp_path: Path) -> None:
    """An interpreter whose own site-packages does not hold us (a --user install, here
    PYTHONPATH): the program sets site up and goes on."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if not base.exists():
        pytest.skip(f"no base interpreter at {base}")
    launcher = install(tmp_path)
    program = REPO / "providers" / "bin" / "gc-session-k8s.py"
    body = program.read_text().split("\n", 1)[1]
    (tmp_path / "gc-session-k8s.py").write_text(f"#!{base}\n{body}")
    proc = subprocess.run([str(launcher), "no-such-op", "x"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert (proc.returncode, proc.stderr) == (
        2, "gc-session-k8s: unknown operation 'no-such-op' (not implemented)\n")


NAMES = ["gc-session-tmux", "gc-session-k8s", "gc-beads-k8s"]


def test_the_three_executables_share_one_launcher() -> None:
    bodies = {(REPO / "providers" / "bin" / name).read_bytes() for name in NAMES}
    assert len(bodies) == 1
    assert all(os.access(REPO / "providers" / "bin" / name, os.X_OK) for name in NAMES)


def install_as(where: Path, name: str, first_lines: str) -> Path:
    """The launcher under ``name`` and a stand-in program whose first lines are given."""
    where.mkdir(parents=True, exist_ok=True)
    launcher = where / name
    shutil.copy(LAUNCHER, launcher)
    program = where / f"{name}.py"
    program.write_text(f"{first_lines}\n{REPORTER}")
    program.chmod(0o755)
    return launcher


def sh_single(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def sh_double(text: str) -> str:
    return '"' + "".join("\\" + c if c in '"\\$`' else c for c in text) + '"'


#: The first lines installers write: pip's shebang (kept whole even with a space, which no
#: kernel reads), and the `#!/bin/sh` trampolines of uv (single quotes) and pip's console
#: scripts (double quotes) for paths with spaces or over 127 bytes.
FORMS: dict[str, Callable[[str], str]] = {
    "shebang": lambda py: f"#!{py}",
    "uv trampoline": lambda py: f"#!/bin/sh\n'''exec' {sh_single(py)} \"$0\" \"$@\"\n' '''",
    "pip trampoline": lambda py: f"#!/bin/sh\n'''exec' {sh_double(py)} \"$0\" \"$@\"\n' '''",
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("place", ["a b", "it's $(x) `y`", "v" * 140])
def test_every_installer_form_runs_the_program_at_any_path(tmp_path: Path, name: str, form: str,
                                                           place: str) -> None:
    interpreter = tmp_path / place / "venv" / "bin" / "python3"
    interpreter.parent.mkdir(parents=True)
    interpreter.symlink_to(os.path.realpath(sys.executable))
    launcher = install_as(tmp_path / "bin dir", name, FORMS[form](str(interpreter)))
    report = run([str(launcher), *ARGS], stdin="in\n", cwd=tmp_path)
    assert report["argv"] == ARGS and report["stdin"] == "in\n"
    assert report["no_site"] == (1 if name == "gc-session-k8s" else 0)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("form", list(FORMS))
def test_a_moved_venv_runs_with_the_interpreter_beside_the_launcher(tmp_path: Path, name: str,
                                                                    form: str) -> None:
    launcher = install_as(tmp_path / "moved" / "bin", name,
                          FORMS[form](str(tmp_path / "gone venv" / "bin" / "python3")))
    (launcher.parent / "python3").symlink_to(os.path.realpath(sys.executable))
    assert run([str(launcher), "is-running", "s"])["argv"] == ["is-running", "s"]


@pytest.mark.parametrize("name", NAMES)
def test_no_interpreter_anywhere_is_one_line_and_exit_1_not_127(tmp_path: Path,
                                                                name: str) -> None:
    for form in FORMS.values():
        launcher = install_as(tmp_path / "bin", name, form(str(tmp_path / "gone" / "python3")))
        proc = subprocess.run([str(launcher), "is-running", "s"], capture_output=True,
                              text=True, timeout=60, check=False)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc
        assert "no Python" in proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_a_venv_interpreter_this_user_cannot_run_is_one_line_and_exit_1(tmp_path: Path,
                                                                          name: str) -> None:
    # An editable or venv install seen by another user: the venv's python3 links into a
    # directory closed to them. Any other Python on PATH would not see the venv's packages.
    prefix = tmp_path / "venv"
    lib = prefix / "lib" / "python3.11" / "site-packages"
    (lib / "providers" / "bin").mkdir(parents=True)
    (lib / "providers" / "bin" / f"{name}.py").write_text("import sys\nsys.exit(7)\n")
    closed = tmp_path / "closed-python"
    closed.write_text("#!/bin/sh\nexit 7\n")
    closed.chmod(0o644)  # not executable: as a target behind a closed directory looks
    (prefix / "bin").mkdir()
    (prefix / "bin" / "python3").symlink_to(closed)
    launcher = prefix / "bin" / name
    shutil.copy(LAUNCHER, launcher)
    proc = subprocess.run([str(launcher), "is-running", "s"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc
    assert "cannot run" in proc.stderr and "python3" in proc.stderr
