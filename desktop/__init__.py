"""The ClinicDesk desk application (PySide6) and its encrypted local store."""
