"""The rubric and the student contract, read from reference/ as data (editable by a teacher)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import RubricError
from .sandbox import Limits

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


@dataclass(frozen=True)
class Protocol:
    """How the grader retrains: everything that changes a number is here (and in cache keys)."""

    validation_size: int = 5000
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    batch_size: int = 32
    epochs: int = 20
    loss: str = "sparse_categorical_crossentropy"
    seed: int = 42
    pixel_scale: float = 255.0
    threads: int = 2

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CheckSpec:
    id: str
    exercise: str
    points: float


@dataclass(frozen=True)
class Rubric:
    protocol: Protocol
    homework: dict
    exercise1: dict
    tolerances: dict
    exercises: dict
    limits: Limits
    checks: tuple
    contract: dict
    contract_path: Path
    digest: str = field(default="")

    def check(self, check_id: str) -> CheckSpec:
        for spec in self.checks:
            if spec.id == check_id:
                return spec
        raise RubricError(f"el rubric no define el check {check_id!r}")

    @property
    def max_score(self) -> float:
        return sum(spec.points for spec in self.checks)

    def with_protocol(self, **changes) -> "Rubric":
        return replace(self, protocol=replace(self.protocol, **changes))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RubricError(f"{path}: no se puede leer ({exc})", hint="Revise el JSON del rubric en reference/.") from exc


def load(rubric_path: Path | None = None, contract_path: Path | None = None) -> Rubric:
    rubric_path = Path(rubric_path or REFERENCE / "rubric.json")
    contract_path = Path(contract_path or REFERENCE / "contract.json")
    raw, contract = _read_json(rubric_path), _read_json(contract_path)
    try:
        protocol = Protocol(**raw["protocol"])
        checks = tuple(CheckSpec(c["id"], c["exercise"], float(c["points"])) for c in raw["checks"])
        rubric = Rubric(protocol, raw["homework"], raw["exercise1"], raw["tolerances"], raw.get("exercises", {}),
                        Limits.from_dict(raw.get("limits", {})), checks, contract, contract_path)
    except (KeyError, TypeError, ValueError) as exc:
        raise RubricError(f"{rubric_path}: falta o sobra un campo ({exc})") from exc
    if not isinstance(contract.get("names"), dict):
        raise RubricError(f"{contract_path}: falta 'names'")
    digest = hashlib.sha256(rubric_path.read_bytes() + contract_path.read_bytes()).hexdigest()
    return replace(rubric, digest=digest)


__all__ = ["Rubric", "Protocol", "CheckSpec", "load", "REFERENCE"]
