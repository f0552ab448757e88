"""The collection case, defined once: its states, the events that change it and their guards.

A case is one debtor's episode of delinquency in one currency. The daily cycle decides its
changes in Polars (``arrears.cycle.decide``), the store writes them in SQL
(``arrears.store.cycle.write``) and the tests' fake applies them in Python
(``tests/cycle_book.py``); this module says what those three must agree on, in plain Python
(standard library only). ``tests/test_case_machine.py`` runs the engine and the store over
random portfolios, day after day, and checks that every change they make to a case is a
:func:`transition` this module allows, ending in the state it computes, and that the stage the
engine chose is :func:`stage_for`'s.

States (:class:`Case`)
    *no case*; *open* in a stage of the policy's ladder (least to most severe, ``clear``
    first), possibly paused (by a hold, a dispute, a promise or a plan: :class:`PausedBy`),
    awaiting a person's approval for a more severe stage, placed with an agency, with a stage
    floor a ``move_stage`` step set; *closed* (``cured``). The stage names are the policy's
    (preventive, early, pre_legal, agency, legal, write_off...): the module knows only
    ``clear``, their order, which need approval and which are escalations (onboarding).

Transitions (event: from -> to; guard)

=================  ==============  ==============================================================
event              from -> to      guard (else :class:`~arrears.domain.errors.Conflict`)
=================  ==============  ==============================================================
``Open``           none -> open    the stage is not ``clear``, needs no approval and is not an
                                   escalation stage (a new case has no approval yet)
``Reopen``         closed -> open  closed as cured at most ``reopen_within_days`` ago; the stage
                                   is not ``clear``; a stage needing approval was approved
``MoveStage``      open -> open    another stage, not ``clear``, not below the floor; a stage
                                   needing approval was approved; an escalation stage, while the
                                   case waits for one and is not in one yet, was approved (the
                                   floor's own stage needs neither)
``Close``          open -> closed  (paid, credited or written off down to ``cure_tolerance``)
``Pause``          open -> open    one of hold, dispute, promise, plan
``Resume``         open -> open    the case is paused
``AwaitApproval``  open -> open    the stage awaited is more severe than the case's stage, needs
                                   approval or is an escalation, and is not approved yet
``Approve``        open -> open    a stage of the ladder other than ``clear`` (again: no change)
``SetFloor``       open -> open    not paused (a ``move_stage`` step ran)
``Place``          open -> open    not paused (a ``place_with_agency`` step ran)
``Recall``         open -> open    not paused (a ``recall_from_agency`` step ran; not placed: no
                                   change)
=================  ==============  ==============================================================

The rules the engine implements, written down here:

- **Stages follow the debt, both ways.** An open case is in the most severe stage it matches
  and may enter, never below its floor: it moves down as well as up (the oldest invoice paid
  in full can bring it back to an earlier stage). Stages are not a one-way ladder; the
  floor (``move_stage``) is what keeps a case at least that severe until it closes.
- **A case waits rather than enter a gated stage.** When the stages it matches and may not
  enter are more severe than where it is, it stays (``AwaitApproval`` names the most severe).
- **Closing**: the stage becomes ``clear`` (nothing overdue above the tolerance); the reason is
  ``cured`` whatever cleared it, a write-off included (the ledger's write-off reduces the
  balance like a payment). A closed case keeps its floor, agency and approvals as history; it
  is not paused and awaits nothing.
- **A closed case reopens, or a new case opens.** Within ``reopen_within_days`` of its closing
  the same case reopens (its steps done stay done, its approvals and agency stay, its floor
  goes); later, a new case opens (a new natural key, no approvals).
- **A paused case runs no step** (:attr:`Case.runs_steps`); it still follows its stage and
  closes when paid. A pause ends on its own (``Resume``). Hold first, then dispute, promise,
  plan (:data:`PAUSE_PRECEDENCE`).
- The day's order: approvals given before the run; the case change (open, reopen, move, close);
  its pause and the stage it awaits; then the effects of the steps that ran (floor, agency).

Where the engine implements them: ``decide._stage`` (:func:`stage_for`), ``decide._cases``
(the day's :class:`Change`), ``decide._pause`` (:class:`PausedBy`), ``decide._steps`` (nothing
runs while paused); the store's commit writes the case row and folds in the steps' floor and
agency (:func:`step_event`); ``store.cycle.collection.approve_stage`` records an approval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from arrears.domain.errors import Conflict

#: The stage of a debtor with nothing to collect: the first of every policy's ladder.
CLEAR = "clear"


class Status(StrEnum):
    NONE = "none"  # no case (yet) for the debtor and currency
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    CURED = "cured"  # the only one today: paid, credited or written off to the tolerance


class PausedBy(StrEnum):
    """What pauses a case (``collection_case.paused_by``)."""

    HOLD = "hold"  # a manual hold, until its end date
    DISPUTE = "dispute"  # an open dispute on an open invoice, until resolved
    PROMISE = "promise"  # an open promise to pay, until its date plus grace
    PLAN = "plan"  # a payment plan in good standing


#: When several pauses apply, the first of these is shown.
PAUSE_PRECEDENCE = (PausedBy.HOLD, PausedBy.DISPUTE, PausedBy.PROMISE, PausedBy.PLAN)


class Change(StrEnum):
    """The cycle's name for what it did to a case on a day (the decisions' ``change``)."""

    OPEN = "open"
    REOPEN = "reopen"
    STAGE = "stage"  # moved to another stage
    UPDATE = "update"  # same stage; its pause, the stage it awaits, segment or arm changed
    STAY = "stay"  # nothing to write
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Ladder:
    """The policy's stages as the case sees them: ``stages`` least to most severe, ``clear``
    first; those needing a person's ``approval``; the ``escalations`` a new case may not open
    into (``arrears.policy.onboarding``; empty when escalations proceed)."""

    stages: tuple[str, ...]
    approval: frozenset[str] = frozenset()
    escalations: frozenset[str] = frozenset()
    reopen_within_days: int = 30

    def __post_init__(self) -> None:
        if not self.stages or self.stages[0] != CLEAR:
            raise ValueError(f"a ladder starts with {CLEAR!r}: {self.stages}")

    def severity(self, stage: str) -> int:
        try:
            return self.stages.index(stage)
        except ValueError:
            raise Conflict(f"{stage!r} is not a stage of the policy {self.stages}") from None

    def gated(self, stage: str) -> bool:
        return stage in self.approval or stage in self.escalations

    def waiting_stage(self, stage: str) -> str:
        """Where a case that may not enter ``stage`` (nor anything else it matches) waits when
        it opens: the most severe stage below it that is not gated (``clear``: none, no case
        opens)."""
        below = self.stages[1 : self.severity(stage)]
        return next((s for s in reversed(below) if not self.gated(s)), CLEAR)


@dataclass(frozen=True, slots=True)
class Case:
    """One case's state (the columns of ``collection_case`` the machine reads, and the stages
    approved for it)."""

    ladder: Ladder = field(repr=False)
    status: Status = Status.NONE
    stage: str = CLEAR
    stage_floor: str | None = None
    awaiting_approval: str | None = None
    paused_by: PausedBy | None = None
    paused_until: date | None = None
    agency: str | None = None
    approved: frozenset[str] = frozenset()
    closed_on: date | None = None
    close_reason: CloseReason | None = None

    @property
    def is_open(self) -> bool:
        return self.status is Status.OPEN

    @property
    def runs_steps(self) -> bool:
        """Whether the cycle may run the case's steps: open and not paused."""
        return self.is_open and self.paused_by is None

    @property
    def held(self) -> bool:
        """Open and waiting for an escalation stage it is not in yet (onboarding)."""
        escalations = self.ladder.escalations
        return (
            self.is_open and self.awaiting_approval in escalations and self.stage not in escalations
        )

    def reopens_on(self, on: date) -> bool:
        """Whether a debtor falling behind on ``on`` reopens this case (else a new one opens)."""
        return (
            self.status is Status.CLOSED
            and self.close_reason is CloseReason.CURED
            and self.closed_on is not None
            and 0 <= (on - self.closed_on).days <= self.ladder.reopen_within_days
        )


