"""HTTP only. Each view is named by its swagger operationId and does parse -> backend -> render."""
from __future__ import annotations


def register(app) -> None:
    from . import aad, admin, arm, clusters, dispatch, experiments, fileservers, jobs, misc, workspaces  # noqa: F401
    from . import legacy, storage_accounts  # noqa: F401
    from .. import blob, files
    app.register_blueprint(admin.bp)
    app.register_blueprint(aad.bp)
    app.register_blueprint(dispatch.bp)
    app.register_blueprint(blob.bp)
    app.register_blueprint(files.bp)
    from .. import azureml
    azureml.register(app)
