"""The desk bundle's one executable: the desk, or (for the demo) the embedded sync server.

``clinicdesk demo`` starts its sync server as a child process. From source that
child is ``python -m sync_server.cli``; inside a bundle ``sys.executable`` is
the bundle itself, so the demo runs ``<bundle> --sync-server ARGS`` and this
dispatcher hands those arguments to ``sync_server.cli`` (see
``desktop.demo.server_command``). Everything else goes to ``desktop.cli``.
"""

from __future__ import annotations

import sys

SERVER_FLAG = "--sync-server"  # the same literal as desktop.demo.BUNDLE_SERVER_FLAG


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == SERVER_FLAG:
        from sync_server.cli import main as server_main

        return server_main(sys.argv[2:])
    from desktop.cli import main as desk_main

    return desk_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
