"""`initialized`: show the settings' problems, register for configuration changes, start
watching the environment and build the folders' contexts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from recode.server.lsp.client import Client
    from recode.server.lsp.session import Session

import asyncio

from recode.server.lsp import settings as settings_mod


async def handle(session: Session, client: Client, params: types.InitializedParams) -> None:
    for problem in session.init_problems:
        client.show(f"ReCode: {problem} (ignored)")
    if client.supports("workspace.did_change_configuration.dynamic_registration"):
        try:
            await client.register(
                types.RegistrationParams(
                    registrations=[
                        types.Registration(
                            id="recode-configuration",
                            method=types.WORKSPACE_DID_CHANGE_CONFIGURATION,
                            register_options=types.DidChangeConfigurationRegistrationOptions(
                                section=settings_mod.SECTION
                            ),
                        )
                    ]
                )
            )
        except Exception as exc:
            client.log(f"could not register for configuration changes: {exc}")
    session.watcher.start(asyncio.get_running_loop(), session.base_settings.poll_seconds)
    session.ready.set()
    for folder in list(session.folders.values()):
        if folder.context is None and folder.building is None:
            session.start_build(folder)
