"""Mutation score of the unit suite: how many small wrong changes to the code a unit test catches.

Run from the repository root, after `make install` and `.venv/bin/pip install -e '.[bench]'`
(mutmut, pinned in pyproject.toml):

    .venv/bin/python bench/mutation.py                 # every group, one worker
    .venv/bin/python bench/mutation.py --group contracts --group ingest

The tool is mutmut 3. It copies the sources into ``mutants/`` and rewrites every function into
a trampoline that calls the original or one of its mutants, chosen by an environment variable;
a first pass over the tests records which tests reach which function, and each mutant then runs
only those tests (``-x``), in a process forked from one that has imported everything. mutmut
reads its settings from ``pyproject.toml`` in the directory it runs in and always works in
``mutants/`` there, so each group below runs in a copy of the repository of its own
(``.mutation/GROUP/``, kept: a second run re-tests only the functions that changed since) with a
``[tool.mutmut]`` table naming that group's sources and the unit test files that exercise them.
Its sources are found in the copy's ``mutants/`` first on ``sys.path`` (the editable install's
finder comes after the path finder), so the packages at the repository root need no layout of
their own.

mutmut 3 mutates only code inside functions. The module-level mutants of issue 14 that unit
tests once let through (the rank of kinds at one instant, the contract's year bounds) and a
rebuild that only catches up are therefore applied by this bench as source edits, each to a
fresh copy, against the unit tests of their group: ``NAMED`` below.

Score: killed / (killed + survived), where a timeout counts as killed and a mutant of a function
no selected unit test reaches ("no tests") counts as survived. A mutant the project's strict
mypy refuses ("caught by type check": it could never pass CI) is not run and not counted. Mutants in ``EQUIVALENT`` (no test
can tell them from the original) are listed with their reasons and left out. The last line is
``mutation score = X.XX``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
# What a group's copy needs besides the sources: the rest of the product, the test kit, the
# tests and their data, the project file (pytest's settings).
_NOT_COPIED = {".venv", ".git", ".mutation", "mutants", "var", "build", ".hypothesis",
               ".pytest_cache", "__pycache__", "ticketstream.egg-info"}


@dataclass(frozen=True)
class Group:
    """Sources mutated together and the unit test files that exercise them."""

    sources: tuple[str, ...]
    tests: tuple[str, ...]
    # Tests of these files left out (pytest node ids): a hypothesis search that takes longer
    # than a mutant may (each survivor reruns every test that reaches it), where a fixed
    # sibling test covers the same ground.
    deselect: tuple[str, ...] = ()


GROUPS: dict[str, Group] = {
    "domain": Group(
        ("domain/*.py",),
        ("test_incident", "test_event_construction", "test_kinds", "test_clocks", "test_sla_rules",
         "test_timeline", "test_calendar", "test_ownership", "test_reclassification",
         "test_customer_key", "test_event_id_conflict", "test_simulator", "test_sla_fingerprint"),
        # The CLI in a subprocess (9 s and 1 s; the subprocess imports the repository's sources,
        # not the mutants): the in-process fingerprint and read-model tests of the file stay.
        ("tests/unit/test_sla_fingerprint.py::test_reports_status_and_config_check_say_when_the_rules_changed_until_a_rebuild",
         "tests/unit/test_sla_fingerprint.py::test_config_check_does_not_create_an_event_store"),
    ),
    "contracts": Group(
        ("contracts/*.py",),
        ("test_contract", "test_kinds", "test_servicenow_mapping", "test_event_construction"),
    ),
    "ingest": Group(
        ("consumers/ingest*.py",),
        ("test_ingest", "test_event_id_conflict", "test_consume_summary", "test_dlq_retry",
         "test_hostile_ingest", "test_customer_data", "test_logging", "test_ingest_records"),
        # 19 s of generated attack mixes; test_a_seeded_mix_of_250_attacks_ends_exactly_as_expected stays.
        ("tests/unit/test_hostile_ingest.py::test_every_attack_is_dead_lettered_with_its_reason_and_every_valid_event_applied_once",
         # The customer CLI in a subprocess (15-19 s each; the subprocess imports the repository's
         # sources, not the mutants): the in-process secret and rotation tests of the file stay.
         "tests/unit/test_customer_data.py::test_the_secret_file_is_made_once_owner_only_and_a_bad_request_is_one_line",
         "tests/unit/test_customer_data.py::test_rotate_secret_replaces_the_secret_file_and_a_configured_secret_needs_the_new_one_given"),
    ),
    "projections": Group(
        ("projections/*.py",),
        ("test_projections", "test_read_side", "test_projection_shortcuts",
         "test_incident_summaries", "test_per_incident", "test_quality", "test_sla_reports",
         "test_sla_fingerprint"),
    ),
}


@dataclass(frozen=True)
class Named:
    """A mutant mutmut cannot make (module-level code, or a change of design): a source edit."""

    group: str
    path: str
    old: str
    new: str
    what: str


NAMED: list[Named] = [
    Named("domain", "domain/fact.py", "RANK = {kind: rank for rank, kind in enumerate(KINDS)}",
          "RANK = {kind: -rank for rank, kind in enumerate(KINDS)}",
          "facts of one instant ranked in reverse order of kinds"),
    Named("domain", "domain/fact.py", "RANK = {kind: rank for rank, kind in enumerate(KINDS)}",
          "RANK = {kind: 0 for kind in KINDS}",
          "facts of one instant not ranked by kind"),
    Named("contracts", "contracts/events.py", "EARLIEST_YEAR, LATEST_YEAR = 1990, 2099",
          "EARLIEST_YEAR, LATEST_YEAR = 1990, 2100", "latest year 2099 → 2100"),
    Named("contracts", "contracts/events.py", "EARLIEST_YEAR, LATEST_YEAR = 1990, 2099",
          "EARLIEST_YEAR, LATEST_YEAR = 1970, 2099", "earliest year 1990 → 1970"),
    Named("contracts", "contracts/events.py", "EARLIEST_YEAR, LATEST_YEAR = 1990, 2099",
          "EARLIEST_YEAR, LATEST_YEAR = 1991, 2099", "earliest year 1990 → 1991"),
    Named("contracts", "contracts/events.py", "EARLIEST_YEAR, LATEST_YEAR = 1990, 2099",
          "EARLIEST_YEAR, LATEST_YEAR = 1990, 2098", "latest year 2099 → 2098"),
    Named("contracts", "contracts/events.py", "min_length=1, max_length=64, pattern=",
          "min_length=1, max_length=65, pattern=", "incident_id up to 65 characters"),
    Named("contracts", "contracts/events.py", "StringConstraints(min_length=1, max_length=64), _PRINTABLE",
          "StringConstraints(min_length=1, max_length=65), _PRINTABLE", "identifiers up to 65 characters"),
    Named("contracts", "contracts/events.py", "Handle = Annotated[str, StringConstraints(max_length=200)",
          "Handle = Annotated[str, StringConstraints(max_length=201)", "assignee up to 201 characters"),
    Named("contracts", "contracts/events.py", "LongText = Annotated[str, StringConstraints(max_length=2000,",
          "LongText = Annotated[str, StringConstraints(max_length=1999,", "free text up to 1999 characters"),
    Named("contracts", "contracts/events.py", "Name = Annotated[str, StringConstraints(max_length=200,",
          "Name = Annotated[str, StringConstraints(max_length=201,", "praised up to 201 characters"),
    Named("contracts", "contracts/events.py", "StringConstraints(max_length=40, pattern=_NO_NUL)",
          "StringConstraints(max_length=41, pattern=_NO_NUL)", "customer phone up to 41 characters"),
    Named("contracts", "contracts/events.py", "StringConstraints(max_length=254, pattern=_NO_NUL)",
          "StringConstraints(max_length=253, pattern=_NO_NUL)", "customer email up to 253 characters"),
    Named("contracts", "contracts/events.py", "Field(ge=0, le=2**63 - 1)", "Field(ge=0, le=2**63)",
          "sequence up to 2**63"),
    Named("projections", "projections/shadow.py",
          "        count = built.catch_up(progressed)\n"
          "        count += built.catch_up()  # what arrived meanwhile\n"
          "        tables = [t for m in models for t in m.tables]\n"
          "        diffs = diff(runner.transaction, shadow, tables)\n"
          "        if not dry_run:\n"
          "            swap(runner.transaction, shadow, models, built.positions(), runner.datastore)\n"
          "    return Rebuilt(count, diffs, not dry_run)\n",
          "        count = runner.catch_up(progressed)\n"
          "    return Rebuilt(count, [], not dry_run)\n",
          "projections rebuild only catches up the live read models"),
    Named("projections", "projections/runner.py",
          "        return rebuild(self, names, progressed=progressed).notifications + self.catch_up(progressed)\n",
          "        return self.catch_up(progressed)\n",
          "ProjectionRunner.rebuild only catches up"),
]

# Mutants no test can tell from the original, by mutmut's name (fnmatch patterns): left out of
# the score, each with the reason it is equivalent.
_ERRORS_READ = "only the type, loc and msg of pydantic's errors are read: input and url are never used"
_NOT_FROM_JSON = ("decode validates JSON bytes only: a non-object there is a dict_type error; model_type"
                  " and model_attributes_type arise only for Python objects, which never reach it")
_UNICODE_ESCAPE = "the unicode_escape codec encodes every character, so its error handler is never called"
_CODEC_NAMES = "codec names are case-insensitive (UNICODE_ESCAPE, ASCII are the same codecs)"
_SQL_NAME_CASE = "a column name in a condition in upper case: unquoted identifiers are case-insensitive in SQLite and PostgreSQL"
_READ_ONLY = ("commit=True/None for a transaction that writes nothing (a read, or one whose statements"
              " run outside it): committing or rolling back an empty transaction stores the same")
_BELOW_EVERY_OFFSET = "Kafka offsets are never negative: -1 and -2 are both below every offset (nothing read yet)"
_FAST_PATH_OFF = ("the incremental check turned off (no end state kept, or the shortcut declined):"
                  " every check arranges and steps through the whole timeline: the same verdicts, slower")
_CACHE_OFF = "a lookup cache not read: the same value computed again, only slower"
_UNIQUE_INDEX = ("max over (specificity, index, rule) without the key, or by [:3]: the index is unique,"
                 " so the comparison never reaches the rule and picks the same one")
EQUIVALENT: dict[str, str] = {
    "projections.recompute.x_incident_table__mutmut_2": "'sla_clocks' → 'SLA_CLOCKS' as a table name: unquoted identifiers are case-insensitive in SQLite and PostgreSQL",
    "projections.recompute.x_recompute_incidents__mutmut_17": _READ_ONLY,
    "projections.recompute.x_recompute_incidents__mutmut_1[89]": "a model's prepare() not called: it only plans the rows before the write lock, and process() plans them itself when no plan is left",
    "projections.recompute.x_recompute_incidents__mutmut_2[345]": "a model's prepare() looked up by another name or without a default: every per-incident model has one, and without it process() plans the rows itself",
    "contracts.codec.x__contract_error__mutmut_[4-7]": _ERRORS_READ,
    "contracts.codec.x__contract_error__mutmut_2[89]": _NOT_FROM_JSON,
    "contracts.codec.x__contract_error__mutmut_3[01]": _NOT_FROM_JSON,
    "contracts.printable.x__escape__mutmut_[589]": _UNICODE_ESCAPE,
    "contracts.printable.x__escape__mutmut_7": _CODEC_NAMES,
    "contracts.printable.x__escape__mutmut_11": _CODEC_NAMES,
    "domain.timeline.x_arrange__mutmut_7":
        "the shortcut for timelines without a shared instant turned off: the search gives the same order",
    # (data_keys__mutmut_8 and _13 were listed here for its own chunking, since moved to
    # _select_in: by then those numbers named a letter-case change and r["DATA_KEY"].)
    "consumers.ingest.xǁIngestǁ_position__mutmut_6": _BELOW_EVERY_OFFSET,
    "consumers.ingest.x__last_offsets__mutmut_13": _BELOW_EVERY_OFFSET,
    "consumers.ingest.xǁIngestǁ_decode__mutmut_29":
        "an event at the very instant of its partition's stream time replaces it with an equal"
        " datetime: every comparison, and the time read back, is the same",
    "consumers.ingest.xǁIngestǁ_decided_on_what_is_stored__mutmut_9":
        "forget_cached(None) forgets every cached incident, not only the batch's: the others are"
        " read from the store when next needed, the same state; only slower",
    "consumers.ingest_recorder.xǁIngestTablesǁdead_letters__mutmut_1[26]": _SQL_NAME_CASE,
    "consumers.ingest_recorder.xǁIngestTablesǁdead_letters__mutmut_20": "' AND ' → ' and ' joins the conditions: a keyword, case-insensitive",
    "consumers.ingest_recorder.xǁIngestTablesǁselect_events_of__mutmut_[23]": _READ_ONLY,
    "consumers.ingest_recorder.xǁIngestTablesǁ_select__mutmut_[12]": _READ_ONLY,
    "consumers.ingest_recorder.xǁIngestTablesǁ_payload_keys__mutmut_7":
        "data_keys of no key ids makes no query and returns {}: the same as not asking",
    "consumers.ingest_recorder.xǁIngestTablesǁinsert_batch__mutmut_28": _SQL_NAME_CASE,
    "consumers.ingest_recorder.xǁIngestTablesǁ_select_in__mutmut_8":
        "chunks start at every value instead of every 500th (each up to 500 long): every value is"
        " still asked for, some twice; both callers (data_keys, customer_aliases) build a dict by"
        " the value, so the repeated rows collapse: more queries, the same result",
    "consumers.ingest_recorder.xǁIngestTablesǁ_select_in__mutmut_13":
        "chunks of 501 values stepped by 500 overlap by one: the repeated row collapses in the"
        " callers' dicts (data_keys, customer_aliases), the same result",
    "consumers.ingest_recorder.xǁSQLiteIngestRecorderǁafter_erasing__mutmut_[23]": _READ_ONLY,
    "consumers.ingest_recorder.x__parked_row__mutmut_6":
        "a parked row's payload is written with its message's bytes when first parked (only"
        " received facts are sealed, and a refused receipt is never parked, it is dead-lettered);"
        " parked again, the row keeps its payload (ON CONFLICT updates reason and detail only)",
    "consumers.ingest.xǁIngestǁprocess__mutmut_2[012]":
        "the message of the AssertionError after the retry loop: every turn returns or, at the"
        " last, raises, so the line is never reached",
    "consumers.ingest.xǁIngestǁ_process_once__mutmut_79":
        "`... or (batch.parked and batch.data_keys)`: a batch with parked events or new data keys"
        " always has offsets too (both come only from messages read in it; an empty batch's"
        " re-try of old parked events applies them or, still refused, expires them to dead letters)",
    "consumers.ingest_recorder.xǁIngestTablesǁtracking_table__mutmut_2":
        "\"TRACKING\" for tracking: an unquoted table name, case-insensitive in SQLite",
    "consumers.ingest_recorder.xǁSQLiteIngestRecorderǁ_insert_events__mutmut_[123]":
        "the fast path for text ids turned off: the library's own _insert_events binds the same"
        " rows (text ids as they are) to the same statement; only slower",
    "consumers.ingest.xǁIngestǁprocess__mutmut_7":
        "range(1, MAX_SAVE_ATTEMPTS + 2): the loop raises at attempt == MAX_SAVE_ATTEMPTS, so the"
        " extra fourth turn is never reached",
    "consumers.ingest_recorder.xǁSQLiteIngestRecorderǁafter_erasing__mutmut_12":
        "column 1 of wal_checkpoint(TRUNCATE) is the log's frame count: 0 after a checkpoint that"
        " truncated it, > 0 while a reader blocks it (the erasure just wrote frames), so it is"
        " truthy exactly when column 0 (busy) is; measured (0, 0, 0) and (1, 6, 0)",
    "domain.application.xǁIncidentsǁevents_since__mutmut_1":
        "the default page of 10,001 notifications for 10,000: every event is still read, in order;"
        " only the number of queries differs",
    "domain.incident.xǁIncidentǁ_follow__mutmut_[1]": _FAST_PATH_OFF,
    "domain.incident.xǁIncidentǁ_follow__mutmut_22": _FAST_PATH_OFF,
    "domain.incident.xǁIncidentǁ_add_entry__mutmut_1[48]": _FAST_PATH_OFF,
    "domain.incident.x__state_after__mutmut_[14]": _FAST_PATH_OFF,
    "domain.incident.xǁIncidentǁ_follow__mutmut_8":
        "`self.timeline or True`: an incident's timeline is never empty (it begins with its"
        " receipt, or a standalone thanks), so the last instant is always read",
    "domain.incident.xǁIncidentǁ_trigger__mutmut_1[468]":
        "the entry made by apply() from the stored event instead of from the fact: every class"
        " _trigger records (no beginning) keeps Event.apply, and entry_of(event) equals the"
        " fact's entry (tested through a reload); only slower",
    "domain.incident.x_entry_of__mutmut_21": "bool(getattr(event, 'standalone', None)): bool(None) is bool(False)",
    "domain.incident_timeline.x_ordered_incident__mutmut_1[578]":
        "the shortcut for events given in increasing instants turned off (each instant compared"
        " with itself): arrange gives the same order",
    "domain.incident_timeline.x_ordered_incident__mutmut_3[79]":
        "classification_history reads the instants from the events again: the same UTC instants",
    "domain.sla_rules.xǁPolicyRuleǁmatches__mutmut_1[01]":
        "zip(strict=...) of two 4-tuples built side by side: never of unequal length",
    "domain.sla_rules.xǁPolicyVersionǁrule_for__mutmut_2": _CACHE_OFF,
    "domain.sla_rules.xǁSlaRulesǁcalendar_for__mutmut_2": _CACHE_OFF,
    "domain.sla_rules.xǁSlaRulesǁcalendar_for__mutmut_1[23]":
        "the calendar cache's bound of 10,000 keys one larger: a lookup cache, the same calendars",
    "domain.sla_rules.x__most_specific__mutmut_1[68]": _UNIQUE_INDEX,
    "domain.sla_rules.x__most_specific__mutmut_20": _UNIQUE_INDEX,
    "domain.sla_rules.x__dotted__mutmut_7":
        "lstrip('XX.XX') strips '.' and 'X': a key's first part is a lower-case field name or an"
        " index, so only the leading '.' is ever stripped",
    "domain.attribution.x_attribution__mutmut_6":
        "a handover started exactly at as_of has 0 minutes then, and parties with 0 are left out",
    "domain.attribution.x_attribution__mutmut_38":
        "a holder whose span starts at as_of holds [as_of, as_of]: no counted piece lies in it",
    "domain.attribution.x_attribution__mutmut_43":
        "a resolution clock started exactly at as_of has counted nothing by then",
    "domain.attribution.x__split_by_holder__mutmut_[45]":
        "a holder's start or end equal to the line's start or end adds a cut already there (a set)",
}
# Mutants of functions that run only while their module is imported: mutmut switches a mutant on
# in a process forked after every module was imported, so no test can see them. Left out; the
# code they would change is what every test imports (the list of event types, say).
IMPORT_TIME: dict[str, str] = {
    "consumers.ingest_recorder.x__unretried__mutmut_*":
        "unwraps the library's retry decorators in PostgresIngestRecorder's class body, when"
        " consumers.ingest_recorder is imported",
    "contracts.events.x__wire_type__mutmut_*": "builds EVENT_MODELS when contracts.events is imported",
    "domain.lifecycle.x__changed_while_not_closed__mutmut_*":
        "builds the reassigned/reclassified rules of the rule table when domain.lifecycle is imported",
}

_KILLED = {"killed", "timeout", "segfault"}
_SURVIVED = {"survived", "no tests"}


@dataclass
class Outcome:
    """One mutant's verdict, where it is and what it changes."""

    name: str
    status: str
    where: str
    change: str
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()


