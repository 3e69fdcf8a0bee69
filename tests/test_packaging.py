"""Lean packaging: the emulator installs and imports without the submission side's SDKs or numpy, and
`make install` gives the versions constraints.txt pins."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("azure", "numpy", "msrest", "adal", "msal")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower()


def test_core_dependencies_hold_no_sdk_and_no_numpy():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [_name(r) for r in project["dependencies"]]
    assert names, "the emulator's dependencies are empty"
    assert not [n for n in names if n.startswith(HEAVY)], names
    extras = project["optional-dependencies"]
    assert any(_name(r) == "azure-mgmt-batchai" for r in extras["cloud"])
    assert any(_name(r) == "numpy" for r in extras["trainer"])


def test_serving_imports_no_sdk_and_no_numpy(tmp_path):
    """Everything `batchai-emulator serve` imports to build the app and its runner."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from emulator.__main__ import main\n"
        "from emulator import create_app\n"
        "from emulator.settings import Settings\n"
        f"app = create_app(Settings(data_dir=Path({str(tmp_path)!r}), executor='none'))\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0].startswith({HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_installed_versions_are_the_pinned_ones():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#") and "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    assert len(pins) > 20
    drift = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # a pin of a platform-only dependency
        if installed != version:
            drift[name] = (installed, version)
    assert not drift, f"installed (left) differs from constraints.txt (right): {drift}"


def test_readme_resource_client_import_works():
    from azure.mgmt.resource import ResourceManagementClient  # noqa: F401  the README's and SDK samples' import
