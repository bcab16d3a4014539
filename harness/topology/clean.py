"""Finding and removing the leftovers of runs that are gone.

Only journals decide what is removed: a dead run's journal lists its
namespaces and netdevsim ids. Nothing is removed because its name looks like
ours. Live runs and detached topologies (``topo up``) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from .build import teardown
from .journal import Journal, all_journals


@dataclass(frozen=True)
class RunState:
    journal: Journal
    state: str  # "running", "detached" or "dead"


def classify(journal: Journal) -> str:
    if journal.detached:
        return "detached"
    return "running" if journal.owner_alive() else "dead"


def list_runs() -> list[RunState]:
    return [RunState(j, classify(j)) for j in all_journals()]


def clean_dead_runs() -> list[tuple[str, list[str]]]:
    """Tear down every dead run; return (run id, removed objects) per run."""
    cleaned = []
    for run in list_runs():
        if run.state == "dead":
            cleaned.append((run.journal.run_id, teardown(run.journal)))
    return cleaned


def find_detached(name_or_id: str) -> list[Journal]:
    """Detached runs whose run id or topology name is ``name_or_id``."""
    return [
        r.journal
        for r in list_runs()
        if r.state == "detached" and name_or_id in (r.journal.run_id, r.journal.topology)
    ]
