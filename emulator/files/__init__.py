"""The Azure Files data plane of the emulator: path style `http(s)://HOST:PORT/<account>/<share>/<path>`, and host
style `Host: <account>.file.<suffix>` on any of the emulator's ports (views.FilesDoor).

Modules, from the wire inwards:
  views.py     blueprint: raw URI -> Target, (level, verb, comp) -> operation, authentication, dispatch
  handlers.py  one view per operation: headers and query in, plane call, headers and XML out
  auth.py      SharedKey and SAS (account, share, file) verification; x-ms-version check
  names.py     raw-URI parsing and Azure's naming rules (traversal refused before the disk is touched)
  plane.py     operation semantics over disk + rows, no Flask
  disk.py      the bytes: real files under <data-dir>/shares/<account>/<share>, per-file locks, safe paths
  meta.py      properties and metadata in the emulator's SQLite file (documented contract there)
  render.py    Storage XML bodies
  nfs.py       NFS and provisioned shares: an account's SKU, share protocol / provisioning properties, NFS
               owner / group / mode of files and directories
  links.py     hard links and symbolic links of NFS shares (a symbolic link is data, never a host link);
               handlers_nfs.py serves them; nfs_headers.py reads their request headers

The FilePlane is created when the blueprint is registered and lives in app.extensions["azure_files"].
"""
from __future__ import annotations

from . import rawheaders
from .plane import EXTENSION, FilePlane
from .views import FilesDoor, bp


@bp.record_once
def _create_plane(state) -> None:
    ext = state.app.extensions["batchai"]
    rawheaders.install()
    state.app.extensions[EXTENSION] = FilePlane(ext.settings, ext.store)
    state.app.wsgi_app = FilesDoor(state.app.wsgi_app)


def plane(app) -> FilePlane:
    return app.extensions[EXTENSION]


__all__ = ["FilePlane", "bp", "plane"]
