"""The rubric and the student contract: the single source of every class fact, as typed data.

A teacher edits `reference/rubric.json` (units, epochs, fans, tolerances, points, limits, the
measured seed table); nothing in the code repeats those numbers. `load()` turns the JSON into
frozen dataclasses and refuses, with the field's dotted name, anything missing, misspelled or
of the wrong type, and a contract or check list that contradicts the rubric.

The reference files ship inside the package (`grader/reference/`, mapped from the top-level
`reference/` folder at build time), so a plain `pip install` grades with them too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import statistics
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import RubricError
from .initializers import glorot_limit
from .messages import fill, msg


def reference_dir() -> Path:
    """The shipped reference/ folder: inside the installed package, else the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "reference", here.parent / "reference"):
        if (candidate / "rubric.json").is_file():
            return candidate
    raise RubricError(msg("rubric.no_reference", looked=f"{here / 'reference'}, {here.parent / 'reference'}"),
                      hint=msg("rubric.no_reference_hint"))


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


# The least time a harvest is given. Measured in the sandbox here, alice's, bob's and carol's
# harvests (three probes of build_model, three trained models, the histories) take 0.35-0.38 s;
# the floor is 25 times that, for a loaded machine. A rubric asking for less is refused.
HARVEST_RESERVE_FLOOR_S = 10


@dataclass(frozen=True)
class Limits:
    """Every cap of the sandbox; the numbers in force are copied into each result.

    `harvest_reserve_s` is kept back from `total_timeout_s` for the harvest: when the budget
    is nearly spent, the running cell is interrupted and what the notebook defined so far is
    harvested and graded (a timeout no longer throws away the work that ran)."""

    cell_timeout_s: int = 1200
    total_timeout_s: int = 3600
    harvest_reserve_s: int = 60
    memory_mb: int = 6144
    pids: int = 512
    scratch_mb: int = 1024
    output_bytes_per_cell: int = 1_000_000
    output_bytes_total: int = 5_000_000
    address_space_mb: int = 32768
    file_size_mb: int = 512
    open_files: int = 4096

    def harvest_reserve(self) -> float:
        """The seconds actually kept for the harvest: the rubric's value, never below the floor,
        never more than a third of the whole budget (a tiny test budget still runs its cells)."""
        return min(float(max(HARVEST_RESERVE_FLOOR_S, self.harvest_reserve_s)), self.total_timeout_s / 3)

    @classmethod
    def from_dict(cls, raw: dict) -> "Limits":
        known = {key: int(value) for key, value in raw.items() if key in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class InitRef:
    """An initializer as the rubric names it: a Keras preset name and its parameters."""

    name: str
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "params": dict(self.params)}


@dataclass(frozen=True)
class MeasuredCriterion:
    """The measured last-epoch val_accuracy (%) per seed and initializer, under this protocol:
    the evidence behind "the criterion holds in 1 of 5 seeds" (the rubric's `homework.measured` table; docs/teacher.md, "Measuring the criterion before setting it")."""

    about: str = ""
    val_accuracy_pct: dict = field(default_factory=dict)  # seed (str) -> {init: %}


@dataclass(frozen=True)
class Homework:
    units: tuple[int, ...]
    input_size: int
    hidden_activation: str
    output_activation: str
    initializers: tuple[str, ...]
    he_initializers: tuple[str, ...]
    baseline: str
    criterion_pp: float
    norm_ratio_max: float
    measured: MeasuredCriterion = MeasuredCriterion()

    @property
    def kernel_shapes(self) -> list[tuple[int, int]]:
        """(fan_in, fan_out) of each Dense kernel of the homework MLP."""
        sizes = [self.input_size, *self.units]
        return list(zip(sizes[:-1], sizes[1:]))


@dataclass(frozen=True)
class Conv:
    kh: int
    kw: int
    in_channels: int
    filters: int


@dataclass(frozen=True)
class Exercise1:
    fan_in: int
    fan_out: int
    conv: Conv


@dataclass(frozen=True)
class Tolerances:
    ex1_relative: float
    val_accuracy_pp: float
    norms_relative: float
    initial_norm_relative: float
    alpha: float


@dataclass(frozen=True)
class CurveExercise:
    """Exercises 2 and 4: MLPs the grader trains itself, one per labelled initializer."""

    units: tuple[int, ...]
    activation: str
    runs: dict  # label -> InitRef
    val_loss_tolerance: float = 0.0
    stuck_loss: float = 0.0
    collapse_ratio: float = 0.0
    val_accuracy_pp: float = 0.0
    noise_pp: float = 0.0


