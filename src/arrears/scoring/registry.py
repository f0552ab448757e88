"""Trained models, stored versioned in the workspace: ``<workspace>/models/v<N>/``.

Each version holds ``model.joblib`` (the fitted scikit-learn estimators) and ``metadata.json``
(features, training window, data hash, metrics, settings, the debtor score's ``target`` and
example ``schedule`` (:mod:`arrears.scoring.targets`), and the sha256 of ``model.joblib``).
joblib, not skops: joblib comes with scikit-learn (no new dependency) and stores these
estimators exactly; its files are pickles, so :func:`load` refuses a file whose sha256 differs
from its metadata's, and a workspace's ``models/`` folder must be trusted like its database.

Every reader finds a workspace's model the same way: :func:`load` of the workspace's root (the
cycle's ``plan``, ``run``, ``explain``, the worklist, ``model explain``, ``score`` and
``monitor``) loads the **promoted** version, the one named in ``models/promoted``. The first
version trained in a workspace promotes itself; later ones wait for ``arrears model promote vN``
(:func:`promote`). A workspace trained before promotion existed (versions but no
``promoted`` file) keeps its latest version live: :func:`save` writes that one down before
storing a new version, so a new training never goes live by itself. No version trained:
``None``, and the rules score stands in. A version that exists but cannot be used (unreadable,
altered, trained on other features or with another scikit-learn) is a :class:`ModelFileError`
that says which folder and what to do, never a silent fallback to the rules.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import polars as pl
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from arrears.domain.errors import Unavailable
from arrears.scoring.features import INVOICE_FEATURES, MODEL_DEBTOR_FEATURES
from arrears.scoring.frames import History
from arrears.scoring.model import Model, source_label
from arrears.scoring.targets import Schedule, from_metadata

MODELS = "models"
#: The file in ``models/`` naming the promoted (live) version.
PROMOTED = "promoted"

#: What a message about a version that cannot be used tells the user to do.
_WHAT_TO_DO = (
    "train again (arrears model train), or move that version's folder out of models/ "
    "(the previous version, or else the rules score, is then used)"
)


class ModelFileError(Unavailable, ValueError):
    """A stored model that cannot be used (altered, unreadable, incompatible)."""


def folder(root: Path) -> Path:
    """The models folder of the workspace whose root is ``root``."""
    return root / MODELS


def data_hash(history: History) -> str:
    """The sha256 of the history's content (its instalments and allocations as CSV)."""
    digest = hashlib.sha256()
    for frame in (history.instalments, history.allocations):
        digest.update(frame.sort(frame.columns).write_csv().encode())
    return digest.hexdigest()


def versions(root: Path) -> list[int]:
    """The versions trained in the workspace at ``root``, oldest first."""
    models = folder(root)
    if not models.is_dir():
        return []
    found = [p.name[1:] for p in models.iterdir() if p.is_dir() and p.name.startswith("v")]
    return sorted(int(v) for v in found if v.isdigit())


def libraries() -> dict[str, str]:
    """The versions of what trains and scores a model, recorded with each version."""
    from arrears import __version__  # noqa: PLC0415

    return {
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "polars": pl.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
        "arrears": __version__,
    }


def promoted(root: Path) -> str | None:
    """The live version's name (``v2``) in the workspace at ``root``; ``None`` when no version
    was trained. A workspace trained before promotion existed: its latest version."""
    known = versions(root)
    if not known:
        return None
    path = folder(root) / PROMOTED
    if path.is_file():
        name = path.read_text(encoding="utf-8").strip()
        if name:
            return name
    return f"v{known[-1]}"


def promoted_number(root: Path) -> int:
    """The live version's number (0: none): with :func:`versions`, a cache key of the model."""
    name = promoted(root)
    return int(name[1:]) if name and name[1:].isdigit() else 0


def _write_promoted(root: Path, version: str) -> None:
    path = folder(root) / PROMOTED
    temporary = path.with_name(f".{PROMOTED}.tmp")
    temporary.write_text(version + "\n", encoding="utf-8")
    os.replace(temporary, path)  # atomic: a reader sees the old or the new version


def version_name(text: str) -> str:
    """``3``, ``v3`` or ``V3`` as ``v3``; :class:`ModelFileError` for anything else."""
    name = text.strip().lower()
    name = name if name.startswith("v") else f"v{name}"
    if not name[1:].isdigit():
        raise ModelFileError(f"{text!r} is not a model version: write it as v3")
    return f"v{int(name[1:])}"


def promote(root: Path, version: str) -> tuple[str | None, str]:
    """Put ``version`` live: the cycle, explain, the worklist and ``model score`` use it from
    now on. Returns (the version that was live, the one now live). The version must load
    (:func:`load`): a version that cannot be used is never put live."""
    name = version_name(version)
    before = promoted(root)
    load(root, name)  # ModelFileError when missing, altered or incompatible
    _write_promoted(root, name)
    return before, name


def listing(root: Path) -> list[dict[str, Any]]:
    """Every version's metadata (newest first) with ``live``: whether it is the promoted one;
    a version whose metadata cannot be read is listed with its ``error``."""
    live = promoted(root)
    out: list[dict[str, Any]] = []
    for number in reversed(versions(root)):
        name = f"v{number}"
        try:
            meta = _metadata(folder(root) / name)
        except ModelFileError as exc:
            meta = {"error": str(exc)}
        if "error" not in meta:
            meta = {**meta, "target": target_of(meta), "schedule": schedule_of(meta)}
        out.append({**meta, "version": name, "live": name == live})
    return out


