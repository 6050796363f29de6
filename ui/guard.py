"""Who may add and remove articles: this machine, or whoever gives the token."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

# Host names a browser uses for a server bound to this machine only.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def host_name(netloc: str) -> str:
    """The host name of a Host header or URL authority ("LocalHost:7860" -> "localhost")."""
    return (urlsplit(f"//{netloc}").hostname or "").lower()


# Headers a proxy adds: a request carrying one was made somewhere else and passed on.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")
TOKEN_HINT = "RAG_API_TOKEN"
CHANGES_OFF = (
    "Adding and removing articles is open to this machine only. To allow it from other "
    f"machines, whoever serves the chat window sets a token ({TOKEN_HINT}) and shares it."
)
CHANGES_OFF_SHARED = (
    "Adding and removing articles through a share link needs a token, and none is set: "
    f"whoever serves the chat window sets one ({TOKEN_HINT}) and shares it."
)
WRONG_TOKEN = (
    "Adding and removing articles from here needs the token set by whoever serves the chat "
    "window; the token given is missing or wrong."
)


def _header_map(request) -> dict[str, str]:
    headers = getattr(request, "headers", None) or {}
    try:
        return {str(k).lower(): str(v) for k, v in dict(headers).items()}
    except (TypeError, ValueError):
        return {}


def request_is_local(request) -> bool:
    """True for a request made on this machine and sent straight here.

    That is: from a loopback address, to a loopback host name, and through no proxy (a
    proxy on this machine, a share link's tunnel included, would make every client look
    local, so a forwarding header counts as "elsewhere"). ``None`` is a call from Python in
    this very process, not a request.
    """
    if request is None:
        return True
    client = getattr(request, "client", None)
    address = str(getattr(client, "host", "") or "")
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
        return False
    headers = _header_map(request)
    if any(name in headers for name in FORWARDING_HEADERS):
        return False
    return host_name(headers.get("host", "")) in LOOPBACK_NAMES


@dataclass(frozen=True)
class ArticleGuard:
    """Who may add and remove articles, through the page or the API; reading is open to all.

    With no token set, a request made on this machine may, unless the server is shared (a
    share link's traffic arrives from this machine too), and nobody else. With a token set
    by the person serving, every request must give it, this machine's too: a proxy or a
    port forward here would make a request from elsewhere look local.
    """

    token: str = ""
    share: bool = False

    def refusal(self, request, given: str | None = None) -> str | None:
        """Why ``request`` may not change the articles, or None when it may."""
        if not self.token:
            if not self.share and request_is_local(request):
                return None
            return CHANGES_OFF_SHARED if self.share else CHANGES_OFF
        # Once a token is set it is asked of everyone: a proxy or a port forward on this
        # machine can make a request from elsewhere look local.
        if isinstance(given, str) and given:
            try:
                if hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8")):
                    return None
            except UnicodeEncodeError:  # a lone surrogate: not the token
                pass
        return WRONG_TOKEN
