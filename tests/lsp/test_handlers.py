"""The handler table: one module per LSP method, each registered once, nothing registered
outside the table."""

from __future__ import annotations

import pkgutil

from recode.server.lsp import handlers
from recode.server.lsp.server import create_server


def test_every_handler_module_is_one_row_of_the_table() -> None:
    modules = {m.name for m in pkgutil.iter_modules(handlers.__path__)}
    rows = [h.handle.__module__.rsplit(".", 1)[-1] for h in handlers.HANDLERS]
    rows += [run.__module__.rsplit(".", 1)[-1] for _, run in handlers.COMMANDS]
    assert len({h.method for h in handlers.HANDLERS}) == len(handlers.HANDLERS)
    # each module serves one method (execute_command: one method, several commands)
    assert sorted(set(rows)) == sorted(modules)
    methods = [r for r in rows if r != "execute_command"]
    assert len(methods) == len(set(methods))


def test_the_server_registers_exactly_the_table() -> None:
    server = create_server()
    features = server.protocol.fm.features
    assert set(features) == {h.method for h in handlers.HANDLERS}
    for h in handlers.HANDLERS:
        assert server.protocol.fm.feature_options.get(h.method) == h.options
    assert set(server.protocol.fm.commands) == {name for name, _ in handlers.COMMANDS}
