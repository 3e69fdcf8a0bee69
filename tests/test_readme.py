"""The README, literally: its code blocks are extracted and checked as far as a test can without a fresh machine.

* every ```python block names its environment in its first comment (`.venv`, `.venv-sdk2018`, ...; default
  `.venv`), compiles, and each module it imports resolves in that environment;
* a block that talks HTTPS to the emulator trusts its certificate (names cert.pem);
* every ```sh block parses (`bash -n`); each `python -m cloud` runs from `.venv/bin/python` (or `.venv-azureml`);
  each `.venv*/bin/<tool>` is one `make install` makes; each `make <target>` exists; each command that sends
  https:// to the emulator passes the CA (`--ca-bundle`, BATCHAI_CA_BUNDLE or REQUESTS_CA_BUNDLE in the block);
* `make run` serves with the demo's image map (run for real on free ports: its banner shows the mapping).
"""
from __future__ import annotations

import ast
import os
import re
import signal
import subprocess

import pytest

from tests.conftest import ROOT
from tests.served import free_port

README = (ROOT / "README.md").read_text()
BLOCKS = [(m.group(1), m.group(2), README[:m.start()].count("\n") + 1)
          for m in re.finditer(r"^```(\w*)\n(.*?)^```", README, re.M | re.S)]
PYTHON = [(code, line) for lang, code, line in BLOCKS if lang == "python"]
SHELL = [(code, line) for lang, code, line in BLOCKS if lang in ("sh", "bash", "shell")]
MAKEFILE = (ROOT / "Makefile").read_text()
# the environments `make install` makes (Makefile variables), and their tools
VENVS = set(re.findall(r"^\w+\s*:?=\s*(\.venv[\w-]*)\s*$", MAKEFILE, re.M))


def _venv_of(code: str) -> str:
    first = code.lstrip().splitlines()[0]
    m = re.match(r"#\s*(\.venv[\w-]*)", first)
    return m.group(1) if m else ".venv"


def _imports(code: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module)
    return names


def test_the_readme_has_the_blocks_this_test_reads():
    assert len(PYTHON) >= 4 and len(SHELL) >= 8
    assert {".venv", ".venv-sdk2018", ".venv-azcli"} <= VENVS, VENVS


@pytest.mark.parametrize("code,line", PYTHON, ids=[f"README.md:{line}" for _, line in PYTHON])
def test_python_block_compiles_and_its_imports_resolve_in_its_venv(code, line):
    compile(code, f"README.md:{line}", "exec")
    venv = _venv_of(code)
    assert venv in VENVS, f"README.md:{line} names {venv}, which make install does not make"
    python = ROOT / venv / "bin" / "python"
    assert python.exists(), f"{python}: run make install"
    modules = _imports(code) or ["sys"]   # a test function using fixtures only imports nothing
    probe = ("import importlib.util, sys\nmissing = [m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]"
             "\nprint(' '.join(missing))")
    proc = subprocess.run([str(python), "-c", probe, *modules], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert proc.returncode == 0 and not proc.stdout.strip(), \
        f"README.md:{line}: not importable in {venv}: {proc.stdout or proc.stderr}"
    # every name used is defined in the block, imported, or a builtin
    tree = ast.parse(code)
    bound = {a.asname or a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
             for a in n.names}
    bound |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    bound |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    bound |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    import builtins
    assert used <= bound | set(dir(builtins)), f"README.md:{line}: undefined {sorted(used - bound - set(dir(builtins)))}"
    if "https://127.0.0.1" in code:
        assert "cert.pem" in code, f"README.md:{line} talks HTTPS to the emulator without trusting its certificate"


@pytest.mark.parametrize("code,line", SHELL, ids=[f"README.md:{line}" for _, line in SHELL])
def test_shell_block_parses_and_names_what_exists(code, line):
    proc = subprocess.run(["bash", "-n"], input=code, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"README.md:{line}: {proc.stderr}"
    joined = code.replace("\\\n", " ")
    for m in re.finditer(r"(\S*)python3? -m cloud\b", joined):
        assert m.group(1) in (".venv/bin/", ".venv-azureml/bin/"), \
            f"README.md:{line}: `{m.group(0)}`: python -m cloud needs the project's environment (.venv/bin/python)"
    for venv, tool in re.findall(r"(\.venv[\w-]*)/bin/([\w.-]+)", joined):
        assert venv in VENVS, f"README.md:{line}: {venv} is not made by make install"
        if (ROOT / venv).exists():
            assert (ROOT / venv / "bin" / tool).exists(), f"README.md:{line}: {venv}/bin/{tool} does not exist"
    targets = set(re.findall(r"^([\w-]+):", MAKEFILE, re.M))
    for target in re.findall(r"(?:^|[;&|]\s*|sudo )make ([\w-]+)", joined, re.M):
        assert target in targets, f"README.md:{line}: no `make {target}`"
    for command in joined.splitlines():
        if re.search(r"https://(127\.0\.0\.1|localhost)", command) and not command.lstrip().startswith("#"):
            trusted = re.search(r"--ca-bundle|BATCHAI_CA_BUNDLE|REQUESTS_CA_BUNDLE|export BATCHAI_ENDPOINT", joined)
            assert trusted, f"README.md:{line}: `{command.strip()}` sends HTTPS without the emulator's CA"


def test_make_run_serves_with_the_demos_image_map(tmp_path):
    from cloud.demo import CPU_IMAGE
    from cloud.quickstart import CNTK_IMAGE
    port, https_port = free_port(), free_port()
    args = (f"--port {port} --https-port {https_port} --blob-port 0 --data-dir {tmp_path / 'data'} "
            "--executor local --gpus none")
    log = tmp_path / "make-run.log"
    with open(log, "wb") as out:
        # the recipe itself, not its prerequisite (make install is the environment this test runs in)
        proc = subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.installed-run", "run",
                                 f"ARGS={args}"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        import time
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "image " not in log.read_text() and proc.poll() is None:
            time.sleep(0.2)
        text = log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            # a stop waits for the scheduler's tick (up to 30 s) and each server (a few s): on a loaded 2-core CI
            # machine 30 s once was not enough
            proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            raise AssertionError("make run did not stop within 120 s of SIGTERM:\n" + log.read_text())
    assert f"image {CNTK_IMAGE} -> {CPU_IMAGE}" in text, text
    assert f"https://127.0.0.1:{https_port}" in text, text