@dataclass(frozen=True)
class Exercise3:
    similar_ratio_max: float
    variance_factor: float


@dataclass(frozen=True)
class Exercises:
    epochs: int
    ex2: CurveExercise
    ex3: Exercise3
    ex4: CurveExercise


@dataclass(frozen=True)
class CheckSpec:
    id: str
    exercise: str
    points: float


@dataclass(frozen=True)
class Delegation:
    """What a sandbox may ask the grader to train for it (grader/delegate): at most `fits_factor`
    times the fits the course expects, `epochs_factor` times the protocol's epochs per fit,
    `max_params` parameters, `max_request_mb` per request. A fit of fewer than `min_steps`
    optimizer steps trains in the sandbox (shipping it costs more than training it there), and so
    does one of fewer than `start_steps` while the grader has no worker running for this
    submission yet (measured: a worker's start, about 10 s, costs more than a 5-epoch fit saves)."""

    fits_factor: int = 2
    epochs_factor: int = 2
    max_params: int = 2_000_000
    min_steps: int = 2000
    start_steps: int = 20_000
    max_request_mb: int = 64
    folder_mb: int = 256


@dataclass(frozen=True)
class Rubric:
    protocol: Protocol
    homework: Homework
    exercise1: Exercise1
    tolerances: Tolerances
    exercises: Exercises | None
    limits: Limits
    checks: tuple[CheckSpec, ...]
    contract: dict
    contract_path: Path
    mistakes: dict
    source: Path = Path("rubric.json")
    digest: str = ""
    delegation: Delegation = Delegation()

    @property
    def expected_fits(self) -> int:
        """The fits a complete notebook trains for more than a moment: the homework's and the
        training exercises' (exercise 5's one-epoch probes are short)."""
        fits = len(self.homework.initializers)
        if self.exercises is not None:
            fits += len(self.exercises.ex2.runs) + len(self.exercises.ex4.runs)
        return fits

    @property
    def max_score(self) -> float:
        return sum(spec.points for spec in self.checks)

    def with_protocol(self, **changes) -> "Rubric":
        return replace(self, protocol=replace(self.protocol, **changes))

    def with_limits(self, **changes) -> "Rubric":
        """The same rubric under other sandbox limits, for one run (a Gradescope bundle fits its
        budget inside Gradescope's timeout); the teacher's file is left as it is."""
        return replace(self, limits=replace(self.limits, **changes))

    def facts(self) -> dict:
        """The class facts that titles, explanations and fixes quote, derived from this rubric."""
        hw, ex1 = self.homework, self.exercise1
        facts = {"units": list(hw.units), "input_size": hw.input_size, "layers": len(hw.units),
                 "hidden_activation": hw.hidden_activation, "output_activation": hw.output_activation,
                 "epochs": self.protocol.epochs, "seed": self.protocol.seed, "batch_size": self.protocol.batch_size,
                 "learning_rate": self.protocol.learning_rate, "optimizer": self.protocol.optimizer.upper(),
                 "validation_size": self.protocol.validation_size, "criterion_pp": hw.criterion_pp,
                 "baseline": hw.baseline, "ex1_fan_in": ex1.fan_in, "ex1_fan_out": ex1.fan_out,
                 "ex1_fan_sum": ex1.fan_in + ex1.fan_out, "ex1_limit": glorot_limit(ex1.fan_in, ex1.fan_out),
                 "ex1_units": ex1.fan_out}
        seeds = hw.measured.val_accuracy_pct
        facts["measured_seeds"] = len(seeds)
        holds = [sum((row[init] - row[hw.baseline]) >= hw.criterion_pp for row in seeds.values())
                 for init in hw.he_initializers if all(init in row and hw.baseline in row for row in seeds.values())]
        facts["measured_holds"] = max(holds) if holds else 0
        # the seed noise of the difference the criterion reads (sample std over the measured seeds),
        # the one figure every sentence about "noise between seeds" quotes
        spreads = [statistics.stdev([row[init] - row[hw.baseline] for row in seeds.values()])
                   for init in hw.he_initializers
                   if len(seeds) > 1 and all(init in row and hw.baseline in row for row in seeds.values())]
        facts["measured_noise_pp"] = round(max(spreads), 1) if spreads else 0.0
        if self.exercises is not None:
            facts["ex2_units"] = list(self.exercises.ex2.units)
            facts["exercise_epochs"] = self.exercises.epochs
        return facts


    def mistake(self, code: str, part: str, lang: str) -> str:
        """One cell of the common-mistakes table ("symptom" or "fix") in `lang`, facts filled in."""
        entry = self.mistakes.get(code, {})
        template = entry.get(part, {}).get(lang) or entry.get(part, {}).get("es") or (code if part == "symptom" else "")
        try:
            return fill(template, self.facts())
        except (KeyError, ValueError, IndexError):
            return template  # a teacher's text with stray braces is shown as written