@dataclass
class Figures:
    killed: int = 0
    survived: int = 0
    equivalent: int = 0
    other: Counter[str] = field(default_factory=Counter)

    def add(self, status: str) -> None:
        if status in _KILLED:
            self.killed += 1
        elif status in _SURVIVED:
            self.survived += 1
        else:
            self.other[status] += 1

    @property
    def score(self) -> float:
        tried = self.killed + self.survived
        return self.killed / tried if tried else 0.0


def _copy_repository(into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name in _NOT_COPIED:
            continue
        target = into / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
        else:
            shutil.copy2(entry, target)


def _mutmut_table(group: Group) -> str:
    roots = sorted({pattern.split("/")[0] for pattern in group.sources})
    others = sorted(e.name for e in ROOT.iterdir()
                    if e.name not in _NOT_COPIED and e.name not in roots and e.name != "pyproject.toml")
    tests = [f"tests/unit/{name}.py" for name in group.tests]
    return "\n".join([
        "", "[tool.mutmut]",
        f"source_paths = {json.dumps(roots)}",
        f"only_mutate = {json.dumps(list(group.sources))}",
        f"also_copy = {json.dumps(others)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        f"pytest_add_cli_args = {json.dumps(['-p', 'no:cacheprovider', *(f'--deselect={d}' for d in group.deselect)])}",
        # A mutant mypy refuses (the project's strict type check, run in CI) never ships: it is
        # not run, and not counted.
        f"type_check_command = {json.dumps([sys.executable, '-m', 'mypy', '-O', 'json', '--no-warn-unused-ignores', *roots])}",
        "",
    ])


def run_group(name: str, group: Group, *, retest: bool = False) -> tuple[Path, float]:
    """Run mutmut over one group in its copy; return the copy and the seconds it took.

    mutmut keeps a verdict until the mutated function changes; with ``retest`` the survivors
    of the last run are tried again afterwards (after tests were added)."""
    work = WORK / name
    # The copy's sources are refreshed every run (mutmut compares them with its mutants by
    # content and re-tests the functions that changed); its results stay.
    for pattern in group.sources:
        shutil.rmtree(work / pattern.split("/")[0], ignore_errors=True)
    _copy_repository(work)
    project = (ROOT / "pyproject.toml").read_text()
    (work / "pyproject.toml").write_text(project + _mutmut_table(group))
    started = time.monotonic()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    log = work / "mutmut-run.log"
    command = [str(MUTMUT), "run", "--max-children", "1"]
    with log.open("w") as out:
        done = subprocess.run(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode == 0 and retest:
            again = [o.name for o in outcomes(work) if o.status in _SURVIVED]
            if again:
                done = subprocess.run([*command, *again], cwd=work, env=env, stdout=out,
                                      stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"mutmut failed in {work} (exit {done.returncode}); see {log}")
    return work, time.monotonic() - started


_OUTCOMES_SCRIPT = r"""
import json, sys
from pathlib import Path
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
found = []
for path in walk_mutatable_files():
    data = SourceFileMutationData(path=path)
    data.load()
    for name, code in data.exit_code_by_key.items():
        status = status_by_exit_code[code]
        # Every mutant's diff, killed ones too: an equivalent mutant (SQL letter case, say) is left
        # out whether or not a test happened to fail on it.
        diff = get_diff_for_mutant(name, path=path) if status != "caught by type check" else ""
        found.append([str(path), name, status, diff])
json.dump(found, sys.stdout)
"""


def _changed(diff: str) -> tuple[list[str], list[str]]:
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return removed, added


def _function_of(name: str) -> str:
    """The mutated function's name in mutmut's name of a mutant (module.xǁClassǁname__mutmut_N)."""
    mangled = name.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    return mangled.split("ǁ")[-1] if "ǁ" in mangled else mangled.removeprefix("x_")


def _where(path: str, name: str, diff: str, source: dict[str, list[str]]) -> tuple[str, str]:
    """file:line of a mutant's first changed line, and the change (- old / + new)."""
    removed, added = _changed(diff)
    lines = source.setdefault(path, (ROOT / path).read_text().splitlines())
    line_no = 0
    if removed:
        wanted, function = removed[0].strip(), _function_of(name)
        start = next((i for i, text in enumerate(lines) if re.match(rf"\s*(async )?def {re.escape(function)}\(", text)), 0)
        line_no = next((i for i, text in enumerate(lines[start:], start + 1) if text.strip() == wanted), 0)
    change = " / ".join([f"- {r.strip()}" for r in removed] + [f"+ {a.strip()}" for a in added])
    return f"{path}:{line_no}", change or "(no textual change)"


def outcomes(work: Path) -> list[Outcome]:
    """Every mutant of a group's last run, with its verdict."""
    done = subprocess.run([sys.executable, "-c", _OUTCOMES_SCRIPT], cwd=work, check=True,
                          capture_output=True, text=True)
    source: dict[str, list[str]] = {}
    found = []
    for path, name, status, diff in json.loads(done.stdout):
        where, change = _where(path, name, diff, source) if diff else (path, "")
        removed, added = _changed(diff)
        found.append(Outcome(name, status, where, change, tuple(removed), tuple(added)))
    return found


def _matching(listed: dict[str, str], name: str) -> str | None:
    return next((reason for pattern, reason in listed.items() if fnmatch.fnmatchcase(name, pattern)), None)


_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA|BEGIN|COMMIT|CREATE|VALUES)\b"
                  r"|\b(FROM|WHERE|GROUP BY|ORDER BY|NOT NULL|PRIMARY KEY)\b|\b(TEXT|INTEGER)\)")
