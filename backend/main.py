"""Entry point: `python backend/main.py` serves the API and Socket.IO on $HOST:$PORT until Ctrl-C."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimistic_messaging.boot import boot, config_from_env  # noqa: E402
from optimistic_messaging.server import serve  # noqa: E402


def main() -> None:
    config = config_from_env()
    try:
        serve(boot(config), config)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
