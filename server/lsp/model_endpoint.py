"""The model endpoint check (``modelUrl``, ``model`` settings).

When the settings name an endpoint, the server checks that an OpenAI-compatible endpoint
answers ``GET {modelUrl}/models`` (``/v1/models`` for a URL without a path: what ``vllm serve``
exposes) within a few seconds, in a worker thread, and tells the user with a
``window/showMessage`` warning when it does not. A down or slow endpoint never blocks or crashes
anything. The endpoint is used by the "Migrate with the ReCode model" code action
(``recode.migrateWithModel``, handlers/execute_command.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from recode.server.model.backends import (
    BackendResponseError,
    BackendTimeout,
    BackendUnavailable,
    OpenAIBackend,
)


@dataclass(frozen=True)
class EndpointStatus:
    url: str
    ok: bool
    message: str
    models: tuple[str, ...] = ()


def check(url: str, model: str | None, timeout: float) -> EndpointStatus:
    """Ask the endpoint for its models (blocking: call it from a worker thread), with the client
    the migration itself uses: the same URL (``http://host:8000`` is ``http://host:8000/v1``),
    API key (``RECODE_MODEL_API_KEY``) and errors."""
    try:
        backend = OpenAIBackend(url, model, timeout=timeout, retries=0)
        models = tuple(backend.models())
    except ValueError as exc:  # not an http(s) URL
        return EndpointStatus(url, False, f"ReCode: modelUrl {url!r} cannot be used: {exc}")
    except BackendResponseError as exc:
        return EndpointStatus(
            url,
            False,
            f"ReCode: the model endpoint {url} answered GET {backend.base_url}/models with "
            f"{exc}; is it an OpenAI-compatible server (vllm serve)?"
            if exc.status is None
            else f"ReCode: the model endpoint {url} answered HTTP {exc.status} to GET "
            f"{backend.base_url}/models; is it an OpenAI-compatible server (vllm serve)?",
        )
    except BackendTimeout:
        return EndpointStatus(
            url,
            False,
            f"ReCode: the model endpoint {url} did not answer within {timeout:g} s; "
            "model-based migration is unavailable until it does.",
        )
    except BackendUnavailable as exc:
        return EndpointStatus(
            url,
            False,
            f"ReCode: the model endpoint {url} is not reachable ({exc.reason}); "
            "model-based migration is unavailable until it is.",
        )
    if model and models and model not in models:
        return EndpointStatus(
            url,
            False,
            f"ReCode: the model endpoint {url} does not serve the model {model!r} "
            f"(it serves {', '.join(models[:5])}).",
            models,
        )
    return EndpointStatus(url, True, f"ReCode: model endpoint {url} is reachable.", models)
