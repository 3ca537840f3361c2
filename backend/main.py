"""Entry point: `python backend/main.py` serves the API and Socket.IO on $HOST:$PORT until Ctrl-C."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimistic_messaging.app import create_app  # noqa: E402
from optimistic_messaging.config import Config  # noqa: E402
from optimistic_messaging.server import serve  # noqa: E402


def main() -> None:
    config = Config.from_env()
    try:
        serve(create_app(config), config)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
