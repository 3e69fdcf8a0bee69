"""Public Azure as the quickstart sees it, behind `responses`: login.microsoftonline.com, management.azure.com
and <account>.file.core.windows.net.

Answers are shaped like the service's: Batch AI bodies start from the official 2018-05-01 swagger examples
(emulator/spec/2018-05-01/examples) and its creates answer 202 + Location + Retry-After like PutCluster.json;
storage accounts are created with 202 + Location and listed keys as the storage RP does; the file plane speaks
host style with SharedKey, answers range reads with 206 + Content-Range and 416 past the end; download links are
SAS URLs on the file endpoint. The job runs on a script: queued, then running while its logs grow by one chunk per
poll, then succeeded with exit code 0.
"""
from __future__ import annotations

import copy
import json
import re
import uuid
from email.utils import formatdate
from urllib.parse import parse_qsl, urlsplit

import responses

from tests.conftest import ROOT

EXAMPLES = ROOT / "emulator" / "spec" / "2018-05-01" / "examples"
ARM = "https://management.azure.com"
LOGIN = "https://login.microsoftonline.com"
BATCHAI_API = "2018-05-01"

STDERR_CHUNKS = [
    "cntk does not import (No module named 'cntk'): using the numpy backend\n",
    "Training 98778 parameters in 10 parameter tensors.\n\nLearning rate per 1 samples: 0.001\n",
    "Finished Epoch[1 of 2]: [Training] loss = 2.2 * 300, metric = 80.00% * 300 0.5s (600.0 samples/s);\n",
    "Finished Epoch[2 of 2]: [Training] loss = 1.9 * 300, metric = 60.00% * 300 0.5s (600.0 samples/s);\n",
    "\nFinal Results: Minibatch[1-2]: errs = 41.33% * 300\n",
]
EXECUTION_LOG = "job started\n"
MODEL_FILES = {"ConvNet_MNIST_0.npz": b"\x93NUMPY epoch 0", "ConvNet_MNIST_1.npz": b"\x93NUMPY epoch 1",
               "metrics.json": b'{"format": 1, "test_error": 0.4133}'}


def _example(name: str, status: str = "200") -> dict:
    return copy.deepcopy(json.loads((EXAMPLES / name).read_text())["responses"][status]["body"])


def _now() -> str:
    return "2026-11-23T12:00:00.000Z"


def _http_date() -> str:
    return formatdate(usegmt=True)


def _strip_secrets(value):
    if isinstance(value, dict):
        return {k: _strip_secrets(v) for k, v in value.items()
                if k not in ("adminUserPassword", "accountKey", "password")}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