# --- loading and validation -----------------------------------------------------------------

_TYPE_NAMES = {int: "entero", float: "número", str: "texto", bool: "booleano"}


def _field_error(source: Path, where: str, problem) -> RubricError:
    return RubricError(msg("rubric.field", file=str(source), field=where, problem=problem),
                       hint=msg("rubric.field_hint", file=str(source)))


def _convert(value, kind, where: str, source: Path):
    """`value` as `kind` (a type hint), or a RubricError that names the field."""
    origin = typing.get_origin(kind)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        return None if value is None else _convert(value, options[0], where, source)
    if dataclasses.is_dataclass(kind):
        return _build(kind, value, where, source)
    if kind is InitRef or kind is dict and where.endswith(".runs"):
        return _build(InitRef, value, where, source)
    if origin is tuple:
        inner = typing.get_args(kind)[0]
        if not isinstance(value, list) or not value:
            raise _field_error(source, where, msg("rubric.want_list", found=repr(value)[:60]))
        return tuple(_convert(item, inner, f"{where}[{i}]", source) for i, item in enumerate(value))
    if kind is dict or origin is dict:
        if not isinstance(value, dict):
            raise _field_error(source, where, msg("rubric.want_object", found=repr(value)[:60]))
        return dict(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _field_error(source, where, msg("rubric.want_number", found=repr(value)[:60]))
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _field_error(source, where, msg("rubric.want_integer", found=repr(value)[:60]))
        return value
    if kind is str:
        if not isinstance(value, str) or not value:
            raise _field_error(source, where, msg("rubric.want_text", found=repr(value)[:60]))
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise _field_error(source, where, msg("rubric.want_bool", found=repr(value)[:60]))
        return value
    raise TypeError(f"unsupported rubric field type {kind!r}")  # a grader bug, not a teacher's


def _build(cls, raw, where: str, source: Path):
    if not isinstance(raw, dict):
        raise _field_error(source, where, msg("rubric.want_object", found=repr(raw)[:60]))
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields) - {"about"})  # "about" is a note for the teacher, anywhere
    if unknown:
        raise _field_error(source, f"{where}.{unknown[0]}" if where else unknown[0], msg("rubric.unknown_field"))
    values = {}
    for name, spec in fields.items():
        path = f"{where}.{name}" if where else name
        if name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise _field_error(source, path, msg("rubric.missing_field"))
            continue
        if cls is CurveExercise and name == "runs":
            if not isinstance(raw[name], dict) or not raw[name]:
                raise _field_error(source, path, msg("rubric.want_object", found=repr(raw[name])[:60]))
            values[name] = {label: _build(InitRef, ref, f"{path}.{label}", source) for label, ref in raw[name].items()}
            continue
        values[name] = _convert(raw[name], hints[name], path, source)
    return cls(**values)


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RubricError(msg("rubric.unreadable", file=str(path), why=str(exc)), hint=msg("rubric.unreadable_hint")) from exc
    if not isinstance(value, dict):
        raise RubricError(msg("rubric.unreadable", file=str(path), why="not a JSON object"), hint=msg("rubric.unreadable_hint"))
    return value