_QUOTED = re.compile(r"'[^']*'")
SQL_CASE = ("only the letter case of an SQL statement changed: keywords and unquoted identifiers are"
            " case-insensitive in SQLite and PostgreSQL (and SQLite's pragma names and values)")


def equivalent_reason(outcome: Outcome) -> str | None:
    """Why this mutant is equivalent (listed by name, or an SQL statement in other letter case)."""
    listed = _matching(EQUIVALENT, outcome.name)
    if listed is not None:
        return listed
    if (outcome.removed and len(outcome.removed) == len(outcome.added)
            and all(r != a and r.lower() == a.lower() and _SQL.search(r + " " + a)
                    and _QUOTED.findall(r) == _QUOTED.findall(a)  # the values compared kept
                    for r, a in zip(outcome.removed, outcome.added))):  # fmt: skip
        return SQL_CASE
    return None


def run_named(mutant: Named, group: Group) -> Outcome:
    """Apply one named mutant to a fresh copy and run its group's unit tests there."""
    with tempfile.TemporaryDirectory(prefix="named-mutant-") as tmp:
        copy = Path(tmp)
        _copy_repository(copy)
        target = copy / mutant.path
        text = target.read_text()
        if text.count(mutant.old) != 1:
            sys.exit(f"named mutant no longer applies (the code changed): {mutant.path}: {mutant.what}")
        target.write_text(text.replace(mutant.old, mutant.new))
        tests = [f"tests/unit/{name}.py" for name in group.tests]
        env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=copy, env=env, capture_output=True, text=True)
    status = {0: "survived", 1: "killed"}.get(done.returncode, f"error {done.returncode}")
    if status.startswith("error"):
        sys.exit(f"named mutant {mutant.what}: pytest exit {done.returncode}\n{done.stdout[-2000:]}")
    line_no = text[: text.index(mutant.old)].count("\n") + 1
    return Outcome(f"named: {mutant.what}", status, f"{mutant.path}:{line_no}",
                   f"- {mutant.old.splitlines()[0].strip()} / + {mutant.new.splitlines()[0].strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", action="append", choices=sorted(GROUPS),
                        help="only this group (repeatable; default: all)")
    parser.add_argument("--files", nargs="+", metavar="GLOB",
                        help="only these source files of the group (e.g. domain/fact.py): module by module")
    parser.add_argument("--retest", action="store_true",
                        help="after the run, try the last run's survivors again (new tests)")
    parser.add_argument("--named-only", action="store_true",
                        help="only the named mutants (NAMED), not mutmut's")
    parser.add_argument("--report-only", action="store_true",
                        help="print the results of the last run without running mutmut")
    args = parser.parse_args()
    if not MUTMUT.exists():
        sys.exit("mutmut is not installed: .venv/bin/pip install -e '.[bench]'")
    chosen = args.group or list(GROUPS)
    total = Figures()
    per_file: dict[str, Figures] = {}
    survivors: list[Outcome] = []
    equivalents: list[tuple[Outcome, str]] = []
    import_time: list[tuple[Outcome, str]] = []
    started = time.monotonic()
    for name in chosen:
        group = GROUPS[name]
        if args.files:
            group = Group(tuple(args.files), group.tests, group.deselect)
        found, seconds = [], 0.0
        if args.report_only:
            found = outcomes(WORK / name)
        elif not args.named_only:
            work, seconds = run_group(name, group, retest=args.retest)
            found = outcomes(work)
        found += [run_named(m, group) for m in NAMED if m.group == name]
        figures = Figures()
        for outcome in found:
            file = outcome.where.split(":")[0]
            reason = equivalent_reason(outcome)
            if reason is not None:
                equivalents.append((outcome, reason))
                figures.equivalent += 1
                continue
            reason = _matching(IMPORT_TIME, outcome.name)
            if reason is not None:
                import_time.append((outcome, reason))
                figures.other["import time"] += 1
                continue
            figures.add(outcome.status)
            per_file.setdefault(file, Figures()).add(outcome.status)
            if outcome.status in _SURVIVED:
                survivors.append(outcome)
        total.killed += figures.killed
        total.survived += figures.survived
        total.equivalent += figures.equivalent
        total.other.update(figures.other)
        other = "".join(f", {n} {s}" for s, n in sorted(figures.other.items()))
        print(f"group {name}: {figures.killed} killed, {figures.survived} survived, "
              f"{figures.equivalent} equivalent{other}; score {figures.score:.2f}; "
              f"mutmut {seconds:.0f} s")
    print("\nper file (killed/survived, score):")
    for file, figures in sorted(per_file.items()):
        print(f"  {file}: {figures.killed}/{figures.survived} {figures.score:.2f}")
    print(f"\nsurviving mutants ({len(survivors)}):")
    for outcome in sorted(survivors, key=lambda o: (o.where.split(":")[0], int(o.where.split(":")[1] or 0))):
        tag = " [no unit test reaches it]" if outcome.status == "no tests" else ""
        print(f"  {outcome.where}  {outcome.name}{tag}\n      {outcome.change}")
    print(f"\nequivalent mutants, left out ({len(equivalents)}):")
    for outcome, reason in equivalents:
        print(f"  {outcome.where}  {outcome.name}: {reason}")
    print(f"\nmutants that run only at import, left out ({len(import_time)}):")
    for outcome, reason in import_time:
        print(f"  {outcome.where}  {outcome.name}: {reason}")
    if total.other:
        print(f"\nnot counted: {dict(total.other)}")
    print(f"\ngroups {', '.join(chosen)}; {time.monotonic() - started:.0f} s in all")
    print(f"mutation score = {total.score:.2f}")


if __name__ == "__main__":
    main()
