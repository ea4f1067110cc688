"""The ClinicDesk sync server (FastAPI)."""