def new_case(ladder: Ladder) -> Case:
    """The state before a debtor and currency has a case."""
    return Case(ladder)


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Open:
    stage: str
    on: date


@dataclass(frozen=True, slots=True)
class Reopen:
    stage: str
    on: date


@dataclass(frozen=True, slots=True)
class MoveStage:
    stage: str


@dataclass(frozen=True, slots=True)
class Close:
    on: date
    reason: CloseReason = CloseReason.CURED


@dataclass(frozen=True, slots=True)
class Pause:
    by: PausedBy
    until: date | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class AwaitApproval:
    stage: str | None  # None: no longer waits


@dataclass(frozen=True, slots=True)
class Approve:
    stage: str


@dataclass(frozen=True, slots=True)
class SetFloor:
    stage: str


@dataclass(frozen=True, slots=True)
class Place:
    agency: str


@dataclass(frozen=True, slots=True)
class Recall:
    pass


Event = (
    Open
    | Reopen
    | MoveStage
    | Close
    | Pause
    | Resume
    | AwaitApproval
    | Approve
    | SetFloor
    | Place
    | Recall
)

#: The statuses each event applies to.
APPLIES_TO: dict[type[Event], Status] = {
    Open: Status.NONE,
    Reopen: Status.CLOSED,
    MoveStage: Status.OPEN,
    Close: Status.OPEN,
    Pause: Status.OPEN,
    Resume: Status.OPEN,
    AwaitApproval: Status.OPEN,
    Approve: Status.OPEN,
    SetFloor: Status.OPEN,
    Place: Status.OPEN,
    Recall: Status.OPEN,
}