class FakeAzure:
    def __init__(self, subscription: str, key: str = "ZmFrZS1henVyZS1zdG9yYWdlLWtleQ=="):
        self.subscription = subscription
        self.key = key
        self.resources: dict[str, dict] = {}     # lower-case ARM id -> body
        self.operations: dict[str, tuple[int, dict | None]] = {}
        self.files: dict[str, bytearray] = {}    # "/<account>/<share>/<path>" -> bytes
        self.job_gets = 0
        self.job = None                          # ARM id of the job
        self.calls: list[str] = []

    # -- wiring -------------------------------------------------------------------------------------------
    def install(self, rsps: responses.RequestsMock) -> "FakeAzure":
        for method in ("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"):
            rsps.add_callback(method, re.compile(re.escape(LOGIN) + r"/.*"), callback=self._aad, content_type=None)
            rsps.add_callback(method, re.compile(re.escape(ARM) + r"/.*"), callback=self._arm, content_type=None)
            rsps.add_callback(method, re.compile(r"https://[a-z0-9]+\.file\.core\.windows\.net/.*"),
                              callback=self._file, content_type=None)
        return self

    # -- Azure AD ------------------------------------------------------------------------------------------
    def _aad(self, request):
        path = urlsplit(request.url).path
        tenant = path.strip("/").split("/")[0]
        if path.endswith("/.well-known/openid-configuration"):
            return 200, {"content-type": "application/json"}, json.dumps({
                "token_endpoint": f"{LOGIN}/{tenant}/oauth2/v2.0/token",
                "authorization_endpoint": f"{LOGIN}/{tenant}/oauth2/v2.0/authorize",
                "issuer": f"{LOGIN}/{tenant}/v2.0", "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "tenant_region_scope": "NA"})
        if path.endswith("/oauth2/v2.0/token"):
            return 200, {"content-type": "application/json"}, json.dumps({
                "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                "access_token": "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.sig"})
        return 400, {"content-type": "application/json"}, json.dumps({"error": "invalid_request"})

    # -- Resource Manager ----------------------------------------------------------------------------------
    def _json(self, status: int, body, headers: dict | None = None):
        out = {"content-type": "application/json; charset=utf-8", "x-ms-request-id": str(uuid.uuid4()),
               **(headers or {})}
        return status, out, "" if body is None else json.dumps(body)

    def _accepted(self, result_status: int, body, provider: str, kind: str):
        op = str(uuid.uuid4())
        location = (f"{ARM}/subscriptions/{self.subscription}/providers/{provider}/locations/eastus/{kind}/{op}"
                    f"?api-version={BATCHAI_API if provider == 'Microsoft.BatchAI' else '2026-09-01'}")
        self.operations[op] = (result_status, body)
        return self._json(202, None, {"Location": location, "Retry-After": "15"})

    def _arm(self, request):
        parts = urlsplit(request.url)
        path = parts.path
        query = dict(parse_qsl(parts.query))
        body = json.loads(request.body) if request.body else None
        self.calls.append(f"{request.method} {path}")
        if request.headers.get("Authorization", "")[:7] != "Bearer ":
            return self._json(401, {"error": {"code": "AuthenticationFailed", "message": "no token"}})
        m = re.search(r"/(operationresults|asyncoperations)/([^/?]+)$", path)
        if m and request.method == "GET":
            status, result = self.operations[m.group(2)]
            return self._json(status, result)
        rid = path.lower()
        m = re.fullmatch(r"/subscriptions/[^/]+/resourcegroups/([^/]+)", path, re.I)
        if m:
            return self._resource_group(request.method, path, m.group(1), body)
        if "/providers/microsoft.storage/storageaccounts/" in rid:
            return self._storage(request.method, path, body)
        if "/providers/microsoft.batchai/" in rid:
            return self._batchai(request.method, path, query, body)
        return self._json(404, {"error": {"code": "NotFound", "message": path}})

    def _resource_group(self, method, path, name, body):
        rid = f"/subscriptions/{self.subscription}/resourceGroups/{name}"
        if method == "PUT":
            group = {"id": rid, "name": name, "type": "Microsoft.Resources/resourceGroups",
                     "location": body["location"], "properties": {"provisioningState": "Succeeded"}}
            status = 200 if rid.lower() in self.resources else 201
            self.resources[rid.lower()] = group
            return self._json(status, group)
        if method == "DELETE":
            for key in [k for k in self.resources if k.startswith(rid.lower())]:
                del self.resources[key]
            return self._accepted(200, None, "Microsoft.Resources", "operationresults")
        if method in ("GET", "HEAD"):
            found = rid.lower() in self.resources
            return self._json(200 if found else 404, self.resources.get(rid.lower()) if method == "GET" else None)
        return self._json(405, {"error": {"code": "MethodNotAllowed", "message": method}})

    def _storage(self, method, path, body):
        m = re.search(r"/resourceGroups/([^/]+)/providers/Microsoft\.Storage/storageAccounts/([^/]+)(/listKeys)?$",
                      path, re.I)
        rg, name, list_keys = m.group(1), m.group(2), m.group(3)
        rid = f"/subscriptions/{self.subscription}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
        if list_keys and method == "POST":
            return self._json(200, {"keys": [
                {"creationTime": _now(), "keyName": "key1", "value": self.key, "permissions": "FULL"},
                {"creationTime": _now(), "keyName": "key2", "value": "c2Vjb25kLWtleQ==", "permissions": "FULL"}]})
        if method == "PUT":
            endpoints = {service: f"https://{name}.{service}.core.windows.net/"
                         for service in ("blob", "dfs", "file", "queue", "table", "web")}
            account = {"id": rid, "name": name, "type": "Microsoft.Storage/storageAccounts",
                       "location": body["location"], "kind": body["kind"], "tags": {},
                       "sku": {"name": body["sku"]["name"], "tier": "Standard"},
                       "properties": {"provisioningState": "Succeeded", "creationTime": _now(),
                                      "primaryEndpoints": endpoints, "primaryLocation": body["location"],
                                      "statusOfPrimary": "available", "supportsHttpsTrafficOnly": True,
                                      "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False,
                                      "accessTier": "Hot", "encryption": {"keySource": "Microsoft.Storage"}}}
            self.resources[rid.lower()] = account
            return self._accepted(200, account, "Microsoft.Storage", "asyncoperations")
        if method == "GET" and rid.lower() in self.resources:
            return self._json(200, self.resources[rid.lower()])
        return self._json(404, {"error": {"code": "ResourceNotFound", "message": name}})

    def _batchai(self, method, path, query, body):
        m = re.search(r"/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.BatchAI/workspaces/(?P<ws>[^/]+)"
                      r"(?:/clusters/(?P<cl>[^/]+)|/experiments/(?P<ex>[^/]+)(?:/jobs/(?P<job>[^/]+)"
                      r"(?P<action>/listOutputFiles)?)?)?$", path, re.I)
        if not m or query.get("api-version") != BATCHAI_API:
            return self._json(400, {"error": {"code": "BadRequest", "message": path}})
        rid = re.sub(r"/listOutputFiles$", "", path, flags=re.I)
        if m.group("action"):
            return self._list_output_files(rid, query)
        kind = ("job" if m.group("job") else "experiment" if m.group("ex") else "cluster" if m.group("cl")
                else "workspace")
        if method == "PUT":
            resource = self._new_batchai(kind, rid, m, body or {})
            self.resources[rid.lower()] = resource
            return self._accepted(200, resource, "Microsoft.BatchAI", "operationresults")
        if method == "GET" and rid.lower() in self.resources:
            return self._json(200, self._observe(kind, rid))
        return self._json(404, {"error": {"code": f"{kind.capitalize()}NotFound", "message": rid}})

    def _new_batchai(self, kind, rid, m, body):
        name = rid.rsplit("/", 1)[1]
        if kind == "workspace":
            res = _example("PutWorkspace.json")
            res["location"] = body["location"]
        elif kind == "experiment":
            res = _example("PutExperiment.json")
        elif kind == "cluster":
            res = _example("PutCluster.json")
            props = res["properties"]
            props.update(_strip_secrets(body["properties"]))
            props.pop("subnet", None)
            props["creationTime"] = _now()
            props["nodeSetup"]["mountVolumes"].pop("fileServers", None)
            self.cluster_gets = 0
        else:
            res = _example("PutJob.json")
            props = res["properties"]
            for key in ("customToolkitSettings",):
                props.pop(key, None)
            props.update(_strip_secrets(body["properties"]))
            props.update(toolType="cntk", executionState="queued", executionInfo=None,
                         jobOutputDirectoryPathSegment=f"{self.subscription}/{m.group('rg')}/workspaces/"
                         f"{m.group('ws')}/experiments/{m.group('ex')}/jobs/{name}/{uuid.uuid4()}")
            self.job, self.job_gets = rid.lower(), 0
        res.update(id=rid, name=name)
        return res

    def _observe(self, kind, rid):
        res = self.resources[rid.lower()]
        if kind == "cluster":
            self.cluster_gets += 1
            if self.cluster_gets > 1:  # resizing on the first look, steady with an idle node after
                res["properties"].update(allocationState="steady", currentNodeCount=1, nodeStateCounts={
                    "idleNodeCount": 1, "runningNodeCount": 0, "preparingNodeCount": 0, "unusableNodeCount": 0,
                    "leavingNodeCount": 0})
        if kind == "job":
            self.job_gets += 1
            props = res["properties"]
            if self.job_gets == 1:
                props["executionState"] = "queued"
            elif self.job_gets - 1 <= len(STDERR_CHUNKS):
                props.update(executionState="running", executionInfo={"startTime": "2026-11-23T12:01:00.000Z"})
            else:
                props.update(executionState="succeeded", executionInfo={
                    "startTime": "2026-11-23T12:01:00.000Z", "endTime": "2026-11-23T12:04:00.000Z",
                    "exitCode": 0})
        return res

    # -- the job's files, as Jobs_ListOutputFiles shows them ------------------------------------------------
    def _job_files(self) -> dict[str, dict[str, bytes]]:
        job = self.resources[self.job]["properties"]
        running_rounds = max(0, self.job_gets - 1)
        if running_rounds == 0:
            return {"stdouterr": {}, "MODEL": {}}
        stderr = "".join(STDERR_CHUNKS[:running_rounds]).encode()
        done = job["executionState"] == "succeeded"
        return {"stdouterr": {"execution.log": EXECUTION_LOG.encode(), "stderr.txt": stderr, "stdout.txt": b""},
                "MODEL": dict(MODEL_FILES) if done else {}}

    def _share_path(self, directory_id: str) -> str:
        job = self.resources[self.job]["properties"]
        cluster = self.resources[job["cluster"]["id"].lower()]["properties"]
        share_url = cluster["nodeSetup"]["mountVolumes"]["azureFileShares"][0]["azureFileUrl"]
        parts = urlsplit(share_url)
        segment = job["jobOutputDirectoryPathSegment"]
        sub = "stdouterr" if directory_id == "stdouterr" else "outputs/Models"
        return f"https://{parts.netloc}{parts.path}/{segment}/{sub}"

    def _list_output_files(self, rid, query):
        directory_id = query["outputdirectoryid"]
        files = self._job_files().get(directory_id)
        if files is None:
            return self._json(400, {"error": {"code": "InvalidOutputDirectoryId", "message": directory_id}})
        base = self._share_path(directory_id)
        value = []
        for name in sorted(files):
            url = f"{base}/{name}"
            self.files[urlsplit(url).netloc + urlsplit(url).path] = bytearray(files[name])
            value.append({"name": name, "fileType": "file",
                          "downloadUrl": f"{url}?sv=2016-05-31&sr=f&sig=c2lnbmF0dXJl&se=2026-11-23T13%3A00%3A00Z&sp=rl",
                          "properties": {"lastModified": _now(), "contentLength": len(files[name])}})
        return self._json(200, {"value": value})

    # -- Azure Files --------------------------------------------------------------------------------------
    def _file(self, request):
        parts = urlsplit(request.url)
        query = dict(parse_qsl(parts.query))
        key = parts.netloc + parts.path
        headers = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-version": "2026-10-06", "ETag": '"0x8DCFAKE"',
                   "Last-Modified": _http_date()}
        if "sig" in query:  # a SAS download link
            data = bytes(self.files.get(key, b""))
            rng = request.headers.get("Range") or request.headers.get("x-ms-range")
            if rng:
                start = int(re.fullmatch(r"bytes=(\d+)-(\d*)", rng).group(1))
                if start >= len(data):
                    return 416, {**headers, "x-ms-error-code": "InvalidRange", "Content-Range": f"bytes */{len(data)}"}, \
                        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidRange</Code></Error>'
                return 206, {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}, data[start:]
            return 200, headers, data
        auth = request.headers.get("Authorization", "")
        account = parts.netloc.split(".")[0]
        if not auth.startswith(f"SharedKey {account}:"):
            return 403, {**headers, "x-ms-error-code": "AuthenticationFailed"}, b""
        if request.method == "PUT" and query.get("comp") == "range":
            start = int(re.fullmatch(r"bytes=(\d+)-(\d+)", request.headers["x-ms-range"]).group(1))
            body = request.body if isinstance(request.body, bytes) else bytes(request.body or b"")
            buf = self.files.setdefault(key, bytearray())
            buf[start:start + len(body)] = body
            return 201, {**headers, "Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, b""
        if request.method == "PUT":
            if query.get("restype") in ("share", "directory"):
                return 201, headers, b""
            self.files[key] = bytearray(int(request.headers.get("x-ms-content-length", "0")))
            return 201, headers, b""
        return 400, {**headers, "x-ms-error-code": "UnsupportedHttpVerb"}, b""

