"""Patient search at clinic-group size: the folded name index, kept in step by every write."""

from __future__ import annotations

import itertools

from sqlalchemy import insert

from desktop.services import patients
from desktop.services.context import DeskContext
from desktop.store import patient_names
from desktop.store.models import PatientNameKey, PatientRow
from desktop.sync import mirror
from scheduling.sync_protocol import Tombstone
from tests.desktop.services.conftest import ORG

GIVEN = ("María", "José", "Lucía", "Ángel", "Sofía", "Iñaki", "Chloé", "Zoë", "Ana", "Tomás",
         "Björn", "Renée", "Nuno", "Inés", "Raúl", "Elena", "Óscar", "Noëlle", "Luis", "Marta")
FAMILY = ("García", "Fernández", "López", "Martín", "Sánchez", "Pérez", "Gómez", "Ruiz",
          "Díaz", "Álvarez", "Muñoz", "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres",
          "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina",
          "Morales", "Suárez", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín")


def add_many(ctx: DeskContext, count: int) -> None:
    """``count`` patients written in bulk, around the ORM, with their name index rows (as a
    bulk writer must: see :mod:`desktop.store.patient_names`)."""
    names = itertools.cycle(itertools.product(GIVEN, FAMILY, FAMILY))
    rows, keys = [], []
    for n, (given, first, second) in zip(range(count), names, strict=False):
        family = f"{first} {second}"
        rows.append({"id": f"bulk-{n}", "organization_id": ORG, "given_name": given,
                     "family_name": family, "active": True, "phone": f"+34 6{n:08d}",
                     "email": "", "preferred_language": "es", "server_version": 1,
                     "folded_name": patient_names.sort_key(given, family),
                     "phone_digits": f"346{n:08d}"})
        keys.extend({"word": w, "patient_id": f"bulk-{n}"}
                    for w in patient_names.name_words(given, family))
    with ctx.store.write() as session:
        session.execute(insert(PatientRow), rows)
        session.execute(insert(PatientNameKey), keys)


def ids(found: tuple[object, ...]) -> set[str]:
    return {p.id for p in found}  # type: ignore[attr-defined]


def test_search_finds_accented_and_unaccented_names_among_100000_patients(
    ctx: DeskContext
) -> None:
    add_many(ctx, 100_000)
    created = patients.create(ctx, given_name="Íñigo", family_name="Zúñiga Ibáñez")
    plain = patients.create(ctx, given_name="Inigo", family_name="Zuniga")
    assert created.ok and plain.ok
    both = {created.patient.id, plain.patient.id}  # type: ignore[union-attr]

    assert ids(patients.search(ctx, "zuniga")) == both
    assert ids(patients.search(ctx, "ZÚÑIGA")) == both
    assert ids(patients.search(ctx, "íñigo zúñ")) == both
    assert ids(patients.search(ctx, "ibanez")) == {created.patient.id}  # type: ignore[union-attr]
    assert ids(patients.search(ctx, "Carla Núñez")) == {"pat-carla"}

    common = patients.search(ctx, "maría garcía", limit=20)
    assert len(common) == 20
    assert all("garcia" in patient_names.fold(p.family_name).split()
               and patient_names.fold(p.given_name) == "maria" for p in common)
    keys = [patient_names.sort_key(p.given_name, p.family_name) for p in common]
    assert keys == sorted(keys)  # family, then given name


def test_a_renamed_or_deleted_patient_is_found_by_its_new_name_only(ctx: DeskContext) -> None:
    created = patients.create(ctx, given_name="Ramón", family_name="Peña")
    assert created.ok and created.patient is not None
    patient_id = created.patient.id
    assert ids(patients.search(ctx, "pena")) == {patient_id}

    assert patients.update(ctx, patient_id, family_name="Castaño").ok
    assert ids(patients.search(ctx, "pena")) == set()
    assert ids(patients.search(ctx, "castano ram")) == {patient_id}

    with ctx.store.write() as session:  # the server says the patient is gone
        mirror.apply_changes(session, [], [Tombstone("patient", "pat-carla", 9)], acknowledged=99)
    assert ids(patients.search(ctx, "nunez")) == set()
