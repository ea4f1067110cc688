"""Chaos run: real desks and two server processes on one PostgreSQL, with faults.

Desks (``tests.chaos.desk_agent``: enrolled SQLCipher stores, the desk's services and
sync client, each in its own process) book, move and cancel on a few contested slots
and edit the same patients' phone and e-mail, syncing now and then and going offline
for a while. They reach two ``clinicdesk-server serve`` processes through a TCP proxy
on loopback that refuses connections, cuts answers after the server applied the
request, and delays traffic. Meanwhile desks and servers are killed with SIGKILL at
random and started again, and the network goes down for a moment now and then.

After the last fault every desk syncs twice, then:

* no resource has two overlapping active bookings;
* every write the server acknowledged (a push answer's ``last_mutation_id``) is
  there: a conflict for it, or its audited effect (and a booking's row);
* every desk holds exactly the server's appointments and patients (converged within
  two pulls after the last fault), with an empty outbox and an intact store;
* no patient edit overwrote a value the desk had not seen: every applied edit's base
  is the value it replaced; the others are conflicts in the desk's inbox;
* each organization's audit chain verifies.

The bounded form (4 desks, 160 operations) is the default; the long form runs by hand::

    CLINICDESK_CHAOS=long python -m pytest tests/chaos -q -s

(``CLINICDESK_CHAOS_DESKS``, ``_OPERATIONS``, ``_SEED`` override the sizes.)
See docs/reliability.md for the figures of a long run.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_server.db import models as db
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import audit
from tests.chaos.desk_agent import read_journal
from tests.chaos.proxy import ChaosProxy
from tests.e2e.server_side import PASSWORD, Clinic, seed_clinic
from tests.sync_server.booking_setup import active_overlaps
from tests.sync_server.conftest import make_settings
from tests.sync_server.server_process import Instance, Killable

pytestmark = [pytest.mark.chaos, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("CLINICDESK_CHAOS") == "long"
DESKS = int(os.environ.get("CLINICDESK_CHAOS_DESKS") or (20 if LONG else 4))
OPERATIONS = int(os.environ.get("CLINICDESK_CHAOS_OPERATIONS") or (5000 if LONG else 160))
SEED = int(os.environ.get("CLINICDESK_CHAOS_SEED") or 12)
SLOTS = 20  # 10 half hours x 2 providers
EDITED_PATIENTS = 3
#: Seconds between two faults (drawn uniformly).
FAULT_GAP = (0.5, 2.0)
#: The run gives up (fails) after this long: a desk that never finishes is a finding.
RUN_BUDGET_SECONDS = 4 * 3600 if LONG else 600


class Agent(Killable):
    """A desk's ``run`` process; started again after every kill until it finishes."""

    def __init__(self, directory: Path, options: dict[str, Any]) -> None:
        self.directory = directory
        self.client_id = ""
        self.options_file = directory / "chaos.json"
        self.options_file.write_text(json.dumps(options))
        self.finished = False
        self.done_at_start = 0

    def done(self) -> int:
        """Operations in the journal."""
        return sum(1 for entry in read_journal(self.directory / "journal.jsonl")
                   if "op" in entry)

    def start(self) -> None:
        self.done_at_start = self.done()
        self._start()

    @property
    def killable(self) -> bool:
        """Running and past its last restart (a desk killed again before it does anything
        would only measure start-up time)."""
        return self.running and self.done() > self.done_at_start

    def _start(self) -> None:
        with (self.directory / "agent.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.chaos.desk_agent", str(self.directory),
                 "run", f"@{self.options_file}"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def check(self) -> None:
        """Note a finished run; a run that failed by itself fails the test."""
        assert self.process is not None
        code = self.process.poll()
        if code is None or self.finished:
            return
        log = (self.directory / "agent.log").read_text()[-3000:]
        assert code == 0, f"desk {self.directory.name} failed ({code}): {log}"
        self.finished = True

    def command(self, name: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.chaos.desk_agent", str(self.directory), name,
             f"@{self.options_file}"],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        output: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return output


@dataclass
class Tally:
    desk_kills: int = 0
    server_kills: int = 0
    outages: int = 0
    seconds: float = 0.0
    settle_seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    acknowledged: int = 0
    conflicts: Counter[str] = field(default_factory=Counter)
    active: int = 0


@pytest.fixture
def servers(pg_database_url: str, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Instance]]:
    # Every desk signs in as the same user from the same loopback address, and killed
    # desks sign in again: more than the default ten sign-ins a minute per account (the
    # long form's 20 desks were refused with 429 at setup).
    monkeypatch.setenv("CLINICDESK_LOGIN_PER_ACCOUNT_PER_MINUTE", str(20 * DESKS))
    monkeypatch.setenv("CLINICDESK_LOGIN_PER_CLIENT_PER_MINUTE", str(30 * DESKS))
    pair = [Instance(pg_database_url, tmp_path, name) for name in ("one", "two")]
    try:
        for server in pair:
            server.wait_ready()
        yield pair
    finally:
        for server in pair:
            server.stop()


