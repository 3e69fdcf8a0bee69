"""`python -m cloud quickstart | jobs | stream | download | demo | azureml-quickstart | demo-azureml`."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

VENV_HINT = "run it with the project's environment: .venv/bin/python -m cloud ... (`make demo` creates .venv)"
from .clients import ConnectError, connect  # noqa: E402 (cloud/__init__ names .venv when this fails)
from .console import Console
from .jobref import JobRef, state_of


def _target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (one flag: without --endpoint, public Azure)")
    group.add_argument("--endpoint", default=os.environ.get("BATCHAI_ENDPOINT"),
                       help="Resource Manager URL serving /metadata/endpoints, e.g. the emulator's "
                            "https://127.0.0.1:8443 (default $BATCHAI_ENDPOINT; unset = public Azure, with "
                            "AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET)")
    group.add_argument("--ca-bundle", default=os.environ.get("BATCHAI_CA_BUNDLE"),
                       help="PEM file of the CA to trust, e.g. the emulator's <data-dir>/cert.pem "
                            "(default $BATCHAI_CA_BUNDLE, else the system's CAs and $REQUESTS_CA_BUNDLE)")


def _quickstart_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, help="folder holding Train-28x28_cntk_text.txt and "
                                                  "Test-28x28_cntk_text.txt (default: prepared with trainer.data)")
    parser.add_argument("--data-source", choices=("auto", "mnist", "offline"), default="auto",
                        help="what trainer.data prepares when --data is not given (default auto: full MNIST, "
                             "else the offline 5,000-image subset)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: the script's 40)")
    parser.add_argument("--trainer-args", default="", help="more arguments for ConvNet_MNIST.py")
    parser.add_argument("--keep", action="store_true", help="keep the resource group (default: delete it)")
    parser.add_argument("--out", type=Path, default=Path("batchai-output"),
                        help="where model files and logs are downloaded (default ./batchai-output/<job>)")
    parser.add_argument("--location", default="eastus")
    parser.add_argument("--resource-group", help="default batchaiqs-<random>")
    parser.add_argument("--storage-account", help="default derived from the subscription and resource group")
    parser.add_argument("--job-name", default="myjob")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between status polls (default 2)")


def cmd_quickstart(args, console: Console) -> int:
    from . import quickstart
    clients = connect(args.endpoint, ca_bundle=args.ca_bundle)
    try:
        summary = quickstart.run(clients, quickstart.Options.from_args(args), console)
    finally:
        clients.close()
    return 0 if summary.succeeded else 1


def _clients_by_subscription(args):
    cache = {}

    def clients_for(ref: JobRef | None):
        """ref None: the default subscription's clients (to look a short job name up)."""
        key = ref.subscription if ref is not None else None
        if key not in cache:
            cache[key] = connect(args.endpoint, ca_bundle=args.ca_bundle, subscription_id=key)
            if key is None:
                cache[cache[key].subscription_id] = cache[key]
        return cache[key]
    return clients_for, cache


def _refs(args, clients_for) -> list[JobRef]:
    """ARM ids as given; a short name is looked up with --workspace/--experiment (the quickstart's names by default)
    in --resource-group, or in every resource group that has such a workspace."""
    from .jobref import find_job
    refs = []
    for text in args.job_ids:
        if text.startswith("/"):
            refs.append(JobRef.parse(text))
        else:
            refs.append(find_job(clients_for(None), text, workspace=args.workspace, experiment=args.experiment,
                                 resource_group=args.resource_group))
    return refs


def cmd_jobs(args, console: Console) -> int:
    from .jobref import iter_jobs
    clients = connect(args.endpoint, ca_bundle=args.ca_bundle)
    try:
        count = 0
        for ref, job in iter_jobs(clients, resource_group=args.resource_group):
            code = getattr(job.execution_info, "exit_code", None)
            console.line(f"{ref.job:<24} {state_of(job):<10} {'' if code is None else f'exit {code}':<8} {ref.id}")
            count += 1
        if not count:
            console.line("no jobs")
    finally:
        clients.close()
    return 0


