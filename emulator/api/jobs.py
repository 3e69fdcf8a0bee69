"""Jobs_* (2018-05-01)."""
from __future__ import annotations

from flask import Response

from .. import wire, wire_observed
from ..models import now_iso
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
    page = ext.batchai.jobs_list_output_files(job, ext.signer, call.query["outputdirectoryid"],
                                              call.query.get("directory", "."), skip_token(),
                                              call.query["maxresults"], call.query.get("linkexpiryinminutes", 60))
    items = [wire.output_file(f.name, f.is_directory, base_url() + f.link if f.link else None,
                              f.size, now_iso(f.mtime), call.api_version) for f in page.items]
    return json_response(wire.page(items, next_link(page.next_token)))
