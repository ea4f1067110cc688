"""The ``clinicdesk`` command.

``clinicdesk`` (or ``clinicdesk run``) starts the desk: enrollment on the first
run, then sign-in and the main window (:mod:`desktop.app`).
``clinicdesk demo`` starts an embedded sync server (SQLite in a temporary
folder, loopback port) with the demo organization, enrolls one or more desks
and opens their windows signed in as the receptionist. ``--terminal`` runs the
scheduling core on a small clinic in the terminal instead: a double booking
refused with its alternatives (in English and Spanish), a day's free slots
and a recurring series judged occurrence by occurrence.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from desktop.translations import translations
from scheduling.availability import SlotQuery, free_slots, next_available
from scheduling.commands import Accepted, Actor, BookAppointment, Permission, Refused
from scheduling.i18n import render_refusal
from scheduling.model import (
    AppointmentType,
    Break,
    Clinic,
    Patient,
    Resource,
    ResourceKind,
    Series,
    WeeklySchedule,
)
from scheduling.recurrence import weekly_for_weeks
from scheduling.rules import check
from scheduling.series import book_series
from scheduling.state import CalendarState
from scheduling.timeutil import to_local, to_utc

ORG, CLINIC, TZ = "demo-org", "demo-clinic", "America/New_York"


def demo_state() -> CalendarState:
    clinic = Clinic(CLINIC, ORG, "Riverside Family Clinic", TZ, "en_US")
    providers = [
        Resource("dr-garcia", ORG, ResourceKind.PROVIDER, "Dr Lucía García", frozenset({CLINIC})),
        Resource("dr-okafor", ORG, ResourceKind.PROVIDER, "Dr Ade Okafor", frozenset({CLINIC})),
    ]
    consult = AppointmentType("consult", ORG, "Consultation", timedelta(minutes=30),
                              timedelta(minutes=15), timedelta(minutes=60))
    schedules = [
        WeeklySchedule(f"ws-{p.id}-{d}", p.id, CLINIC, d, time(9), time(17),
                       (Break(time(12), time(13)),))
        for p in providers
        for d in range(5)
    ]
    patients = [Patient("pat-1", ORG, "María", "López"), Patient("pat-2", ORG, "John", "Smith")]
    return CalendarState.build(ORG, clinics=[clinic], resources=providers,
                               appointment_types=[consult], schedules=schedules,
                               patients=patients)


def run_demo(today: date) -> int:
    state = demo_state()
    staff = Actor("desk", "demo-device", frozenset(p.value for p in Permission))
    now = to_utc(datetime.combine(today, time(8)), TZ)
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    nine = to_utc(datetime.combine(monday, time(9)), TZ)

    first = check(BookAppointment(staff, "a-1", CLINIC, "pat-1", "consult", "dr-garcia", nine),
                  state, now)
    assert isinstance(first, Accepted)
    state.put_appointment(first.appointment)
    print(f"Booked María López with Dr García on {monday} at 09:00.")

    clash = check(BookAppointment(staff, "a-2", CLINIC, "pat-2", "consult", "dr-garcia", nine),
                  state, now)
    if isinstance(clash, Refused):
        names = {"dr-garcia": "Dr García", "dr-okafor": "Dr Okafor"}
        for language, locale in (("en", "en_US"), ("es", "es_ES")):
            text = render_refusal(clash, catalogue=translations(language), locale=locale, tz=TZ,
                                  names=names)
            print(f"[{language}] {text}")
        for alternative in clash.alternatives:
            print(f"    alternative: {to_local(alternative.start, TZ):%a %H:%M} "
                  f"with {names[alternative.provider_id]}")

    slots = free_slots(state, SlotQuery(CLINIC, "consult", monday, monday), now=now)
    print(f"{len(slots)} free 30-minute slots on {monday} across both providers.")
    earliest = next_available(state, CLINIC, "consult", now=now)
    if earliest is not None:
        print(f"Next available: {to_local(earliest.start, TZ):%Y-%m-%d %H:%M}.")

    series = Series("s-1", ORG, CLINIC, weekly_for_weeks([0, 2], 6),
                    datetime.combine(monday, time(9)))
    template = BookAppointment(staff, "s-1", CLINIC, "pat-2", "consult", "dr-okafor", nine)
    outcome = book_series(state, template, series, now)
    print(f"Mon/Wed 09:00 for 6 weeks: {len(outcome.accepted)} of {len(outcome.results)} "
          "occurrences can be booked.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clinicdesk", description="ClinicDesk desk application")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="start the desk (the default)")
    demo = commands.add_parser("demo", help="start a demo server and desk window(s)")
    demo.add_argument("--desks", type=int, default=1, choices=(1, 2, 3),
                      help="how many desks (each with its own encrypted store)")
    demo.add_argument("--screenshot", type=Path, metavar="DIR",
                      help="save each window as a PNG in DIR and quit (for docs and CI)")
    demo.add_argument("--terminal", action="store_true",
                      help="run the scheduling core demo in the terminal, without windows")
    from desktop.self_test import add_arguments

    add_arguments(commands.add_parser(
        "self-test", help="start the desk unattended: enroll or unlock, sign in, sync once, "
                          "show the agenda, exit 0 when all worked"))
    args = parser.parse_args(argv)
    if args.command == "self-test":
        from desktop.self_test import run_self_test

        return run_self_test(args)
    if args.command == "demo" and args.terminal:
        return run_demo(datetime.now(UTC).date())
    if args.command == "demo":
        import tempfile

        from desktop.demo_server import launch

        # The server child boots while this process imports the desk and opens the splash.
        launched = launch(Path(tempfile.mkdtemp(prefix="clinicdesk-demo-")), args.desks)
        from desktop.demo_app import run_window_demo

        return run_window_demo(launched, args.screenshot)
    if args.command in (None, "run"):
        from desktop.app import run_desk

        return run_desk()
    return 2


if __name__ == "__main__":
    sys.exit(main())