def _consistency(rubric: Rubric, rubric_path: Path, contract_path: Path) -> None:
    """The contract and the rubric describe the same class."""
    limits = rubric.limits
    if not HARVEST_RESERVE_FLOOR_S <= limits.harvest_reserve_s <= limits.total_timeout_s / 3:
        raise _field_error(rubric_path, "limits.harvest_reserve_s", msg(
            "rubric.harvest_reserve", value=limits.harvest_reserve_s, floor=HARVEST_RESERVE_FLOOR_S,
            most=limits.total_timeout_s // 3))
    hw, names = rubric.homework, rubric.contract.get("names")
    if not isinstance(names, dict):
        raise _field_error(contract_path, "names", msg("rubric.missing_field"))
    for init in (*hw.he_initializers, hw.baseline):
        if init not in hw.initializers:
            raise _field_error(rubric_path, "homework.he_initializers", msg("rubric.not_in_initializers", name=init))
    for name, spec in names.items():
        if isinstance(spec, dict) and spec.get("keys") and name.startswith("hw_") and not set(spec["keys"]) <= set(hw.initializers):
            raise _field_error(contract_path, f"names.{name}.keys",
                               msg("rubric.contract_disagrees", found=spec["keys"], expected=list(hw.initializers)))
    kernel = names.get("ex1_kernel", {})
    if isinstance(kernel, dict) and kernel.get("shape") and list(kernel["shape"]) != [rubric.exercise1.fan_in, rubric.exercise1.fan_out]:
        raise _field_error(contract_path, "names.ex1_kernel.shape",
                           msg("rubric.contract_disagrees", found=kernel["shape"],
                               expected=[rubric.exercise1.fan_in, rubric.exercise1.fan_out]))


def verify_check_ids(rubric: Rubric, implemented) -> None:
    """The rubric's checks are exactly the implemented ones, each once (a check a teacher does not
    want gets 0 points). Called by whoever knows both: `pipeline.load_rubric`."""
    ids = [spec.id for spec in rubric.checks]
    duplicate = sorted({i for i in ids if ids.count(i) > 1})
    unknown = sorted(set(ids) - set(implemented))
    absent = sorted(set(implemented) - set(ids))
    if duplicate or unknown or absent:
        raise _field_error(rubric.source, "checks", msg("rubric.check_ids", duplicate=", ".join(duplicate) or "—",
                                                         unknown=", ".join(unknown) or "—", absent=", ".join(absent) or "—"))


def load(rubric_path: Path | None = None, contract_path: Path | None = None, mistakes_path: Path | None = None) -> Rubric:
    """Read, type and cross-check the rubric, the contract and the mistakes table (the check ids
    against the implemented checks: `pipeline.load_rubric`, which knows both)."""
    reference = None if rubric_path and contract_path and mistakes_path else reference_dir()
    rubric_path = Path(rubric_path or reference / "rubric.json")
    contract_path = Path(contract_path or reference / "contract.json")
    mistakes_path = Path(mistakes_path or reference / "mistakes.json")
    raw, contract, mistakes = _read_json(rubric_path), _read_json(contract_path), _read_json(mistakes_path)
    raw = {k: v for k, v in raw.items() if k not in ("version", "about")}
    known = {"protocol", "homework", "exercise1", "tolerances", "exercises", "limits", "delegation", "checks"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _field_error(rubric_path, unknown[0], msg("rubric.unknown_field"))
    for name in ("protocol", "homework", "exercise1", "tolerances", "checks"):
        if name not in raw:
            raise _field_error(rubric_path, name, msg("rubric.missing_field"))
    if not isinstance(raw["checks"], list) or not raw["checks"]:
        raise _field_error(rubric_path, "checks", msg("rubric.want_list", found=repr(raw["checks"])[:60]))
    limits_raw = raw.get("limits", {})
    if not isinstance(limits_raw, dict):
        raise _field_error(rubric_path, "limits", msg("rubric.want_object", found=repr(limits_raw)[:60]))
    unknown_limits = sorted(set(limits_raw) - set(Limits.__dataclass_fields__))
    if unknown_limits:
        raise _field_error(rubric_path, f"limits.{unknown_limits[0]}", msg("rubric.unknown_field"))
    rubric = Rubric(
        protocol=_build(Protocol, raw["protocol"], "protocol", rubric_path),
        homework=_build(Homework, raw["homework"], "homework", rubric_path),
        exercise1=_build(Exercise1, raw["exercise1"], "exercise1", rubric_path),
        tolerances=_build(Tolerances, raw["tolerances"], "tolerances", rubric_path),
        exercises=_build(Exercises, raw["exercises"], "exercises", rubric_path) if raw.get("exercises") else None,
        limits=_build(Limits, limits_raw, "limits", rubric_path),
        delegation=_build(Delegation, raw.get("delegation") or {}, "delegation", rubric_path),
        checks=tuple(_build(CheckSpec, c, f"checks[{i}]", rubric_path) for i, c in enumerate(raw["checks"])),
        contract=contract, contract_path=contract_path,
        mistakes={k: v for k, v in mistakes.items() if k != "about"}, source=rubric_path)
    _consistency(rubric, rubric_path, contract_path)
    digest = hashlib.sha256(rubric_path.read_bytes() + contract_path.read_bytes() + mistakes_path.read_bytes()).hexdigest()
    return replace(rubric, digest=digest)


__all__ = ["Rubric", "Protocol", "Limits", "Delegation", "HARVEST_RESERVE_FLOOR_S", "Homework", "Exercise1", "Conv", "Tolerances", "CurveExercise", "Exercise3",
           "Exercises", "InitRef", "MeasuredCriterion", "CheckSpec", "load", "reference_dir", "verify_check_ids"]
