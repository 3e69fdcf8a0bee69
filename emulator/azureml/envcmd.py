"""`batchai-emulator env [--data-dir D] [--azureml]`: the `export` lines a shell needs to use the emulator serving
D, so that `eval "$(batchai-emulator env --azureml)"` is the one step before unchanged Azure ML code.

Ports come from D/azureml/endpoints.json, which a running emulator writes when it starts (else the defaults of
the settings: the flags' variables are honoured). Always the CA variables (the emulator's certificate, which also
signs the proxy's storage certificate); with --azureml: the cloud metadata URL and cloud name azureml-core reads,
the MSI-style token endpoint, the HTTPS proxy for `<account>.blob.<suffix>` with NO_PROXY for the emulator itself,
and AZURE_CONFIG_DIR inside D (azureml-core caches the cloud's endpoints there: a cache per emulator).
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from ..settings import Settings


def lines(data_dir: str | None, azureml: bool) -> list[str]:
    settings = Settings.from_env(data_dir=data_dir)
    d = settings.data_dir
    try:
        ports = json.loads((d / "azureml" / "endpoints.json").read_text())
    except (OSError, ValueError):
        proxy = settings.azureml_proxy_port if settings.azureml_proxy_port > 0 else settings.https_port + 1
        ports = {"http_port": settings.port, "https_port": settings.https_port, "proxy_port": proxy,
                 "host": settings.host}
    host = ports.get("host") or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    https = f"https://{host}:{ports['https_port']}"
    cert = str(d / "cert.pem")
    out = [f"export REQUESTS_CA_BUNDLE={shlex.quote(cert)}", f"export SSL_CERT_FILE={shlex.quote(cert)}"]
    if azureml:
        from ..api.aad import CLOUD_NAME
        proxy = f"http://127.0.0.1:{ports['proxy_port']}"
        no_proxy = "127.0.0.1,localhost" + ("" if host in ("127.0.0.1", "localhost") else f",{host}")
        out += [f"export ARM_CLOUD_METADATA_URL={shlex.quote(https + '/metadata/endpoints?api-version=2019-05-01')}",
                f"export AZUREML_CURRENT_CLOUD={CLOUD_NAME}",
                f"export MSI_ENDPOINT={shlex.quote(https + '/azureml/msi/token')}",
                f"export HTTPS_PROXY={proxy} https_proxy={proxy}",
                f"export NO_PROXY={no_proxy} no_proxy={no_proxy}",
                f"export AZURE_CONFIG_DIR={shlex.quote(str(Path(d) / 'azureml' / 'azure-config'))}"]
    return out


def main(args) -> int:
    print("\n".join(lines(args.data_dir, args.azureml)))
    return 0
