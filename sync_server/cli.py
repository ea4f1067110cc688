"""``clinicdesk-server``: run, migrate and administer the sync server.

Every command prints a clear message and returns a non-zero exit code on
failure; expected errors never show a traceback.
"""

from __future__ import annotations

import argparse
import gc
import getpass
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from sync_server.core.config import Settings
from sync_server.core.security import Passwords, password_hasher
from sync_server.db.migrate import current_revision, upgrade
from sync_server.db.models import Organization
from sync_server.db.session import make_engine, make_session_factory
from sync_server.services import accounts, audit, devices, organizations
from sync_server.services.errors import ServiceError
from sync_server.services.pokes import PokeBroker

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """An expected failure: printed as ``error: …`` without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage problem
        return int(exc.code or 0)
    overrides = {"database_url": args.database_url} if args.database_url else {}
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        print(f"error: invalid setting(s): {fields} (see CLINICDESK_* variables)", file=sys.stderr)
        return EXIT_FAILURE
    try:
        command: Callable[[Settings, argparse.Namespace], int] = args.run
        return command(settings, args)
    except (CommandError, ServiceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except DBAPIError as exc:
        print(
            f"error: database error ({type(exc.orig).__name__}): {_safe_url(settings)} — "
            "check that the database is running and migrated.",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinicdesk-server", description=__doc__)
    parser.add_argument("--database-url", help="overrides CLINICDESK_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the HTTP server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(run=_serve)

    p = sub.add_parser("worker", help="send notifications and reminders (run one or more)")
    p.add_argument("--batch", type=int, default=20, help="rows claimed at a time")
    p.add_argument("--group", type=int, default=10,
                   help="messages sent between two commits of their outcomes (a worker "
                        "killed in between sends at most this many again; 1: one)")
    p.add_argument("--once", action="store_true",
                   help="send what is due now, then stop")
    p.set_defaults(run=_worker)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(run=_migrate)

    p = sub.add_parser("create-org", help="create an organization with the default roles")
    p.add_argument("name")
    p.add_argument("--slug", help="short name used at sign-in (default: from the name)")
    p.set_defaults(run=_create_org)

    p = sub.add_parser("create-user", help="create a user account")
    p.add_argument("--org", required=True, metavar="SLUG")
    p.add_argument("email")
    p.add_argument(
        "--role",
        action="append",
        required=True,
        help="administrator, receptionist, provider or viewer (repeatable)",
    )
    p.add_argument("--name", default="", help="display name")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    p.set_defaults(run=_create_user)

    p = sub.add_parser("enroll-code", help="print a one-time desk enrollment code")
    p.add_argument("--org", required=True, metavar="SLUG")
    p.add_argument("--ttl-hours", type=int, default=None)
    p.set_defaults(run=_enroll_code)

    p = sub.add_parser("revoke-device", help="revoke an enrolled desk")
    p.add_argument("--org", required=True, metavar="SLUG")
    p.add_argument("client_id")
    p.set_defaults(run=_revoke_device)

    p = sub.add_parser("unlock-account",
                       help="lift the sign-in pauses of an account after failed attempts")
    p.add_argument("--org", required=True, metavar="SLUG")
    p.add_argument("email")
    p.add_argument("--address", metavar="IP",
                   help="only the pause for sign-ins from this client address")
    p.set_defaults(run=_unlock_account)

    p = sub.add_parser("verify-audit", help="check the audit log's hash chains")
    p.add_argument("--org", metavar="SLUG", help="only this organization")
    p.set_defaults(run=_verify_audit)

    p = sub.add_parser("backup", help="write a consistent backup of the database to a file")
    p.add_argument("file", type=Path)
    p.set_defaults(run=_backup)

    p = sub.add_parser("restore", help="replace the database's content with a backup file")
    p.add_argument("file", type=Path)
    p.add_argument("--yes", action="store_true",
                   help="confirm replacing a database that already holds data")
    p.set_defaults(run=_restore)

    p = sub.add_parser("export", help="write an organization's data as CSV and FHIR NDJSON")
    p.add_argument("--org", required=True, metavar="SLUG")
    p.add_argument("--patient", metavar="ID", help="only this patient's record and appointments")
    p.add_argument("folder", type=Path)
    p.set_defaults(run=_export)

    p = sub.add_parser("seed-demo", help="load the demo organization (slug 'demo')")
    p.set_defaults(run=_seed_demo)
    return parser


def _now() -> datetime:
    return datetime.now(UTC)


def _safe_url(settings: Settings) -> str:
    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    url = settings.resolved_database_url
    if current_revision(url) is None:
        raise CommandError(
            f"the database {_safe_url(settings)} has no schema yet; "
            "run 'clinicdesk-server migrate' first"
        )
    engine = make_engine(url, connect_timeout=settings.db_connect_timeout_seconds)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


class EventAwareServer(uvicorn.Server):
    """``uvicorn.Server`` that ends the app's event streams as soon as shutdown starts.

    uvicorn waits for open responses *before* it runs the app's lifespan shutdown,
    and an event stream never finishes by itself, so without this every open
    stream would hold the shutdown for the whole graceful timeout.
    """

    def __init__(self, config: uvicorn.Config, *, tune_collector: bool = False) -> None:
        super().__init__(config)
        self.tune_collector = tune_collector

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.tune_collector:
            tune_collector_for_serving()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        broker = getattr(getattr(self.config.app, "state", None), "pokes", None)
        if isinstance(broker, PokeBroker):
            broker.close()
        await super().shutdown(sockets)


#: New objects (net of those freed) after which the collector walks its youngest
#: generation; CPython's default is 700. See :func:`tune_collector_for_serving`.
YOUNG_GENERATION_THRESHOLD = 20_000


def tune_collector_for_serving() -> None:
    """The garbage collector of a process that is nothing but this server (not tests, not
    a desk), once the app has started:

    - What exists then (modules, mappers, routes, settings) lives as long as the process:
      frozen, it is kept out of every later collection. Large pushes allocate millions of
      objects, and each full collection would walk this heap again (measured: a
      10,000-mutation push spent ~0.5 s in them).
    - The youngest generation is collected after 20,000 new objects instead of 700. A
      poke wakes every stream of an organization at once; with 700, that burst alone set
      off collections which moved each stream's fresh wake-up future into the older
      generations, and every few pokes a full collection walked all 10,000 streams
      (~0.25 s, during a poke). Cyclic garbage waits a little longer (a few MB at most).
      docs/performance.md, item 9."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from sync_server.app import create_app
    from sync_server.core.logging import configure_logging

    configure_logging(settings.log_level)
    if settings.is_sqlite:
        upgrade(settings.resolved_database_url)  # the embedded database keeps itself current
    elif current_revision(settings.resolved_database_url) is None:
        raise CommandError("the database has no schema yet; run 'clinicdesk-server migrate' first")
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_config=None,
        timeout_graceful_shutdown=5,  # a fallback: EventAwareServer ends streams at once
    )
    EventAwareServer(config, tune_collector=True).run()
    return EXIT_OK


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    import signal
    import threading

    from sync_server.core.logging import configure_logging
    from sync_server.notifications.links import LinkKey
    from sync_server.notifications.worker import Worker

    configure_logging(settings.log_level)
    if args.batch < 1 or args.group < 1:
        raise CommandError("--batch and --group must be at least 1")
    with _session(settings) as session:
        worker = Worker(sessionmaker(session.get_bind(), expire_on_commit=False),
                        LinkKey(settings.signing_key()), batch=args.batch,
                        group=args.group, public_url=settings.public_url)
        if args.once:
            try:
                while worker.run_once():
                    pass
            finally:
                worker.close()
            return EXIT_OK
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        print(f"notification worker {worker.owner} running (Ctrl+C stops it)", file=sys.stderr)
        worker.run(stop, settings.worker_idle_seconds)
    return EXIT_OK


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    upgrade(settings.resolved_database_url)
    print(
        f"database {_safe_url(settings)} is at revision "
        f"{current_revision(settings.resolved_database_url)}"
    )
    return EXIT_OK