def cmd_stream(args, console: Console) -> int:
    from .stream import follow
    clients_for, cache = _clients_by_subscription(args)
    try:
        refs = _refs(args, clients_for)
        jobs = follow(clients_for, refs, console.line, poll=args.poll)
    finally:
        for c in {id(c): c for c in cache.values()}.values():
            c.close()
    failed = 0
    for ref, job in zip(refs, jobs):
        code = getattr(job.execution_info, "exit_code", None)
        console.line(f"{ref.job}: {state_of(job)}" + ("" if code is None else f", exit code {code}"))
        failed += state_of(job) != "succeeded"
    return 1 if failed else 0


def cmd_download(args, console: Console) -> int:
    from .quickstart import finish
    clients_for, cache = _clients_by_subscription(args)
    try:
        refs = _refs(args, clients_for)
        for ref in refs:
            clients = clients_for(ref)
            job = clients.batchai.jobs.get(*ref.args)
            summary = finish(clients, ref, job, console, args.out / ref.job,
                             target=f"{clients.cloud.name} ({clients.cloud.resource_manager})")
            for text in summary.lines():
                console.line(text)
    finally:
        for c in {id(c): c for c in cache.values()}.values():
            c.close()
    return 0


def cmd_demo(args, console: Console) -> int:
    from . import demo
    return demo.main(args, console)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _azureml_options(parser: argparse.ArgumentParser) -> None:
    from .azureml_quickstart import Options
    d = Options()
    ws = parser.add_argument_group("workspace (default: config.json as Workspace.from_config finds it)")
    ws.add_argument("--config", type=Path, help="config.json, or a folder holding it (or .azureml/config.json)")
    ws.add_argument("--workspace-name", help="get this workspace, creating it (and its resource group) when "
                                             "missing, and write its config.json into --out")
    ws.add_argument("--subscription-id", default=os.environ.get("AZURE_SUBSCRIPTION_ID"),
                    help="with --workspace-name (default $AZURE_SUBSCRIPTION_ID)")
    ws.add_argument("--resource-group", help="with --workspace-name")
    ws.add_argument("--location", default=d.location, help=f"with --workspace-name (default {d.location})")
    parser.add_argument("--experiment", default=d.experiment, help=f"default {d.experiment}")
    parser.add_argument("--cluster", default=d.cluster, help=f"AmlCompute name (default {d.cluster})")
    parser.add_argument("--vm-size", default=d.vm_size, help=f"when the cluster is created (default {d.vm_size})")
    parser.add_argument("--max-nodes", type=_positive_int, default=d.max_nodes, help=f"default {d.max_nodes}")
    parser.add_argument("--epochs", type=_positive_int, default=d.epochs,
                        help=f"script parameter (default {d.epochs})")
    parser.add_argument("--batchsize", type=_positive_int, default=d.batchsize,
                        help=f"script parameter (default {d.batchsize})")
    parser.add_argument("--model-name", default=d.model_name, help=f"default {d.model_name}")
    parser.add_argument("--out", type=Path, default=d.out,
                        help=f"project folder, downloaded model, written config.json (default ./{d.out})")
    parser.add_argument("--poll", type=float, default=d.poll, help=f"seconds between polls (default {d.poll:g})")


def azureml_options(args):
    from .azureml_quickstart import Options
    return Options(config=args.config, workspace=args.workspace_name, subscription_id=args.subscription_id,
                   resource_group=args.resource_group, location=args.location, experiment=args.experiment,
                   cluster=args.cluster, vm_size=args.vm_size, max_nodes=args.max_nodes, epochs=args.epochs,
                   batchsize=args.batchsize, model_name=args.model_name, out=args.out, poll=args.poll)


def cmd_azureml_quickstart(args, console: Console) -> int:
    from . import azureml_quickstart
    summary = azureml_quickstart.run(azureml_options(args), console)
    return 0 if summary.succeeded else 1


def cmd_demo_azureml(args, console: Console) -> int:
    from . import azureml_demo
    return azureml_demo.main(args, console)


JOB_HELP = ("the job's ARM id, or its name (found with --workspace and --experiment, in --resource-group or in any "
            "resource group; `python -m cloud jobs` lists them)")