def step_event(action: str, params: dict[str, object]) -> Event | None:
    """What an executed step means for its case: ``move_stage`` sets the floor,
    ``place_with_agency`` places it, ``recall_from_agency`` recalls it; the other actions leave
    the case as it is (``None``)."""
    if action == "move_stage":
        return SetFloor(str(params["to"]))
    if action == "place_with_agency":
        return Place(str(params["agency"]))
    if action == "recall_from_agency":
        return Recall()
    return None


# The stage rule ---------------------------------------------------------------------------------


def may_enter(case: Case, stage: str) -> bool:
    """Whether ``case`` (open, closed within the reopen window, or none yet) may enter ``stage``
    on its own, because it matches it: a stage needing approval once approved (or the case is
    in it); an escalation stage once approved, or unless the case is new or held."""
    if stage in case.ladder.approval:
        return stage in case.approved or (case.is_open and case.stage == stage)
    if stage in case.ladder.escalations:
        return stage in case.approved or not (case.status is Status.NONE or case.held)
    return True


def stage_for(
    case: Case, matching: Iterable[str], *, cured: bool, held: bool = False
) -> tuple[str, str | None]:
    """The stage ``case`` is in today and the stage it awaits approval for, given the stages
    whose conditions hold (``matching``) and whether what is overdue is within the tolerance
    (``cured``). The rule ``cycle.decide._stage`` implements in Polars:

    - cured, or nothing matches: ``clear`` (an open case closes, no case opens);
    - else the most severe matching stage the case may enter (:func:`may_enter`); an open case
      never below its floor; when it may enter none, an open case stays where it is and a new
      or reopening one waits in :meth:`Ladder.waiting_stage`;
    - it awaits the most severe matching stage when that is more severe than where it is;
    - ``held`` (an open dispute while nothing else is overdue, under the policy's
      ``disputes.pause: invoices``): an open case stays where it is, paused by the dispute.
    """
    ladder = case.ladder
    if held and case.is_open:
        return case.stage, None
    severity = {s: ladder.severity(s) for s in matching if s != CLEAR}
    most = max(severity, key=severity.__getitem__, default=CLEAR)
    if cured or most == CLEAR:
        return CLEAR, None
    allowed = [s for s in severity if may_enter(case, s)]
    stage = max(allowed, key=severity.__getitem__, default=CLEAR)
    if case.is_open:
        kept = [stage, case.stage_floor or CLEAR, case.stage if stage == CLEAR else CLEAR]
        stage = max(kept, key=ladder.severity)
    elif stage == CLEAR:
        stage = ladder.waiting_stage(most)
    return stage, most if ladder.severity(most) > ladder.severity(stage) else None


# The machine --------------------------------------------------------------------------------


def transition(case: Case, event: Event) -> Case:
    """The case after ``event``; :class:`Conflict` when the case's state forbids it."""
    wanted = APPLIES_TO[type(event)]
    if case.status is not wanted:
        raise Conflict(f"{_name(event)} applies to {_STATUS[wanted]}, not {_STATUS[case.status]}")
    why = _forbidden(case, event)
    if why is not None:
        raise Conflict(f"{_name(event)}: {why}")
    return _apply(case, event)


