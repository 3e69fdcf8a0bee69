"""The Azure Blob data plane of the emulator: block blobs whose bytes are plain files under the data dir.

Endpoints: path style `http://HOST:BLOB_PORT/<account>/<container>/<blob>` on the Blob port (Azurite's layout, so a
GET of /<account>/<name>/<path> on the main ports always means a file share, and on the Blob port always a
container), and host style `Host: <account>.blob.<suffix>` on any of the emulator's ports.

Modules, from the wire inwards:
  views.py     BlobDoor middleware, blueprint: raw URI -> target, (level, verb, comp) -> operation, auth, dispatch
  handlers.py  one view per operation: headers, conditions and query in, plane call, headers and XML out
  auth.py      SharedKey (the file plane's), SharedKey Lite, account and service SAS (stored policies), anonymous
  names.py     raw-URI parsing, container and blob naming rules, which names can be paths
  plane.py     operation semantics over disk + rows, no Flask
  disk.py      the bytes: containers as directories, blobs as files, staged blocks and aside names apart
  meta.py      container and blob properties and metadata in the emulator's SQLite file
  render.py    Storage XML bodies
  crc64.py     x-ms-content-crc64

The BlobPlane lives in app.extensions["azure_blob"]; the app's wsgi_app is wrapped by BlobDoor (host style).
"""
from __future__ import annotations

from .plane import EXTENSION, BlobPlane
from .views import BlobDoor, blob_port_app, bp


@bp.record_once
def _create_plane(state) -> None:
    ext = state.app.extensions["batchai"]
    state.app.extensions[EXTENSION] = BlobPlane(ext.settings, ext.store)
    state.app.wsgi_app = BlobDoor(state.app.wsgi_app, blob_port=False)


def plane(app) -> BlobPlane:
    return app.extensions[EXTENSION]


__all__ = ["BlobPlane", "bp", "plane", "blob_port_app"]
