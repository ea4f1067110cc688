"""The desk's encrypted local store: SQLCipher database, keys, schema, migrations, outbox.

Open it with :func:`desktop.store.keys.open_store` (or create it with
:func:`desktop.store.keys.create_store`); see ``keys`` for how the key is kept.
"""
