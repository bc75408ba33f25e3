"""``recode-lsp [--tcp HOST:PORT] [--log-file FILE] [-v]``: start the language server."""

from __future__ import annotations

import argparse
import logging
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="recode-lsp",
        description="ReCode language server: outdated library API calls, with fixes. "
        "Speaks LSP over stdio unless --tcp is given.",
    )
    p.add_argument("--stdio", action="store_true", help="use stdio (the default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP socket instead of stdio")
    p.add_argument("--log-file", metavar="FILE", help="write the server's log to FILE")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from recode.server.lsp.server import _version, create_server

    if args.version:
        print(f"recode-lsp {_version()}")
        return 0
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    # never log to stdout: it carries the protocol
    handler: logging.Handler = (
        logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=level, handlers=[handler], format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if level > logging.DEBUG:
        logging.getLogger("pygls").setLevel(max(level, logging.WARNING))
    server = create_server()
    if args.tcp:
        host, sep, port = args.tcp.rpartition(":")
        if not sep or not port.isdigit():
            print("recode-lsp: --tcp takes HOST:PORT", file=sys.stderr)
            return 2
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    server.start_io()
    return server.exit_code  # 1 where the client left without shutdown


if __name__ == "__main__":
    sys.exit(main())