@pytest.fixture
def proxy(servers: list[Instance]) -> Iterator[ChaosProxy]:
    running = ChaosProxy([s.port for s in servers], seed=SEED)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def clinic(pg_database_url: str, tmp_path: Path) -> Clinic:
    engine = make_engine(pg_database_url)
    with make_session_factory(engine)() as session:
        seeded = seed_clinic(session, make_settings(pg_database_url, tmp_path),
                             patients=SLOTS, codes=DESKS)
    engine.dispose()
    return seeded


def _agent(directory: Path, clinic: Clinic, url: str, index: int,
           slots: list[list[str]]) -> Agent:
    """An enrolled, signed-in desk (one process) and its chaos options."""
    directory.mkdir(parents=True)
    agent = Agent(directory, {
        "desk": index, "seed": SEED, "operations": OPERATIONS // DESKS,
        "email": clinic.user_email, "password": PASSWORD, "clinic": clinic.clinic_id,
        "type": clinic.type_id, "patients": clinic.patient_ids, "slots": slots,
        "edited_patients": clinic.patient_ids[:EDITED_PATIENTS],
        "url": url, "code": clinic.codes[index], "organization": clinic.org_slug,
    })
    ready = agent.command("setup")
    assert ready["signed_in"], ready
    agent.client_id = ready["client_id"]
    return agent


