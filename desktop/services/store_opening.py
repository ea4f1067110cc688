"""What opening the desk's encrypted store can raise, for the screens that explain it.

The store is opened by the application (``desktop.app``); screens only need to tell
its failures apart, and they import them from here, never from ``desktop.store``.
"""

from __future__ import annotations

from desktop.store.errors import (
    KeyStoreEntryMissing,
    NoKeyStoreError,
    StoreError,
    WrongKeyError,
    WrongPassphraseError,
)

__all__ = [
    "KeyStoreEntryMissing",
    "NoKeyStoreError",
    "StoreError",
    "WrongKeyError",
    "WrongPassphraseError",
]