def _create_org(settings: Settings, args: argparse.Namespace) -> int:
    with _session(settings) as session:
        org = organizations.create_organization(session, args.name, _now(), args.slug)
        session.commit()
        print(f"created organization '{org.name}' (slug {org.slug}, id {org.id})")
    return EXIT_OK


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise CommandError("the passwords do not match")
    if not password:
        raise CommandError("no password given")
    return password


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    with _session(settings) as session:
        org = organizations.get_organization(session, args.org)
        user = accounts.create_user(
            session,
            Passwords(password_hasher(settings)),
            org.id,
            args.email,
            password,
            args.role,
            _now(),
            display_name=args.name,
        )
        session.commit()
        print(f"created user {user.email} (id {user.id}) with role(s) {', '.join(args.role)}")
    return EXIT_OK


def _enroll_code(settings: Settings, args: argparse.Namespace) -> int:
    hours = args.ttl_hours or settings.enrollment_code_hours
    if hours < 1:
        raise CommandError("--ttl-hours must be at least 1")
    with _session(settings) as session:
        org = organizations.get_organization(session, args.org)
        code, expires = devices.create_enrollment_code(
            session, org.id, _now(), timedelta(hours=hours), audit.Actor()
        )
        session.commit()
    print(code)
    print(f"one-time code, valid until {expires:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    return EXIT_OK


def _revoke_device(settings: Settings, args: argparse.Namespace) -> int:
    with _session(settings) as session:
        org = organizations.get_organization(session, args.org)
        device = devices.find_device_by_client_id(session, org.id, args.client_id)
        devices.revoke_device(session, org.id, device, _now(), audit.Actor())
        print(f"revoked desk {device.client_id} ({device.name or 'unnamed'})")
    return EXIT_OK


def _unlock_account(settings: Settings, args: argparse.Namespace) -> int:
    with _session(settings) as session:
        org = organizations.get_organization(session, args.org)
        user = accounts.find_user(session, org.id, args.email)
        paused = accounts.unlock(session, user, _now(), client_address=args.address)
    where = f"from {args.address}" if args.address else "from every address"
    print(f"unlocked {user.email} {where} ({paused} paused address(es) cleared)")
    return EXIT_OK


def _verify_audit(settings: Settings, args: argparse.Namespace) -> int:
    with _session(settings) as session:
        if args.org:
            orgs = [organizations.get_organization(session, args.org)]
        else:
            orgs = list(session.scalars(select(Organization).order_by(Organization.slug)))
        broken = 0
        for org in orgs:
            problem = audit.verify(session, org.id)
            if problem is None:
                print(f"ok: {org.slug}")
            else:
                broken += 1
                print(f"TAMPERED: {org.slug}: {problem.describe()}")
    return EXIT_FAILURE if broken else EXIT_OK


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from sync_server.db.backup import BackupError, backup

    try:
        backup(settings.resolved_database_url, args.file)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    print(f"backed up {_safe_url(settings)} to {args.file} ({args.file.stat().st_size} bytes)")
    return EXIT_OK


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from sync_server.db.backup import BackupError, restore

    url = settings.resolved_database_url
    if not args.yes and _holds_schema(url):
        raise CommandError(
            f"the database {_safe_url(settings)} already holds data and restoring replaces all "
            "of it: stop every server instance, then run the command again with --yes"
        )
    try:
        restore(url, args.file)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    upgrade(url)  # a backup from an older release is brought to this release's schema
    print(f"restored {args.file} into {_safe_url(settings)} "
          f"(revision {current_revision(url)})")
    return EXIT_OK


def _holds_schema(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return False
    return current_revision(url) is not None


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from sync_server.db.export import export_organization

    with _session(settings) as session:
        org = organizations.get_organization(session, args.org)
        summary = export_organization(session, org.id, args.folder, patient_id=args.patient)
    rows = sum(summary.csv_rows.values())
    resources = ", ".join(f"{count} {name}" for name, count in summary.fhir_resources.items())
    print(f"exported {org.slug} to {args.folder}: {rows} rows in {len(summary.csv_rows)} "
          f"CSV files; FHIR NDJSON: {resources}")
    return EXIT_OK


def _seed_demo(settings: Settings, _args: argparse.Namespace) -> int:
    from sync_server.services.demo import DEMO_SLUG, seed_demo

    with _session(settings) as session:
        if organizations.find_organization(session, DEMO_SLUG) is not None:
            raise CommandError("the demo organization already exists in this database")
        seeded = seed_demo(session, Passwords(password_hasher(settings)), _now())
    print(f"demo organization '{seeded.slug}': {seeded.appointments} appointments")
    for email in seeded.users:
        print(f"  user {email} / password {seeded.password}")
    for code in seeded.enrollment_codes:
        print(f"  desk enrollment code {code}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