def _job_name_options(parser: argparse.ArgumentParser) -> None:
    from .quickstart import Options
    parser.add_argument("--workspace", default=Options.workspace, help=f"for a job name (default {Options.workspace})")
    parser.add_argument("--experiment", default=Options.experiment,
                        help=f"for a job name (default {Options.experiment})")
    parser.add_argument("--resource-group", help="for a job name (default: any that has the workspace)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cloud", description="Submission side of the Batch AI "
                                     "quickstart: the same code for the emulator and for Azure.")
    sub = parser.add_subparsers(dest="command", required=True)
    qs = sub.add_parser("quickstart", help="the whole Batch AI CNTK quickstart, with live logs and a summary")
    _target_options(qs)
    _quickstart_options(qs)
    qs.set_defaults(func=cmd_quickstart)
    st = sub.add_parser("stream", help="follow the stdout/stderr of existing jobs until they end")
    _target_options(st)
    st.add_argument("job_ids", nargs="+", metavar="JOB", help=JOB_HELP)
    _job_name_options(st)
    st.add_argument("--poll", type=float, default=2.0)
    st.set_defaults(func=cmd_stream)
    dl = sub.add_parser("download", help="download the output directories and logs of existing jobs")
    _target_options(dl)
    dl.add_argument("job_ids", nargs="+", metavar="JOB", help=JOB_HELP)
    _job_name_options(dl)
    dl.add_argument("--out", type=Path, default=Path("batchai-output"),
                    help="default ./batchai-output/<job> (replaced whole by each download)")
    dl.set_defaults(func=cmd_download)
    jb = sub.add_parser("jobs", help="list the jobs of every workspace (name, state, exit code, ARM id)")
    _target_options(jb)
    jb.add_argument("--resource-group", help="only this resource group")
    jb.set_defaults(func=cmd_jobs)
    de = sub.add_parser("demo", help="start a local emulator, run the quickstart against it, stop it")
    from .demo import add_arguments
    add_arguments(de)
    _quickstart_options(de)
    de.set_defaults(func=cmd_demo, out=Path("demo-output"), data_source="offline")
    aq = sub.add_parser("azureml-quickstart", help="the Azure ML Chainer estimator flow (run it with "
                        ".venv-azureml/bin/python; azureml-core's environment picks the cloud)")
    _azureml_options(aq)
    aq.set_defaults(func=cmd_azureml_quickstart)
    da = sub.add_parser("demo-azureml", help="start a local emulator, run azureml-quickstart against it, stop it")
    from .azureml_demo import add_arguments as add_azureml_demo_arguments
    add_azureml_demo_arguments(da)
    _azureml_options(da)
    da.set_defaults(func=cmd_demo_azureml, out=Path("demo-azureml-output"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    # DefaultAzureCredential logs a warning per credential it tried (about 20 lines) before it raises: the one
    # line below says what to do instead
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)
    try:
        return args.func(args, console)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith(("azure", "msal", "requests")):
            raise
        console.line(f"error: {exc.name} is not installed for {sys.executable}; {VENV_HINT}")
        return 2
    except ConnectError as exc:
        console.line(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        console.line("interrupted")
        return 130
    except Exception as exc:  # an SDK error: show its message, not a traceback
        from azure.core.exceptions import AzureError, ClientAuthenticationError
        if isinstance(exc, ClientAuthenticationError) and not getattr(args, "endpoint", None):
            console.line("error: no Azure credentials found for public Azure (no --endpoint given); for the emulator "
                         "pass --endpoint https://127.0.0.1:8443 --ca-bundle <data-dir>/cert.pem "
                         "(or set BATCHAI_ENDPOINT)")
            return 2
        from .azureml_quickstart import AzureMLQuickstartError
        from .quickstart import QuickstartError
        if isinstance(exc, (AzureError, QuickstartError, AzureMLQuickstartError, ValueError)) \
                or type(exc).__module__.startswith("azureml."):
            # azureml's exceptions carry the message apart from a long JSON dump
            console.line(f"error: {exc.__class__.__name__}: {getattr(exc, 'message', None) or exc}")
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
