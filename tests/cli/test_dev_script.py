"""The two-command set-up (`./dev`, which `make` calls and `.ci/run` runs): how it chooses torch,
and that it is idempotent. Real ./dev and Makefile, run in a copy of the repository's files; the
virtual environment's python is a stand-in script that logs what pip/pytest were asked to do
(installing torch for real is ~190 MB and minutes: the real install is what CI's `make test` runs).
`nvidia-smi` is a stand-in too: tests cannot own a GPU."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_PY = """#!/bin/sh
# stand-in for .venv/bin/python: log pip and pytest calls, answer pip's dry run, else the real python
log="$(dirname "$0")/../calls.log"
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    case " $* " in
        *" --dry-run "*) printf '{"install": [{"metadata": {"version": "%s"}}]}\\n' "$FAKE_TORCH_VERSION"; exit 0 ;;
    esac
    echo "pip $*" | cut -d' ' -f4- >>"$log"
    case " $* " in *" torch"*) touch "$(dirname "$0")/../torch-installed" ;; esac
    exit 0
fi
if [ "$1" = "-m" ]; then echo "$*" >>"$log"; exit 0; fi
case "$2" in *'version("torch")'*)
    [ -f "$(dirname "$0")/../torch-installed" ] && echo 2.13.0+cpu && exit 0; exit 1 ;;
esac
exec "$REAL_PYTHON" "$@"
"""


TOOLS = ("sh", "bash", "env", "sed", "cat", "uname", "dirname", "cut", "touch")


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "repo"
    r.mkdir()
    for name in ("dev", "Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, r / name)
    (r / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci" / "run", r / ".ci" / "run")
    executable(r / ".venv" / "bin" / "python", FAKE_PY)
    (tmp_path / "bin").mkdir()
    # Only the tools the scripts use, so a real nvidia-smi (a GPU machine) cannot change the answer.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            (tools / tool).symlink_to(found)
    return r


def dev(repo, *args, gpu=False, version="2.13.0", **env):
    path = [str(repo.parent / "bin")] if not gpu else [str(repo.parent / "gpubin")]
    if gpu:
        executable(repo.parent / "gpubin" / "nvidia-smi", "#!/bin/sh\necho 'GPU 0: NVIDIA Test (UUID: x)'\n")
    path.append(str(repo.parent / "tools"))
    e = {"PATH": ":".join(path), "HOME": str(repo.parent), "REAL_PYTHON": sys.executable,
         "PYTHON": sys.executable, "FAKE_TORCH_VERSION": version, **env}
    return subprocess.run(["./dev", *args], cwd=repo, capture_output=True, text=True, env=e, timeout=60)


def calls(repo) -> list[str]:
    f = repo / ".venv" / "calls.log"
    return f.read_text().splitlines() if f.exists() else []


@pytest.mark.parametrize("gpu,version,env,expect", [
    (False, "2.13.0", {}, "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0"),
    (False, "2.13.0+cpu", {}, "torch==2.13.0"),
    (True, "2.13.0", {}, "torch==2.13.0"),
    (False, "2.13.0", {"TORCH_INDEX": "default"}, "torch==2.13.0"),
    (True, "2.13.0", {"TORCH_INDEX": "cpu"}, "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0"),
    (False, "2.13.0", {"TORCH_INDEX": "https://download.pytorch.org/whl/cu128", "TORCH_SPEC": "torch"},
     "--index-url https://download.pytorch.org/whl/cu128 torch"),
], ids=["laptop-no-gpu", "mirror-serves-cpu", "nvidia-gpu", "override-default", "override-cpu", "override-url"])
def test_torch_plan(repo, gpu, version, env, expect):
    r = dev(repo, "torch-plan", gpu=gpu, version=version, **env)
    assert r.returncode == 0, r.stderr
    plan, why = r.stdout.splitlines()
    assert plan == expect, (plan, why)
    if gpu and not env:
        assert "NVIDIA GPU" in why


def test_setup_is_stamped_and_reruns_when_pyproject_changes(repo):
    r = dev(repo, "test", "-x")
    assert r.returncode == 0, r.stderr
    first = calls(repo)
    assert first == ["install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0",
                     "install -e .[test]", "-m pytest -q -x"], first
    r = dev(repo, "test-quick")
    assert r.returncode == 0 and "==>" not in r.stderr, r.stderr  # nothing to set up: silent, fast
    assert calls(repo)[3:] == ["-m pytest -q -m not slow"]
    with open(repo / "pyproject.toml", "a") as fh:
        fh.write("\n# changed\n")
    r = dev(repo, "setup")
    assert r.returncode == 0, r.stderr
    assert calls(repo)[4:] == ["install -e ."], calls(repo)  # torch is kept: it is importable now
    assert "already in .venv: kept" in r.stderr


def test_make_and_ci_run_the_dev_commands(repo):
    """`.ci/run` is `make test` then `make test-pythons`, and each is its `./dev` command."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make on this machine; .ci/run then runs ./dev test")
    fake_make = executable(repo.parent / "bin" / "make", f'#!/bin/sh\necho "make $*" >>"{repo}/make.log"\n')
    r = subprocess.run([str(repo / ".ci" / "run")], capture_output=True, text=True, timeout=60,
                       env={"PATH": f"{fake_make.parent}:{repo.parent / 'tools'}", "CI": "true"},
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert (repo / "make.log").read_text().split("\n")[:2] == ["make test", "make test-pythons"]
    # run as a top-level make even when this test itself runs under `make test` (CI), which would
    # otherwise print "make[1]: Entering directory" lines
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "ARGS"}
    dry = subprocess.run([make, "--no-print-directory", "-n", "test", "test-quick", "test-pythons",
                          "onboard"], cwd=repo, capture_output=True, text=True, timeout=30, env=env)
    assert dry.stdout.split("\n")[:4] == ["./dev test ", "./dev test-quick ", "./dev test-pythons ",
                                           "./dev onboard"], dry.stdout
