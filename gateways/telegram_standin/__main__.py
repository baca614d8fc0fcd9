"""``python -m gateways.telegram_standin --host 127.0.0.1 --port 8081 [--flood-limits [enforce|count|off]]``:
run the stand-in."""

from __future__ import annotations

import argparse
import logging

from gateways.telegram_standin.limits import FloodLimits
from gateways.telegram_standin.server import run_server

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Serve the stand-in until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m gateways.telegram_standin",
                                     description="Local stand-in for the Telegram Bot API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--flood-limits", nargs="?", const="enforce", default="count",
                        choices=["enforce", "count", "off"],
                        help="Telegram's flood limits: enforced with 429 (the flag alone), only counted (the "
                             "default), or off (no ceilings, nothing counted: load runs)")
    parser.add_argument("--bot-token", default=None, help="accept only this token (others get 401)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger.info("telegram stand-in on http://%s:%d (flood limits %s)", args.host, args.port,
                {"enforce": "enforced", "count": "counted only", "off": "off"}[args.flood_limits])
    run_server(host=args.host, port=args.port, limits=FloodLimits.named(args.flood_limits),
               bot_token=args.bot_token, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