def target_of(meta: dict[str, Any]) -> dict[str, Any]:
    """What a version's score predicts (:mod:`arrears.scoring.targets`), as stored with it, or
    for a version stored without one, the ``pays`` target of its settings."""
    return from_metadata(meta).to_dict()


def schedule_of(meta: dict[str, Any]) -> dict[str, Any]:
    """When a version's debtor examples were taken, as stored with it, or for a version stored
    without one, every ``snapshot_every_days`` of its settings."""
    stored = meta.get("schedule")
    if isinstance(stored, dict) and "every_days" in stored:
        return stored
    every = int((meta.get("settings") or {}).get("snapshot_every_days", 7))
    return Schedule(every).to_dict()


def save(model: Model, root: Path, metadata: dict[str, Any]) -> str:
    """Store ``model`` as the next version; returns its name (``v3``). The first version of a
    workspace is promoted (:func:`promote`); later ones wait."""
    known = versions(root)
    if known and not (folder(root) / PROMOTED).is_file():
        _write_promoted(root, f"v{known[-1]}")  # trained before promotion: it stays live
    version = f"v{(known or [0])[-1] + 1}"
    where = folder(root) / version
    where.mkdir(parents=True)
    path = where / "model.joblib"
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
    meta = {
        **model.metadata,
        **metadata,
        "target": target_of({**model.metadata, **metadata}),
        "schedule": schedule_of({**model.metadata, **metadata}),
        "version": version,
        "libraries": libraries(),
        "sha256": _sha256(path),
    }
    (where / "metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    model.metadata = meta
    if not known:
        _write_promoted(root, version)
    return version


def load(root: Path, version: str | None = None) -> Model | None:
    """The given version, or the promoted one (:func:`promoted`), of the workspace whose root
    is ``root``; ``None`` when no model was trained. :class:`ModelFileError` when that version
    cannot be used."""
    known = versions(root)
    if not known:
        if root.name == MODELS and versions(root.parent):
            # the bug this function once had a caller for: a models folder is not a workspace
            raise ValueError(f"{root} is a models folder: load the workspace's root")
        return None
    name = version_name(version) if version else (promoted(root) or f"v{known[-1]}")
    where = folder(root) / name
    if not where.is_dir():
        if version is None:  # the promoted file names a version whose folder is gone
            raise ModelFileError(
                f"the live version {name} ({folder(root) / PROMOTED}) is not in "
                f"{folder(root)}: put another live (arrears model promote vN; arrears model "
                "list shows them)"
            )
        raise ModelFileError(f"no model {name} in {folder(root)}")
    meta = _metadata(where)
    _check_compatible(meta, where)
    path = where / "model.joblib"
    if not path.is_file():
        raise ModelFileError(f"{path} is missing: {_WHAT_TO_DO}")
    if _sha256(path) != meta.get("sha256"):
        raise ModelFileError(
            f"{path} does not match its metadata's sha256: not loaded; {_WHAT_TO_DO}"
        )
    try:
        with warnings.catch_warnings():
            # an estimator pickled by another scikit-learn: unsupported, maybe wrong
            warnings.simplefilter("error", InconsistentVersionWarning)
            parts = joblib.load(path)
        return Model(
            parts["debtor"],
            parts["invoice"],
            parts["days"],
            parts["reference"],
            parts["settings"],
            meta,
        )
    except Exception as exc:  # unpickling can fail in any way; all mean the same to the user
        raise ModelFileError(
            f"{path} cannot be loaded ({type(exc).__name__}: {exc}); {_WHAT_TO_DO}"
        ) from exc


def describe(model: Model | None, root: Path) -> str:
    """Which score a command used, in a line: ``model v3 (snapshot days 2025-07-01..2026-05-31)``
    or ``rules (no model in <root>/models yet: arrears model train)``."""
    if model is None:
        return f"rules (no model in {folder(root)} yet: arrears model train)"
    window = model.metadata.get("training_window") or {}
    days = f" (snapshot days {window['from']}..{window['to']})" if window else ""
    return source_label(model) + days


def _metadata(where: Path) -> dict[str, Any]:
    path = where / "metadata.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path} cannot be read ({exc}); {_WHAT_TO_DO}") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path} is not a model's metadata; {_WHAT_TO_DO}")
    return meta


def _check_compatible(meta: dict[str, Any], where: Path) -> None:
    """The version was trained on features this arrears computes (a version trained before a
    feature was added is scored without it), with this scikit-learn."""
    features = meta.get("features") or {}
    computed = {"debtor": set(MODEL_DEBTOR_FEATURES), "invoice": set(INVOICE_FEATURES)}
    for kind, names in computed.items():
        learnt = features.get(kind)
        if not isinstance(learnt, list) or not learnt or not set(learnt) <= names:
            raise ModelFileError(
                f"{where} was trained on other {kind} features than this version of arrears "
                f"computes; {_WHAT_TO_DO}"
            )
    trained_with = (meta.get("libraries") or {}).get("scikit-learn")
    if trained_with is not None and trained_with != sklearn.__version__:
        raise ModelFileError(
            f"{where} was trained with scikit-learn {trained_with} and this is "
            f"{sklearn.__version__}; {_WHAT_TO_DO}"
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
