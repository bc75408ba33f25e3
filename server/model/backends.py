"""Ways to ask a ReCode model: an OpenAI-compatible HTTP server, or transformers in-process.

Both take the ReCode chat messages (:func:`recode.dataset.prompt.build_messages`) and return
``n`` samples, each the text generated *after* the assistant turn's ``"<think>"`` prefill, as
training and the reward see completions.

:class:`OpenAIBackend` talks to what ``vllm serve`` (and ``recode-serve``) exposes, with the
standard library's HTTP client. The prefill rides on vLLM's chat extensions: the messages end
with an assistant message ``"<think>"`` and the request says ``continue_final_message: true,
add_generation_prompt: false``, so the server renders the model's own chat template and the
model continues that turn. A server that refuses those fields (a plain OpenAI-compatible one)
gets the ordinary chat request instead (``mode="auto"``, the default); the answer is still found
by its ``<answer>`` block.

:class:`TransformersBackend` loads a model folder (and optionally a PEFT adapter) with
transformers on first use; nothing here imports torch or transformers before that, so the editor
side pays for them only when it runs a model in-process.

Failures are :class:`BackendError` subclasses whose message says what to do.
"""

from __future__ import annotations

import datetime
import email.utils
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from recode.dataset.prompt import THINK_PREFILL, render_prompt

__all__ = [
    "Backend",
    "BackendError",
    "BackendResponseError",
    "BackendTimeout",
    "BackendUnavailable",
    "OpenAIBackend",
    "Sample",
    "TransformersBackend",
    "normalize_base_url",
]

Messages = Sequence[Mapping[str, str]]


class BackendError(Exception):
    """The model could not be asked, or its server answered something unusable."""


class BackendUnavailable(BackendError):
    """Nothing answers at the URL (refused, reset, unknown host), even after retries."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message  # what the connection failed with, in a few words


class BackendTimeout(BackendError):
    """The server took longer than the timeout."""


class BackendResponseError(BackendError):
    """An HTTP error status or a body that is not an OpenAI-style response."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Sample:
    """One generated completion (the text after the prefill)."""

    text: str
    finish_reason: str | None = None  # "stop", "length" (cut at max_tokens), ...


@dataclass(frozen=True)
class GenerationSettings:
    n: int = 4
    max_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None


class Backend(Protocol):
    """What the migration engine needs from a model."""

    @property
    def description(self) -> str: ...

    def generate(self, messages: Messages, settings: GenerationSettings) -> list[Sample]: ...


def normalize_base_url(url: str) -> str:
    """The API root: ``http://host:8000`` and ``http://host:8000/`` mean ``http://host:8000/v1``.

    A URL with a path is taken as it is (``http://host/openai/v1``), less an endpoint's own name
    (``.../v1/chat/completions`` and ``.../v1/models`` are the API at ``.../v1``). Every client of
    a model server in ReCode goes through this function (and :class:`OpenAIBackend`), so a URL
    means the same to the CLI, the language server, the dataset builder and recode-serve.

    >>> normalize_base_url("http://127.0.0.1:8000"), normalize_base_url("http://h/v1/")
    ('http://127.0.0.1:8000/v1', 'http://h/v1')
    >>> normalize_base_url("https://h/v1/chat/completions")
    'https://h/v1'
    """
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    for endpoint in _ENDPOINTS:
        if path.endswith(endpoint):
            path = path[: -len(endpoint)]
            break
    if not path:
        path = "/v1"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


_ENDPOINTS = ("/chat/completions", "/completions", "/models")

# -- OpenAI-compatible HTTP ------------------------------------------------------------------

_RETRY_STATUS = {429, 502, 503, 504}
#: The longest ``Retry-After`` waited for; a server asking for more gets it, capped.
MAX_RETRY_AFTER = 60.0
_PREFILL_FIELDS = ("continue_final_message", "add_generation_prompt")


