"""The `batchai-emulator` command: `serve`, and small admin verbs."""
from __future__ import annotations

import argparse
import errno
import os
import shutil
import signal
import sqlite3
import sys

from . import vmsizes
from .settings import DEFAULT_STORAGE_ACCOUNT, DEFAULT_STORAGE_KEY, Settings
from .store import StoreFull
from .version import __version__

# below this many free bytes a SQLite failure to open is put down to the full disk (its shared-memory file
# alone needs 32 KiB)
FULL_DISK = 1 << 20


def _public_urls(urls: list[str] | None) -> dict[str, str]:
    out = {}
    for url in urls or []:
        scheme = url.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            print(f"batchai-emulator: --public-url expects an http:// or https:// URL, got {url!r}", file=sys.stderr)
            raise SystemExit(2)
        out[f"public_{scheme}_url"] = url.rstrip("/")
    return out


def _serve(args) -> int:
    from .server import EmulatorServer
    settings = Settings.from_env(host=args.host, port=args.port, https_port=args.https_port,
                                 blob_port=args.blob_port, data_dir=args.data_dir,
                                 allocation_delay=args.allocation_delay,
                                 storage_accounts=args.storage_account or None, executor=args.executor,
                                 slurm_partition=args.slurm_partition, slurm_containers=args.slurm_containers,
                                 gpus=args.gpus, image_map=args.image_map or None, vm_sizes=args.vm_size or None,
                                 keep_containers=True if args.keep_containers else None,
                                 allow_reset=True if args.allow_reset else None,
                                 strict_auth=True if args.strict_auth else None,
                                 azureml_proxy_port=args.azureml_proxy_port,
                                 azureml_pip_index=args.azureml_pip_index, files_copy_rate=args.files_copy_rate,
                                 client_secrets=args.client_secret or None, **_public_urls(args.public_url))
    try:
        settings.accounts()
        settings.image_map_dict()
        vmsizes.add(settings.vm_sizes)
        settings.client_secrets_dict()
    except ValueError as exc:
        print(f"batchai-emulator: {exc}", file=sys.stderr)
        return 2
    from .datadir_lock import DataDirInUse, DataDirLock
    lock = DataDirLock(settings.data_dir)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except DataDirInUse as exc:
        print(f"batchai-emulator: {exc}", file=sys.stderr)
        return 2
    except OSError:
        pass   # a data dir that cannot be written: EmulatorServer's check says why
    try:
        server = EmulatorServer(settings)
    except (RuntimeError, ValueError) as exc:
        print(f"batchai-emulator: {exc}", file=sys.stderr)
        return 2
    except (sqlite3.DatabaseError, OSError, StoreFull) as exc:  # a damaged emulator.db, a full disk
        print(f"batchai-emulator: {_state_error(settings.data_dir, exc)}", file=sys.stderr)
        return 2
    # a signal handler runs on the main thread between two bytecodes, possibly inside the very wait it is to end:
    # it must take no lock (Event.set inside Event.wait deadlocked when SIGTERM came twice, from make and from its
    # process group), so it writes a byte to a pipe the main thread reads
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def request_stop(*_) -> None:
        try:
            os.write(wake_w, b"x")
        except OSError:
            pass    # the pipe is full: a stop is already requested

    for sig in (signal.SIGINT, signal.SIGTERM):  # before the ports open: a stop request is never lost
        signal.signal(sig, request_stop)
    try:
        server.start()
    except OSError as exc:
        hint = ""
        if exc.errno == errno.EADDRINUSE or "already in use" in str(exc):
            hint = (f" (ports asked for: --port {settings.port} --https-port {settings.https_port} --blob-port "
                    f"{settings.blob_port}). Another program (or another emulator) holds the port: stop it, try "
                    "another port, or pass --port 0 --https-port 0 for free ports (the banner names them)")
        print(f"batchai-emulator: cannot listen: {exc}{hint}", file=sys.stderr)
        return 1
    out = sys.stdout
    print(f"Batch AI emulator listening on {server.http_url} (HTTP) and {server.https_url} (HTTPS)", file=out)
    print(f"  blob:         {server.blob_url} (Blob endpoint, path style /<account>/<container>/<blob>)", file=out)
    print(f"  data dir:     {settings.data_dir}", file=out)
    cert_note = "created" if server.cert_created else "reused"
    print(f"  certificate:  {server.cert} ({cert_note}); trust it with", file=out)
    print(f"                export REQUESTS_CA_BUNDLE={server.cert} SSL_CERT_FILE={server.cert}", file=out)
    for name, key in settings.accounts().items():
        # only the documented well-known development key is printed: a key you chose is a secret
        shown = f" key {key}" if (name, key) == (DEFAULT_STORAGE_ACCOUNT, DEFAULT_STORAGE_KEY) else ""
        default = " (default)" if name == DEFAULT_STORAGE_ACCOUNT else ""
        print(f"  storage:      account {name}{default}{shown}", file=out)
        print(f"                FileEndpoint={server.http_url}/{name}", file=out)
        print(f"                BlobEndpoint={server.blob_url}/{name}", file=out)
    if settings.allow_reset:
        print("  reset:        POST /_emulator/reset wipes all state (--allow-reset)", file=out)
    print(f"  dashboard:    {server.http_url}/", file=out)
    relays = getattr(server.app.extensions.get("azureml"), "relays", None)
    if relays is not None and relays.proxy is not None:
        print(f"  azure ml:     blob proxy http://127.0.0.1:{relays.proxy.port}; point a shell at the emulator with",
              file=out)
        print(f'                eval "$(batchai-emulator env --data-dir {settings.data_dir} --azureml)"', file=out)
    if settings.strict_auth:
        print("  auth:         --strict-auth: only tokens from this emulator's AAD endpoints are accepted", file=out)
    if settings.client_secrets:
        print(f"  auth:         tokens only for the {len(settings.client_secrets)} client(s) given with "
              "--client-secret", file=out)
    for url in (settings.public_http_url, settings.public_https_url):
        if url:
            print(f"  links:        written with {url} (--public-url)", file=out)
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"  WARNING: listening on {settings.host}, not only on loopback: anyone who can reach this machine "
              "can use the emulator.", file=out)
    if server.space_warning:
        print(f"  WARNING: {server.space_warning}.", file=out)
    scheduler = server.ext.scheduler
    gpu_warning = scheduler.gpus.warning() if scheduler.handoff is None else None
    if gpu_warning:
        print(f"  WARNING: {gpu_warning}.", file=out)
    if scheduler.executor is not None:
        # an executor that queues jobs itself (Slurm) gives each node its own GPUs (gres), not this machine's
        gpus = "GPUs per node from Slurm (gres)" if scheduler.handoff is not None else scheduler.gpus.describe()
        print(f"  jobs:         {scheduler.executor.describe()}; {gpus}", file=out)
        for src, dst in settings.image_map_dict().items():
            print(f"                image {src} -> {dst}", file=out)
    else:
        print("  jobs:         not executed (--executor none): they stay queued", file=out)
    out.flush()
    os.read(wake_r, 1)     # until SIGINT or SIGTERM
    print("Stopping the Batch AI emulator...", file=out, flush=True)
    server.stop()
    lock.release()
    return 0


