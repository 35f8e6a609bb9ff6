"""Every read model's rows, sorted: what the rebuild and standby proofs compare."""

from __future__ import annotations

from projections.runner import ProjectionRunner


def read_model_rows(runner: ProjectionRunner) -> dict[str, list[tuple[object, ...]]]:
    """Each read-model table's rows, in one order whatever order they were written in."""
    rows = {}
    with runner.transaction(commit=False) as c:
        for model in runner.read_models.values():
            for table in model.tables:
                c.execute(f"SELECT * FROM {table}")
                rows[table] = sorted(c.fetchall(), key=repr)
    return rows