def _forbidden(case: Case, event: Event) -> str | None:
    """Why ``event`` may not happen to ``case`` (its status already checked), or ``None``."""
    ladder = case.ladder
    match event:
        case Open(stage=stage):
            if _not_collecting(ladder, stage):
                return f"a case opens in a stage other than {CLEAR!r}"
            if stage in ladder.approval:
                return f"{stage!r} needs an approval a new case cannot have"
            if stage in ladder.escalations:
                return f"{stage!r} is an escalation stage: a new case waits before it"
        case Reopen(stage=stage, on=on):
            if not case.reopens_on(on):
                return f"closed on {case.closed_on}, beyond {ladder.reopen_within_days} days"
            if _not_collecting(ladder, stage):
                return f"a case reopens in a stage other than {CLEAR!r}"
            if stage in ladder.approval and stage not in case.approved:
                return f"{stage!r} needs an approval"
        case MoveStage(stage=stage):
            return _may_not_move(case, stage)
        case Resume():
            if case.paused_by is None:
                return "the case is not paused"
        case AwaitApproval(stage=stage) if stage is not None:
            if ladder.severity(stage) <= ladder.severity(case.stage):
                return f"{stage!r} is not more severe than {case.stage!r}"
            if not ladder.gated(stage):
                return f"{stage!r} needs no approval"
            if stage in case.approved:
                return f"{stage!r} is approved already"
        case Approve(stage=stage) | SetFloor(stage=stage):
            if _not_collecting(ladder, stage):
                return f"{stage!r} is not a stage a case can be in"
    if isinstance(event, SetFloor | Place | Recall) and case.paused_by is not None:
        return f"the case is paused by {case.paused_by}: it runs no step"
    return None


def _not_collecting(ladder: Ladder, stage: str) -> bool:
    return ladder.severity(stage) == 0


def _may_not_move(case: Case, stage: str) -> str | None:
    ladder = case.ladder
    if stage == case.stage:
        return f"the case is in {stage!r} already"
    if _not_collecting(ladder, stage):
        return "a case leaves its stages by closing"
    floor = case.stage_floor
    if floor is not None and ladder.severity(stage) < ladder.severity(floor):
        return f"{stage!r} is below the case's floor {floor!r}"
    if stage == floor or stage in case.approved:
        return None
    if stage in ladder.approval:
        return f"{stage!r} needs an approval"
    if stage in ladder.escalations and case.held:
        return f"{stage!r} is an escalation stage the case waits for an approval to enter"
    return None


def _apply(case: Case, event: Event) -> Case:
    match event:
        case Open(stage=stage):
            return replace(new_case(case.ladder), status=Status.OPEN, stage=stage)
        case Reopen(stage=stage):
            return replace(
                case,
                status=Status.OPEN,
                stage=stage,
                stage_floor=None,
                closed_on=None,
                close_reason=None,
            )
        case MoveStage(stage=stage):
            return replace(case, stage=stage)
        case Close(on=on, reason=reason):
            return replace(
                case,
                status=Status.CLOSED,
                stage=CLEAR,
                awaiting_approval=None,
                paused_by=None,
                paused_until=None,
                closed_on=on,
                close_reason=reason,
            )
        case Pause(by=by, until=until):
            return replace(case, paused_by=PausedBy(by), paused_until=until)
        case Resume():
            return replace(case, paused_by=None, paused_until=None)
        case AwaitApproval(stage=stage):
            return replace(case, awaiting_approval=stage)
        case Approve(stage=stage):
            return replace(case, approved=case.approved | {stage})
        case SetFloor(stage=stage):
            return replace(case, stage_floor=stage)
        case Place(agency=agency):
            return replace(case, agency=agency)
        case Recall():
            return replace(case, agency=None)
    raise AssertionError(event)  # pragma: no cover - every event is matched above


_STATUS = {Status.NONE: "no case yet", Status.OPEN: "an open case", Status.CLOSED: "a closed case"}


def _name(event: Event) -> str:
    return type(event).__name__


__all__ = [
    "APPLIES_TO",
    "CLEAR",
    "PAUSE_PRECEDENCE",
    "Approve",
    "AwaitApproval",
    "Case",
    "Change",
    "Close",
    "CloseReason",
    "Event",
    "Ladder",
    "MoveStage",
    "Open",
    "Pause",
    "PausedBy",
    "Place",
    "Recall",
    "Reopen",
    "Resume",
    "SetFloor",
    "Status",
    "may_enter",
    "new_case",
    "stage_for",
    "step_event",
    "transition",
]
