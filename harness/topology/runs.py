"""Finding and removing the leftovers of runs that are gone.

Only journals decide what is removed: a dead run's journal lists its
namespaces and netdevsim ids. Nothing is removed because its name looks like
ours, and a journal is checked before it is believed (``journal.scan``):
an unsound one is reported and moved aside, never acted on.

A run's state comes from two facts, its owner process and whether its build
finished (``complete``):

==========  ========  ==========  =====================================
owner       complete  detached    state
==========  ========  ==========  =====================================
alive       no        any         building
alive       yes       no          running
any         yes       yes         detached (only `topo down` removes it)
dead        yes       no          dead
dead        no        any         dead (incomplete)
==========  ========  ==========  =====================================

``clean`` removes the two dead states. A ``topo up`` killed while building
is "dead (incomplete)", never "detached": it was not yet handed over.
"""

from __future__ import annotations

from dataclasses import dataclass

from .build import TeardownError, teardown
from .journal import Journal, SetAside, scan

RUNNING, BUILDING, DETACHED, DEAD, DEAD_INCOMPLETE = "running", "building", "detached", "dead", "dead (incomplete)"
REMOVABLE = frozenset({DEAD, DEAD_INCOMPLETE})


@dataclass(frozen=True)
class RunState:
    journal: Journal
    state: str  # one of RUNNING, BUILDING, DETACHED, DEAD, DEAD_INCOMPLETE

    @property
    def removable(self) -> bool:
        return self.state in REMOVABLE


@dataclass(frozen=True)
class CleanResult:
    """What one ``clean`` did: per run (id, removed objects, notes), failures, and set-aside journals."""

    cleaned: list[tuple[str, list[str], list[str]]]
    failed: list[tuple[str, str]]
    invalid: list[SetAside]
    kept: list[RunState]


def classify(journal: Journal) -> str:
    """The run's state (see the module table)."""
    if journal.complete and journal.detached:
        return DETACHED
    if journal.owner_alive():
        return RUNNING if journal.complete else BUILDING
    return DEAD if journal.complete else DEAD_INCOMPLETE


def scan_runs() -> tuple[list[RunState], list[SetAside]]:
    """Every sound run with its state, and the unsound journals just moved aside."""
    journals, invalid = scan(set_aside=True)
    return [RunState(j, classify(j)) for j in journals], invalid


def list_runs() -> list[RunState]:
    return scan_runs()[0]


def clean_dead_runs() -> CleanResult:
    """Tear down every dead run (complete or not); keep live and detached ones.

    A netdevsim id that a kept run's journal also names is spared: a dead
    journal can never take a live run's device with it.
    """
    runs, invalid = scan_runs()
    kept = [r for r in runs if not r.removable]
    held = frozenset(dev_id for r in kept for dev_id in r.journal.netdevsim.values())
    cleaned, failed = [], []
    for run in runs:
        if not run.removable:
            continue
        notes: list[str] = []
        try:
            removed = teardown(run.journal, notes=notes, spare_netdevsim=held)
        except TeardownError as exc:
            failed.append((run.journal.run_id, str(exc)))
            continue
        cleaned.append((run.journal.run_id, removed, notes))
    return CleanResult(cleaned=cleaned, failed=failed, invalid=invalid, kept=kept)


def describe_set_aside(item: SetAside) -> str:
    """One line naming the file, why it was refused, and where it went."""
    where = f"moved to {item.moved_to}" if item.moved_to else "already moved by someone else"
    return f"invalid journal {item.path}: {item.reason}; not acted on, {where}"


def find_detached(name_or_id: str, runs: list[RunState] | None = None) -> list[Journal]:
    """Detached runs (of ``runs``, default: a fresh scan) whose run id or topology name is ``name_or_id``."""
    return [
        r.journal
        for r in (list_runs() if runs is None else runs)
        if r.state == DETACHED and name_or_id in (r.journal.run_id, r.journal.topology)
    ]
