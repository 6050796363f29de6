"""Serving the chat window: its launch settings, and the middleware that refuses what a
web page elsewhere could make a browser send."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse

from ui.app import build_app
from ui.guard import LOOPBACK_NAMES, ArticleGuard, host_name
from ui.render import CSS


class SameOriginOnly:
    """Refuse what a web page elsewhere, or a hostile host name, could make a browser send.

    Gradio's own CORS handling only hides responses from other origins; the
    request itself still runs (an upload is written, a question answered, a
    vote saved). Here a request carrying an ``Origin`` other than the server's
    own address is refused before anything runs. When the server is bound to
    this machine only, a ``Host`` that is not a loopback name is refused too, so
    a DNS-rebinding page cannot pass as same-origin. Asking the server to fetch
    a URL (``/file=http…``, ``/proxy=``, or a call naming a file by URL) is refused: it
    never reaches the network.
    """

    def __init__(self, app, *, loopback_only: bool, max_body: int) -> None:
        self.app = app
        self.loopback_only = loopback_only
        self.max_body = max_body

    def refusal(self, scope) -> str | None:
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope["headers"]
        }
        host = headers.get("host", "")
        if self.loopback_only and host_name(host) not in LOOPBACK_NAMES:
            return f"host {host!r} is not this machine"
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return f"cross-origin request from {origin!r}"
        path = scope.get("path", "")
        if re.search(r"/(?:file[=/]\s*(?:https?:|//)|proxy=)", path, re.I):
            return "this server fetches nothing from the network"
        if re.search(r"/file[=/]", path, re.I):
            # Uploads are read by the articles view, never served back, nor any other file.
            return "this server serves no files"
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            reason = self.refusal(scope)
            if reason is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await PlainTextResponse(f"Refused: {reason}.", status_code=403)(
                    scope, receive, send
                )
                return
        if scope["type"] == "http" and scope.get("path", "").endswith("/upload"):
            receive = await self._checked_upload(scope, receive, send)
            if receive is None:
                return
        elif scope["type"] == "http" and scope.get("method") == "POST":
            receive = await self._checked_call(scope, receive, send)
            if receive is None:
                return
        await self.app(scope, receive, send)

    async def _read(self, receive) -> tuple[list, bytes, int]:
        """The request's body messages, read up to just past the size cap."""
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if not message.get("more_body") or size > self.max_body:
                break
        return messages, b"".join(m.get("body", b"") for m in messages), size

    @staticmethod
    def _replay(messages: list, receive):
        replay = iter(messages)

        async def replayed():
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        return replayed

    async def _checked_call(self, scope, receive, send):
        """A call's body, read whole, if no file in it is a URL.

        Gradio downloads any file an input names by URL (``{"path": "https://…"}``), in any
        endpoint's arguments, before the function runs: here such a call is refused, so the
        server never fetches anything for a client.
        """
        messages, body, size = await self._read(receive)
        if size > self.max_body:
            await PlainTextResponse("Refused: request too large.", status_code=413)(
                scope, receive, send
            )
            return None
        try:
            data = json.loads(body) if body.strip() else None
        except (ValueError, RecursionError):
            data = None  # not JSON: Gradio reads no files from it
        if _names_a_url(data):
            await PlainTextResponse(
                "Refused: this server fetches nothing from the network.", status_code=403
            )(scope, receive, send)
            return None
        return self._replay(messages, receive)

    async def _checked_upload(self, scope, receive, send):
        """The upload's body, read whole, if no part names a path ("../../x.txt").

        Gradio keeps only the last part of such a name and stores the file, so the articles
        view could not tell; here the request is refused before anything is written. Bodies
        past the size cap are left to Gradio, which refuses them as it reads.
        """
        messages, body, size = await self._read(receive)
        for name in re.findall(
            rb'filename="([^"]*)"', body[: 1 << 20] if size > self.max_body else body
        ):
            text = name.decode("utf-8", "replace")
            if "/" in text or "\\" in text or ".." in text:
                await PlainTextResponse(
                    f"Refused: file name {text!r} names a folder.", status_code=400
                )(scope, receive, send)
                return None
        return self._replay(messages, receive)


def _names_a_url(data) -> bool:
    """True when ``data`` (parsed JSON) holds a file whose path is a URL, at any depth."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            path = item.get("path")
            if isinstance(path, str) and path.strip().lower().startswith(("http:", "https:")):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def launch(
    engine,
    *,
    host: str,
    port: int,
    share: bool,
    feedback_path: Path | None = None,
    prevent_thread_lock: bool = False,
    watch: bool = False,
    token: str | None = None,
) -> gr.Blocks:
    """Serve the chat window; returns the Blocks (still serving when ``prevent_thread_lock``).

    ``token`` (default: the ``api_token`` setting, ``RAG_API_TOKEN``) lets clients on other
    machines, or behind ``share``, add and remove articles; without it only this machine can.
    """
    loopback_only = not share and host in LOOPBACK_NAMES
    guard = ArticleGuard(token=engine.settings.api_token if token is None else token, share=share)
    demo = build_app(
        engine,
        feedback_path=feedback_path,
        watch=watch,
        guard=guard,
    )
    demo.queue(default_concurrency_limit=engine.settings.chat_concurrency)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        css=CSS,
        show_error=False,
        prevent_thread_lock=prevent_thread_lock,
        quiet=True,
        # Every setting below is given explicitly so that no GRADIO_* variable in the
        # user's environment can switch it back on.
        app_kwargs={
            "middleware": [
                Middleware(
                    SameOriginOnly,
                    loopback_only=loopback_only,
                    max_body=engine.settings.max_request_mb * 1024 * 1024,
                )
            ]
        },
        max_file_size=f"{engine.settings.upload_max_mb}mb",
        # The page shows no files: SameOriginOnly refuses every file route, so nothing on
        # disk is served, uploads included (blocking paths here would stop Gradio from
        # handing uploads to the articles view).
        allowed_paths=[],
        strict_cors=True,
        ssr_mode=False,  # server-side rendering would start a Node server
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        run_history=False,  # its page can connect to Hugging Face buckets
        footer_links=["api", "settings"],
    )
    return demo
