"""Administration → "Consent forms (video visits)": the consent form of each appointment
type, in English and Spanish, that patients accept in the portal before a video visit
(docs/telemedicine.md).

The shared record editor lists every version. Saving a new form, or saving changes to
any version, makes the type's next version on the server; the versions patients
accepted stay as they were. Forms are not deleted (acceptances point to them).
"""

from __future__ import annotations

from desktop.services.admin import CONFIGURE, Record
from desktop.ui.admin.fields import FieldSpec, Lookups
from desktop.ui.admin.record_editor import RecordKind
from desktop.ui.text import N_, _

PATH = "/api/v1/telemedicine/consent-forms"


def _describe(record: Record, lookups: Lookups) -> str:
    names = dict(lookups.get("appointment_types", []))
    kind = names.get(str(record["appointment_type_id"]), "—")
    return _("{type} · version {version}").format(type=kind, version=record["version"])


CONSENT_FORMS = RecordKind(
    "consent_forms", PATH, N_("Consent forms (video visits)"),
    N_("What patients read and accept in the portal before a video visit of the type. "
       "Saving makes a new version; what patients accepted earlier is kept as it was, "
       "and they are asked to accept the new version."),
    (FieldSpec("appointment_type_id", N_("Appointment type"), "choice",
               lookup="appointment_types", required=True, create_only=True),
     FieldSpec("text_en", N_("Text in English"), "multiline", required=True, default=""),
     FieldSpec("text_es", N_("Text in Spanish"), "multiline", required=True, default="")),
    _describe, removable=False, permission=CONFIGURE, lookups=("appointment_types",))
