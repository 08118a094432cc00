"""One TLS context per CA bundle, shared by every connection to the portal.

For each new HTTPS connection requests hands urllib3 the path of its CA bundle, and
urllib3 builds a fresh SSLContext and loads the whole bundle into it: for certifi's
~150 certificates that is about 40 ms of CPU (42 ms on the benchmark machine), and a
full read opens up to 24 connections at once, so a run spent up to a second loading
the same file again and again. Here the context is made once per bundle (and again only
when the file changes) and given to every pool of every session; an SSLContext may be
shared between threads. Which bundle is trusted does not change (requests still chooses
it: BITRIX_VERIFY_SSL, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, certifi), nor how a
certificate is checked: urllib3 makes the context as it would, hostname check included.
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH, extract_zipped_paths
from urllib3.util.ssl_ import create_urllib3_context

_lock = threading.Lock()
_made: dict[str, tuple[tuple[int, int], ssl.SSLContext]] = {}


def bundle_for(verify: bool | str) -> str | None:
    """The CA bundle (file or folder) requests verifies with for `verify`; None: no check."""
    if verify is False:
        return None
    if verify is True:
        return extract_zipped_paths(DEFAULT_CA_BUNDLE_PATH)
    return verify


def context_for(location: str) -> ssl.SSLContext:
    """The shared context that trusts the bundle at `location`, made on first use.

    Raises OSError (a missing or unreadable bundle) or ssl.SSLError (not a bundle).
    """
    stamp = os.stat(location)
    version = (stamp.st_mtime_ns, stamp.st_size)
    with _lock:
        known = _made.get(location)
        if known is not None and known[0] == version:
            return known[1]
        context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
        if os.path.isdir(location):
            context.load_verify_locations(capath=location)
        else:
            context.load_verify_locations(cafile=location)
        _made[location] = (version, context)
        return context


def prepare(url: str, verify: bool) -> None:
    """Make the context a run will need in the background, while the run sets itself up:
    OpenSSL reads the bundle without holding the GIL, so the first request need not wait
    for it. The bundle is the one requests would take from the environment; any failure
    is left for the first request to meet and report."""
    if not (verify and url.lower().startswith("https://")):
        return
    location = bundle_for(os.environ.get("REQUESTS_CA_BUNDLE")
                          or os.environ.get("CURL_CA_BUNDLE") or True)

    def make() -> None:
        try:
            context_for(location)
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            pass

    threading.Thread(target=make, name="tls-context", daemon=True).start()


class SharedContextAdapter(HTTPAdapter):
    """requests' adapter, its pools given the shared context instead of the bundle's path."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None
                                             ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        location = bundle_for(verify)
        if host_params.get("scheme") == "https" and location is not None:
            try:
                context = context_for(location)
            except OSError:
                return host_params, pool_kwargs  # requests reports the bundle as it would
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = context
        return host_params, pool_kwargs

    def cert_verify(self, conn, url, verify, cert) -> None:
        super().cert_verify(conn, url, verify, cert)
        if conn.conn_kw.get("ssl_context") is not None:
            # Its context already trusts the bundle; given the path as well, urllib3 would
            # load the file into it again for every new connection.
            conn.ca_certs = conn.ca_cert_dir = None