class OpenAIBackend:
    """A client of an OpenAI-compatible server (``/v1/models``, ``/v1/chat/completions``).

    ``timeout`` bounds each HTTP attempt (seconds). Refused or dropped connections and HTTP 429,
    502, 503 and 504 are retried ``retries`` times, waiting ``backoff``, then twice that, and so
    on (at most 8 s a wait), or as long as a 429 or 503 answer's ``Retry-After`` says (seconds
    or an HTTP date; at most :data:`MAX_RETRY_AFTER`); a timeout is not retried (a slow server
    would only be slow again) unless ``retry_timeouts``. ``model`` None asks the server for its
    first model.
    ``mode``: ``"prefill"`` (vLLM's continue_final_message), ``"chat"`` (plain chat) or
    ``"auto"`` (prefill, and plain chat from then on if the server refuses it).
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        retry_timeouts: bool = False,
        mode: str = "auto",
    ) -> None:
        if mode not in ("auto", "prefill", "chat"):
            raise ValueError(f"mode must be auto, prefill or chat, not {mode!r}")
        self.base_url = normalize_base_url(base_url)
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("RECODE_MODEL_API_KEY")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.retry_timeouts = retry_timeouts
        self.mode = mode
        self.last_usage: dict[str, Any] | None = None  # token counts of the last answer
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return f"{self.model or '(first model)'} at {self.base_url}"

    # -- requests ----------------------------------------------------------------------------

    def models(self, timeout: float | None = None) -> list[str]:
        """The model ids the server lists (``GET /models``)."""
        data = self._request("GET", "/models", None, timeout)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise BackendResponseError(
                f"{self.base_url}/models did not return an OpenAI-style model list"
            )
        return [str(m["id"]) for m in items if isinstance(m, dict) and "id" in m]

    def resolve_model(self, timeout: float | None = None) -> str:
        """The model name to send: the configured one, checked, or the server's first.

        ``timeout`` overrides the backend's for this one request (a quick check).
        """
        available = self.models(timeout)
        if self.model is None:
            if not available:
                raise BackendResponseError(f"the server at {self.base_url} lists no model")
            with self._lock:
                self.model = available[0]
            return available[0]
        if available and self.model not in available:
            raise BackendResponseError(
                f"the server at {self.base_url} does not serve the model {self.model!r} "
                f"(it serves: {', '.join(available[:8])})"
            )
        return self.model

    def generate(self, messages: Messages, settings: GenerationSettings) -> list[Sample]:
        model = self.model or self.resolve_model()
        body: dict[str, Any] = {
            "model": model,
            "n": settings.n,
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
        }
        if settings.seed is not None:
            body["seed"] = settings.seed
        if self.mode in ("auto", "prefill"):
            prefilled = {
                **body,
                "messages": [*map(dict, messages), {"role": "assistant", "content": THINK_PREFILL}],
                "continue_final_message": True,
                "add_generation_prompt": False,
            }
            try:
                return self._samples(self._request("POST", "/chat/completions", prefilled))
            except BackendResponseError as exc:
                refused = exc.status in (400, 422) and any(
                    f in str(exc) for f in (*_PREFILL_FIELDS, "extra", "not permitted")
                )
                if self.mode == "prefill" or not refused:
                    raise
                with self._lock:
                    self.mode = "chat"
        plain = {**body, "messages": [*map(dict, messages)]}
        return self._samples(self._request("POST", "/chat/completions", plain))

    def _samples(self, data: Any) -> list[Sample]:
        usage = data.get("usage") if isinstance(data, dict) else None
        self.last_usage = usage if isinstance(usage, dict) else None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices:
            raise BackendResponseError(
                f"{self.base_url}/chat/completions answered without choices: "
                f"{json.dumps(data)[:300]}"
            )
        out: list[tuple[int, Sample]] = []
        for i, choice in enumerate(choices):
            if not isinstance(choice, dict):
                raise BackendResponseError("a choice in the response is not an object")
            message = choice.get("message") or {}
            text = message.get("content") if isinstance(message, dict) else None
            if text is None:
                text = choice.get("text", "")
            if not isinstance(text, str):
                text = str(text)
            # a server that echoes the prefill (plain chat with a reasoning template) is fine
            if text.startswith(THINK_PREFILL):
                text = text[len(THINK_PREFILL) :]
            out.append((int(choice.get("index", i)), Sample(text, choice.get("finish_reason"))))
        return [s for _, s in sorted(out, key=lambda pair: pair[0])]

    def _request(self, method: str, path: str, body: Any, timeout: float | None = None) -> Any:
        url = self.base_url + path
        timeout = self.timeout if timeout is None else timeout
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last: BackendError | None = None
        asked_wait: float | None = None  # the server's Retry-After
        for attempt in range(self.retries + 1):
            if attempt:
                backoff = min(8.0, self.backoff * 2 ** (attempt - 1))
                time.sleep(backoff if asked_wait is None else asked_wait)
                asked_wait = None
            request = urllib.request.Request(url, data=payload, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                    raw = response.read()
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                err = BackendResponseError(
                    f"{method} {url} answered HTTP {exc.code}: {detail}", exc.code
                )
                if exc.code in _RETRY_STATUS:
                    last = err
                    if exc.code in (429, 503):
                        asked_wait = _retry_after(exc.headers.get("Retry-After"))
                    continue
                raise err from None
            except TimeoutError as exc:
                last = BackendTimeout(
                    f"the model server at {self.base_url} did not answer within "
                    f"{timeout:g} s ({method} {path})"
                )
                if self.retry_timeouts:
                    continue
                raise last from exc
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError):
                    last = BackendTimeout(
                        f"the model server at {self.base_url} did not answer within "
                        f"{timeout:g} s ({method} {path})"
                    )
                    if self.retry_timeouts:
                        continue
                    raise last from exc
                last = BackendUnavailable(
                    f"the model server at {self.base_url} is not reachable ({reason}); is it "
                    "running? (recode-serve starts one)",
                    str(reason),
                )
                continue
            except (http.client.HTTPException, ConnectionError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                last = BackendUnavailable(
                    f"the connection to the model server at {self.base_url} failed "
                    f"({reason}); did it stop?",
                    reason,
                )
                continue
            try:
                return json.loads(raw)
            except ValueError:
                raise BackendResponseError(
                    f"{method} {url} did not answer JSON: {raw[:200]!r}"
                ) from None
        assert last is not None
        if self.retries and isinstance(last, BackendUnavailable):
            last = BackendUnavailable(f"{last} (tried {self.retries + 1} times)", last.reason)
        raise last


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110: seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    wait = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    return min(max(wait, 0.0), MAX_RETRY_AFTER)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(4000)
    except Exception:  # noqa: BLE001 - a broken error body must not hide the status
        raw = b""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:300] or str(exc.reason)
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])[:500]
        if isinstance(data.get("detail"), str | list):
            return json.dumps(data["detail"])[:500]
    return json.dumps(data)[:300]


# -- transformers, in-process ----------------------------------------------------------------


class TransformersBackend:
    """A model folder run with transformers in this process (small models on a CPU).

    ``adapter`` is a PEFT adapter folder (LoRA/DoRA from training) applied on top. The model
    loads on the first :meth:`generate`; torch and transformers are imported only then.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        adapter: str | os.PathLike[str] | None = None,
        device: str = "cpu",
    ) -> None:
        self.model_path = str(model_path)
        self.adapter = str(adapter) if adapter is not None else None
        self.device = device
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        extra = f" + adapter {self.adapter}" if self.adapter else ""
        return f"{self.model_path}{extra} (in-process transformers)"

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                try:
                    from transformers import AutoModelForCausalLM, AutoTokenizer
                except ImportError as exc:
                    raise BackendError(
                        "the in-process backend needs torch and transformers "
                        "(pip install -e '.[training]')"
                    ) from exc
                try:
                    tokenizer = AutoTokenizer.from_pretrained(self.model_path)
                    model = AutoModelForCausalLM.from_pretrained(self.model_path)
                except (OSError, ValueError) as exc:
                    raise BackendError(f"cannot load the model {self.model_path}: {exc}") from exc
                if self.adapter:
                    model = self._apply_adapter(model)
                model.to(self.device)
                model.eval()
                self._loaded = (tokenizer, model)
            return self._loaded

    def _apply_adapter(self, model: Any) -> Any:
        """The PEFT adapter (``adapter_config.json`` + weights) on top of the base model."""
        try:
            from peft import PeftModel
        except ImportError as exc:
            raise BackendError("an adapter needs peft (pip install -e '.[training]')") from exc
        try:
            # RuntimeError: weights whose shapes do not fit this base model.
            return PeftModel.from_pretrained(model, self.adapter)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendError(
                f"cannot apply the adapter {self.adapter} to {self.model_path}: {exc}"
            ) from exc

    def generate(self, messages: Messages, settings: GenerationSettings) -> list[Sample]:
        import torch

        tokenizer, model = self._load()
        prompt = render_prompt(tokenizer, messages)
        enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        sampling = settings.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_tokens,
            "num_return_sequences": settings.n,
            "do_sample": sampling,
            "pad_token_id": (
                tokenizer.pad_token_id
                if tokenizer.pad_token_id is not None
                else tokenizer.eos_token_id
            ),
        }
        if sampling:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        with torch.no_grad():
            out = model.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        eos = tokenizer.eos_token_id
        samples = []
        for row in out:
            new = row[prompt_len:]
            finished = eos is not None and bool((new == eos).any())
            text = tokenizer.decode(new, skip_special_tokens=True)
            samples.append(Sample(text, "stop" if finished else "length"))
        return samples
