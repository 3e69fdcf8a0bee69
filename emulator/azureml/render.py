"""Run history bodies as azureml-core's own models read them (azureml/_restclient/models: RunDto,
RunDetailsDto, ExperimentDto, ArtifactDto...)."""
from __future__ import annotations


def run_dto(body: dict, ws_id: str, base: str, run_number: int = 1) -> dict:
    exp = body["experiment_name"]
    run_id = body["run_id"]
    execution = f"{base}/execution/v1.0{ws_id}/experiments/{exp}/runId/{run_id}"
    return {
        "runNumber": run_number, "rootRunId": run_id, "experimentId": body["experiment_id"],
        "createdUtc": body["created_utc"], "userId": "00000000-0000-0000-0000-00000000e000", "token": None,
        "tokenExpiryTimeUtc": None, "runId": run_id, "parentRunId": body.get("parent_run_id"),
        "status": body["status"], "startTimeUtc": body.get("start_time_utc"), "endTimeUtc": body.get("end_time_utc"),
        "heartbeatEnabled": False, "options": {"generateDataContainerIdIfNotSpecified": True},
        "name": body.get("name"), "displayName": body.get("display_name") or run_id,
        "dataContainerId": f"dcid.{run_id}", "description": body.get("description"), "hidden": False,
        "runType": body.get("run_type"), "runUuid": body["run_uuid"], "rootRunUuid": body["run_uuid"],
        "parentRunUuid": None, "properties": body.get("properties") or {}, "scriptName":
            (body.get("definition") or {}).get("script"), "target": body.get("target"),
        "tags": body.get("tags") or {}, "runDefinition": body.get("definition"), "primaryMetricName": None,
        "createdFrom": None, "createdBy": {"userObjectId": "00000000-0000-0000-0000-00000000e000",
                                           "userTenantId": "00000000-0000-0000-0000-00000000e111",
                                           "userName": "emulator"},
        "cancelUri": f"{execution}/cancel" if body.get("definition") else None,
        "completeUri": None, "diagnosticsUri": None, "error": body.get("error"),
        "warnings": body.get("warnings") or [], "queueingInfo": None,
    }


def run_details(body: dict, log_files: dict[str, str]) -> dict:
    return {"runId": body["run_id"], "target": body.get("target"), "status": body["status"],
            "startTimeUtc": body.get("start_time_utc"), "endTimeUtc": body.get("end_time_utc"), "services": {},
            "error": body.get("error"), "warnings": body.get("warnings") or [],
            "properties": body.get("properties") or {}, "inputDatasets": [], "outputDatasets": [],
            "runDefinition": body.get("definition"), "logFiles": log_files}


def experiment_dto(exp: dict) -> dict:
    return {k: exp.get(k) for k in ("experimentId", "name", "description", "createdUtc", "archivedTime", "tags")}


def content_info(origin: str, container: str, path: str, url: str) -> dict:
    return {"contentUri": url, "origin": origin, "container": container, "path": path}


def artifact(origin: str, container: str, path: str, created: str) -> dict:
    return {"artifactId": f"{origin}/{container}/{path}", "origin": origin, "container": container, "path": path,
            "etag": None, "createdTime": created, "dataPath": None}