@pytest.mark.timeout(RUN_BUDGET_SECONDS + 900)
def test_desks_and_servers_killed_at_random_lose_nothing_and_converge(
    pg_database_url: str, servers: list[Instance], proxy: ChaosProxy, clinic: Clinic,
    tmp_path: Path,
) -> None:
    slots = [[p, clinic.slot(i)[1].isoformat()] for i in range(SLOTS // 2)
             for p in clinic.provider_ids]
    with ThreadPoolExecutor(4) as pool:
        agents = list(pool.map(
            lambda i: _agent(tmp_path / f"desk{i:02d}", clinic, proxy.url, i, slots),
            range(DESKS)))

    tally = _run_with_faults(agents, servers, proxy)
    proxy.faults.calm()
    for server in servers:
        if not server.running:
            server.start()
    for server in servers:
        server.wait_ready()

    # Two sync rounds after the last fault: every desk pushes all in the first, and the
    # second pull of every desk comes after every push.
    settling = time.monotonic()
    with ThreadPoolExecutor(min(len(agents), 8)) as pool:
        for _ in range(2):  # the whole round ends before the next starts
            for answer in pool.map(lambda agent: agent.command("sync"), agents):
                assert answer.get("pending") == 0, answer
        dumps = list(pool.map(lambda agent: agent.command("dump"), agents))
    tally.settle_seconds = time.monotonic() - settling

    engine = make_engine(pg_database_url)
    with make_session_factory(engine)() as session:
        try:
            _check(session, clinic, agents, dumps, tally)
        finally:
            session.rollback()
    engine.dispose()
    print(f"\nchaos: {DESKS} desks, {OPERATIONS} operations (seed {SEED}) in "
          f"{tally.seconds:.0f} s, settled (2 syncs per desk, dumps) in "
          f"{tally.settle_seconds:.0f} s; queued {dict(tally.kinds)}; acknowledged "
          f"{tally.acknowledged}; conflicts {dict(tally.conflicts)}; active bookings "
          f"{tally.active}; desk kills {tally.desk_kills}, server kills {tally.server_kills}, "
          f"outages {tally.outages}; proxy {proxy.counts}")


def _run_with_faults(agents: list[Agent], servers: list[Instance],
                     proxy: ChaosProxy) -> Tally:
    pick = random.Random(SEED)  # the fault schedule
    tally = Tally()
    started = time.monotonic()
    for agent in agents:
        agent.start()
    proxy.faults.refuse, proxy.faults.cut, proxy.faults.delay = 0.05, 0.05, 0.05
    try:
        while True:
            for agent in agents:
                agent.check()
            if all(agent.finished for agent in agents):
                break
            assert time.monotonic() - started < RUN_BUDGET_SECONDS, "the desks never finished"
            time.sleep(pick.uniform(*FAULT_GAP))  # the time between two faults
            proxy.faults.offline = False
            for server in servers:
                if not server.running:  # killed at the previous fault: back now
                    server.start()
            roll = pick.random()
            killable = [agent for agent in agents if agent.killable]
            if roll < 0.3 and killable:
                victim = pick.choice(killable)
                victim.kill()
                victim.start()
                tally.desk_kills += 1
            elif roll < 0.45 and all(server.healthy() for server in servers):
                pick.choice(servers).kill()  # the other one serves meanwhile
                tally.server_kills += 1
            elif roll < 0.55:
                proxy.faults.offline = True
                tally.outages += 1
            else:
                proxy.faults.refuse = pick.choice((0.0, 0.05, 0.2))
                proxy.faults.cut = pick.choice((0.0, 0.05, 0.2))
                proxy.faults.delay = pick.choice((0.0, 0.05, 0.3))
    finally:
        for agent in agents:
            if agent.running:
                agent.kill()
    tally.seconds = time.monotonic() - started
    return tally


def _utc(value: Any) -> str:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return str(instant.astimezone(UTC).isoformat())


def _check(session: Session, clinic: Clinic, agents: list[Agent],
           dumps: list[dict[str, Any]], tally: Tally) -> None:
    org = clinic.org_id
    assert active_overlaps(session) == 0
    broken = audit.verify(session, org)
    assert broken is None, broken.describe()

    server_appointments = {
        row.id: {"provider_id": row.provider_id, "patient_id": row.patient_id,
                 "start": _utc(row.start_at), "end": _utc(row.end_at), "status": row.status,
                 "deleted": row.deleted, "version": row.version}
        for row in session.scalars(select(db.Appointment).where(
            db.Appointment.organization_id == org))}
    tally.active = sum(1 for a in server_appointments.values()
                       if a["status"] in ("booked", "confirmed") and not a["deleted"])
    server_patients = {
        row.id: {"phone": row.phone, "email": row.email, "pending": None}
        for row in session.scalars(select(db.Patient).where(db.Patient.organization_id == org))}
    for agent, state in zip(agents, dumps, strict=True):
        name = agent.directory.name
        assert state["integrity"] == "ok" and state["cipher_problems"] == 0, name
        assert state["pending"] == 0, name
        on_desk = {
            key: {"provider_id": a["provider_id"], "patient_id": a["patient_id"],
                  "start": _utc(a["start"]), "end": _utc(a["end"]), "status": a["status"],
                  "deleted": a["deleted"], "version": a["version"]}
            for key, a in state["appointments"].items()}
        assert on_desk == server_appointments, f"{name} did not converge (appointments)"
        assert state["patients"] == server_patients, f"{name} did not converge (patients)"

    conflicts = {(c.client_id, c.mutation_id): c for c in session.scalars(
        select(db.Conflict).where(db.Conflict.organization_id == org))}
    applied = Counter(
        (device, target) for device, target, outcome in session.execute(
            select(db.AuditEntry.actor_device_id, db.AuditEntry.target_id,
                   db.AuditEntry.outcome).where(db.AuditEntry.organization_id == org))
        if outcome.startswith("accepted"))
    history = _field_history(session, org)
    for agent in agents:
        client_id = agent.client_id
        device = session.scalars(select(db.Device.id).where(
            db.Device.client_id == client_id)).one()
        processed = session.scalars(select(db.ClientMutation.last_mutation_id).where(
            db.ClientMutation.client_id == client_id)).one()
        journal = read_journal(agent.directory / "journal.jsonl")
        acked = max([e["ack"] for e in journal if "ack" in e], default=0)
        assert processed >= acked, "the server forgot acknowledged writes"
        ops = [e for e in journal if "op" in e and e.get("mutation")]
        tally.kinds.update(e["kind"] for e in ops)
        expected: Counter[tuple[str, str]] = Counter()
        for op in ops:
            if op["mutation"] > acked:
                continue
            tally.acknowledged += 1
            conflict = conflicts.get((client_id, op["mutation"]))
            if conflict is not None:
                tally.conflicts[conflict.code] += 1
            if op["kind"] == "edit":
                _check_edit(op, conflict, history)
            if conflict is None:
                expected[(device, op["target"])] += 1
            if op["kind"] == "book" and conflict is None:
                assert op["target"] in server_appointments, "an acknowledged booking is lost"
        for key, count in expected.items():
            assert applied[key] >= count, "an acknowledged change left no audited effect"


def _field_history(session: Session, org: str) -> dict[tuple[str, str], list[str]]:
    """Each patient field's successive values on the server, from the change log."""
    history: dict[tuple[str, str], list[str]] = {}
    log = db.ChangeLogEntry
    for entity_id, payload in session.execute(
            select(log.entity_id, log.payload).where(
                log.organization_id == org, log.entity == "patient", log.op == "upsert")
            .order_by(log.version, log.id)):
        for name in ("phone", "email"):
            values = history.setdefault((entity_id, name), [])
            value = (payload or {}).get(name, "")
            if not values or values[-1] != value:
                values.append(value)
    return history


def _check_edit(op: dict[str, Any], conflict: db.Conflict | None,
                history: dict[tuple[str, str], list[str]]) -> None:
    """An applied edit replaced the value it was based on; a refused one is a conflict."""
    values = history[(op["target"], op["field"])]
    if conflict is not None:
        assert op["value"] not in values, "a conflicting edit was applied anyway"
        return
    assert op["value"] in values, "an acknowledged patient edit is lost"
    position = values.index(op["value"])
    assert position > 0 and values[position - 1] == op["base"], (
        "an edit overwrote a value its desk had not seen, without a conflict")
