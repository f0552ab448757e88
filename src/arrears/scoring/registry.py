"""Trained models, stored versioned in the workspace: ``<workspace>/models/v<N>/``.

Each version holds ``model.joblib`` (the fitted scikit-learn estimators) and ``metadata.json``
(features, training window, data hash, metrics, settings, and the sha256 of ``model.joblib``).
joblib, not skops: joblib comes with scikit-learn (no new dependency) and stores these
estimators exactly; its files are pickles, so :func:`load` refuses a file whose sha256 differs
from its metadata's, and a workspace's ``models/`` folder must be trusted like its database.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import joblib

from arrears.scoring.frames import History
from arrears.scoring.model import Model

MODELS = "models"


class ModelFileError(ValueError):
    """A stored model that cannot be used (altered, unreadable)."""


def data_hash(history: History) -> str:
    """The sha256 of the history's content (its instalments and allocations as CSV)."""
    digest = hashlib.sha256()
    for frame in (history.instalments, history.allocations):
        digest.update(frame.sort(frame.columns).write_csv().encode())
    return digest.hexdigest()


def versions(root: Path) -> list[int]:
    folder = root / MODELS
    if not folder.is_dir():
        return []
    found = [p.name[1:] for p in folder.iterdir() if p.is_dir() and p.name.startswith("v")]
    return sorted(int(v) for v in found if v.isdigit())


def save(model: Model, root: Path, metadata: dict[str, Any]) -> str:
    """Store ``model`` as the next version; returns its name (``v3``)."""
    version = f"v{(versions(root) or [0])[-1] + 1}"
    folder = root / MODELS / version
    folder.mkdir(parents=True)
    path = folder / "model.joblib"
    joblib.dump(
        {
            "debtor": model.debtor,
            "invoice": model.invoice,
            "days": model.days,
            "reference": model.debtor_reference,
            "settings": model.settings,
        },
        path,
    )
    meta = {**model.metadata, **metadata, "version": version, "sha256": _sha256(path)}
    (folder / "metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    model.metadata = meta
    return version


def load(root: Path, version: str | None = None) -> Model | None:
    """The given version, or the latest; ``None`` when no model was trained."""
    known = versions(root)
    if not known:
        return None
    name = version or f"v{known[-1]}"
    folder = root / MODELS / name
    if not folder.is_dir():
        raise ModelFileError(f"no model {name} in {root / MODELS}")
    meta = json.loads((folder / "metadata.json").read_text())
    path = folder / "model.joblib"
    if _sha256(path) != meta.get("sha256"):
        raise ModelFileError(f"{path} does not match its metadata's sha256: not loaded")
    parts = joblib.load(path)
    return Model(
        parts["debtor"],
        parts["invoice"],
        parts["days"],
        parts["reference"],
        parts["settings"],
        meta,
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
