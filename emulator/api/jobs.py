"""Jobs_* (2018-05-01)."""
from __future__ import annotations

import time

from flask import Response

from .. import wire, wire_observed
from ..backend import outputs
from ..backend.common import load
from ..models import Cluster, now_iso
from .dispatch import Call, base_url, deleted, json_response, next_link, no_content, operation, skip_token

V = "2018-05-01"


def _experiment(call: Call):
    return call["subscriptionId"], call["resourceGroupName"], call["workspaceName"], call["experimentName"]


def _ids(call: Call):
    return (*_experiment(call), call["jobName"])


def _job(j):
    return wire_observed.job_2018_05(wire.job(j), j)


@operation("Jobs_Create", V)
def jobs_create(call: Call) -> Response:
    spec = wire.from_wire(call.body.get("properties") or {})
    return json_response(_job(call.ext.batchai.jobs_create(*_ids(call), spec)))


@operation("Jobs_Get", V)
def jobs_get(call: Call) -> Response:
    return json_response(_job(call.ext.batchai.jobs_get(*_ids(call))))


@operation("Jobs_Delete", V)
def jobs_delete(call: Call) -> Response:
    return deleted(call.ext.batchai.jobs_delete(*_ids(call)))


@operation("Jobs_Terminate", V)
def jobs_terminate(call: Call) -> Response:
    call.ext.batchai.jobs_terminate(*_ids(call))
    return no_content(200)


@operation("Jobs_ListByExperiment", V)
def jobs_list_by_experiment(call: Call) -> Response:
    page = call.ext.batchai.jobs_list_by_experiment(*_experiment(call), call.query["maxresults"], skip_token())
    return json_response(wire.page([_job(j) for j in page.items], next_link(page.next_token)))


@operation("Jobs_ListRemoteLoginInformation", V)
def jobs_list_remote_login_information(call: Call) -> Response:
    return json_response(wire.page(wire.to_wire(call.ext.batchai.jobs_list_remote_login_information(*_ids(call))),
                                   None))


@operation("Jobs_ListOutputFiles", V)
def jobs_list_output_files(call: Call) -> Response:
    job = call.ext.batchai.jobs_get(*_ids(call))
    return list_output_files(call, job)


def list_output_files(call: Call, job) -> Response:
    """Shared by every api-version: the entries of one output directory, paged by name."""
    ext = call.ext
    cluster, _ = load(ext.store, "cluster", Cluster, job.spec["cluster"]["id"])
    entries = outputs.list_entries(ext.settings.data_dir, cluster, job, call.query["outputdirectoryid"],
                                   call.query.get("directory", "."))
    after = skip_token()
    if after is not None:
        entries = [e for e in entries if e.name > after]
    limit = call.query["maxresults"]
    more = len(entries) > limit
    entries = entries[:limit]
    expiry = time.time() + 60 * call.query.get("linkexpiryinminutes", 60)
    root = ext.settings.data_dir
    items = []
    for e in entries:
        url = None
        if not e.is_directory:
            url = base_url() + outputs.download_path(ext.signer, root, e.host_path, e.name, expiry)
        items.append(wire.output_file(e.name, e.is_directory, url, e.size, now_iso(e.mtime), call.api_version))
    return json_response(wire.page(items, next_link(entries[-1].name if more and entries else None)))