def _state_error(data_dir, exc: Exception) -> str:
    """Why the state in `data_dir` cannot be opened. On a full disk SQLite says only "disk I/O error" (it
    cannot make its shared-memory file) or "database or disk is full": name the disk instead."""
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError:
        free = None
    full = isinstance(exc, StoreFull) or getattr(exc, "errno", None) == errno.ENOSPC \
        or getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    if full or (free is not None and free < FULL_DISK and isinstance(exc, sqlite3.OperationalError)):
        return (f"cannot open the emulator's state: the disk holding the data dir {data_dir} is full "
                f"({(free or 0) >> 10} KiB free). Free some space on it (or give --data-dir another disk) and "
                "start the emulator again; nothing stored was changed.")
    return f"cannot open the emulator's state in {data_dir}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="batchai-emulator", description="Local emulator of Azure Batch AI.")
    parser.add_argument("--version", action="version", version=f"batchai-emulator {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the ARM, Batch AI and Azure Files endpoints")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; BATCHAI_EMULATOR_HOST)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8080; 0 picks a free one; BATCHAI_EMULATOR_PORT)")
    serve.add_argument("--https-port", type=int, help="HTTPS port (default 8443; BATCHAI_EMULATOR_HTTPS_PORT)")
    serve.add_argument("--blob-port", type=int,
                       help="the Blob endpoint's HTTP port (default 10000, or a free port when that is taken; 0 "
                            "picks a free one; BATCHAI_EMULATOR_BLOB_PORT)")
    serve.add_argument("--data-dir", help="where state, shares and the certificate live "
                                          "(default ~/.batchai-emulator; BATCHAI_EMULATOR_DATA_DIR)")
    serve.add_argument("--allocation-delay", type=float,
                       help="seconds a cluster stays resizing (default 1; BATCHAI_EMULATOR_ALLOCATION_DELAY)")
    serve.add_argument("--storage-account", action="append", metavar="NAME:KEY[:SKU]",
                       help="a storage account to serve (repeatable; replaces the default account); SKU Premium_LRS "
                            "makes it a premium FileStorage account (NFS and provisioned shares)")
    serve.add_argument("--executor", choices=["auto", "docker", "local", "slurm", "none"],
                       help="how jobs run: auto (Docker when an engine answers, else local processes; default), "
                            "docker, local, slurm (on a Slurm cluster's partition), or none (jobs stay queued); "
                            "BATCHAI_EMULATOR_EXECUTOR")
    serve.add_argument("--slurm-partition", metavar="NAME",
                       help="--executor slurm: the partition clusters are placed on (BATCHAI_EMULATOR_SLURM_PARTITION)")
    serve.add_argument("--slurm-containers", choices=["docker", "none"],
                       help="--executor slurm: jobs with containerSettings run in a Docker container per node "
                            "(docker, default) or, where the nodes have no Docker, as node processes with the image "
                            "ignored (none); BATCHAI_EMULATOR_SLURM_CONTAINERS")
    serve.add_argument("--gpus", help="auto (NVML/nvidia-smi; default), none (CPU-only nodes) or device ids such "
                                      "as 0,1; BATCHAI_EMULATOR_GPUS")
    serve.add_argument("--image-map", action="append", metavar="FROM=TO",
                       help="run image TO where a job asks for FROM (repeatable), e.g. the quickstart's CNTK GPU "
                            "image -> batchai-emulator/trainer-cpu:latest")
    serve.add_argument("--vm-size", action="append", metavar="NAME:GPUS:CPUS:MEM_GB",
                       help="a VM size clusters may use beyond the built-in table (repeatable), e.g. "
                            "Standard_NC4as_T4_v3:1:4:28; BATCHAI_EMULATOR_VM_SIZES (comma-separated)")
    serve.add_argument("--keep-containers", action="store_true",
                       help="keep finished jobs' containers for inspection (deleting the job removes them)")
    serve.add_argument("--strict-auth", action="store_true",
                       help="accept only bearer tokens issued by the emulator's own AAD endpoints (signed with its "
                            "key, not expired); default: any well-formed bearer token")
    serve.add_argument("--azureml-proxy-port", type=int,
                       help="port of the HTTPS proxy that brings <account>.blob.core.windows.net and "
                            "<account>.file.core.windows.net to the Blob and Files planes (Azure ML clients, the Files "
                            "SDK on the service's URLs; default the HTTPS port + 1; 0 picks a free one; "
                            "BATCHAI_EMULATOR_AZUREML_PROXY_PORT)")
    serve.add_argument("--files-copy-rate", type=int, metavar="BYTES_PER_S",
                       help="speed of a pending (background) Copy File between accounts, which Abort Copy can stop "
                            "while it runs (default 64 MiB/s; BATCHAI_EMULATOR_FILES_COPY_RATE)")
    serve.add_argument("--azureml-pip-index", metavar="URL|DIR",
                       help="install Azure ML runs' pip packages from this package index (or directory of wheels) "
                            "before their script; default: recorded in the run's log, not installed "
                            "(BATCHAI_EMULATOR_AZUREML_PIP_INDEX)")
    serve.add_argument("--client-secret", action="append", metavar="CLIENT_ID:SECRET",
                       help="a service principal the AAD token endpoints accept (repeatable); without any, every "
                            "client id and secret gets a token. BATCHAI_EMULATOR_CLIENT_SECRETS")
    serve.add_argument("--public-url", action="append", metavar="URL",
                       help="base URL written into links (nextLink, downloadUrl, file endpoints, token issuer) for "
                            "its scheme, e.g. https://emulator:8443 behind a proxy or under a container name "
                            "(repeatable, one per scheme); default: the bound address")
    serve.add_argument("--allow-reset", action="store_true",
                       help="accept POST /_emulator/reset, which wipes all state (resources, shares, blobs, job "
                            "directories; running jobs are stopped): for test suites (BATCHAI_EMULATOR_ALLOW_RESET)")
    serve.add_argument("-v", "--verbose", action="store_true",
                       help="more detail on the console (the emulator's DEBUG lines; never the docker SDK's)")
    serve.add_argument("--log-format", choices=["text", "json"], default="text",
                       help="console lines as text (default) or one JSON object per line")
    env = sub.add_parser("env", help="print the export lines a shell needs to use the emulator (CA variables; with "
                                     "--azureml everything azureml-core needs)")
    env.add_argument("--data-dir", help="the data dir of the emulator to use (default ~/.batchai-emulator; "
                                        "BATCHAI_EMULATOR_DATA_DIR)")
    env.add_argument("--azureml", action="store_true", help="also the Azure ML variables: cloud metadata, MSI "
                                                            "token endpoint, the proxy for blob host names")
    args = parser.parse_args(argv)
    if args.command == "env":
        from .azureml.envcmd import main as env_main
        return env_main(args)
    from .console import setup_logging
    setup_logging(verbose=getattr(args, "verbose", False), fmt=getattr(args, "log_format", "text"))
    if args.command == "serve":
        return _serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
