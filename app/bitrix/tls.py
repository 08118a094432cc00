"""One TLS context per CA bundle, shared by the direct connections to the portal.

For each new HTTPS connection requests hands urllib3 the path of its CA bundle, and
urllib3 builds a fresh SSLContext and loads the whole bundle into it: for certifi's
~150 certificates that is about 40 ms of CPU (42 ms on the benchmark machine), and a
full read opens up to 24 connections at once, so a run spent up to a second loading
the same file again and again. Here the context is made once per bundle (again when the
file changes) and given to every pool of every session. Which bundle is trusted does
not change (requests still chooses it: BITRIX_VERIFY_SSL, REQUESTS_CA_BUNDLE,
CURL_CA_BUNDLE, certifi), nor how a certificate is checked: urllib3 makes the context as
it would and checks the host name as it would.

Left to requests as before: a connection through a proxy (an HTTPS proxy's own
certificate is checked against the bundle's path) and one with a client certificate
(urllib3 would load it into the shared context, for every host).
"""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH, extract_zipped_paths, select_proxy
from urllib3.util.ssl_ import ALPN_PROTOCOLS, create_urllib3_context

from app.config import ca_bundle_variable

log = logging.getLogger(__name__)


class _SharedContext(ssl.SSLContext):
    """A context urllib3 may configure on every connection without writing to it again.

    urllib3 sets verify_mode and the ALPN protocols on the context of each new connection;
    on a shared context another thread may be opening a connection at that moment, and
    OpenSSL copies the ALPN list while it is replaced (CPython issue #141012, urllib3
    #3036). Setting the value a context already has is skipped, so after it is made the
    shared context is only read.
    """

    _alpn: tuple[str, ...] = ()

    def set_alpn_protocols(self, alpn_protocols) -> None:
        wanted = tuple(alpn_protocols)
        if wanted != self._alpn:
            super().set_alpn_protocols(wanted)
            self._alpn = wanted

    @property
    def verify_mode(self) -> ssl.VerifyMode:
        return ssl.SSLContext.verify_mode.__get__(self)

    @verify_mode.setter
    def verify_mode(self, value) -> None:
        if value != self.verify_mode:
            ssl.SSLContext.verify_mode.__set__(self, value)

    @property
    def check_hostname(self) -> bool:
        return ssl.SSLContext.check_hostname.__get__(self)

    @check_hostname.setter
    def check_hostname(self, value) -> None:
        if bool(value) != self.check_hostname:
            ssl.SSLContext.check_hostname.__set__(self, value)


_lock = threading.Lock()
# bundle -> (the file's stat, its content's digest, the context that trusts it)
_made: dict[str, tuple[tuple[int, ...], str | None, ssl.SSLContext]] = {}


def bundle_for(verify: bool | str) -> str | None:
    """The CA bundle (file or folder) requests verifies with for `verify`; None: no check."""
    if verify is False:
        return None
    if verify is True:
        return extract_zipped_paths(DEFAULT_CA_BUNDLE_PATH)
    return verify


def _stamp(location: str) -> tuple[int, ...]:
    found = os.stat(location)
    return found.st_mtime_ns, found.st_size, found.st_ino, found.st_ctime_ns


def _digest(location: str) -> str | None:
    if os.path.isdir(location):
        return None
    with open(location, "rb") as bundle:
        return hashlib.sha256(bundle.read()).hexdigest()


def context_for(location: str, *, reread: bool = False) -> ssl.SSLContext:
    """The shared context that trusts the bundle at `location`, made on first use and made
    again when the file's stat changes; `reread` also compares the file's content (a file
    replaced within the file system's timestamp resolution, or with its times copied).

    Raises OSError (a missing or unreadable bundle) or ssl.SSLError (not a bundle).
    """
    stamp = _stamp(location)
    with _lock:
        known = _made.get(location)
        if known is not None and known[0] == stamp and not reread:
            return known[2]
        digest = _digest(location)
        if known is not None and digest is not None and known[1] == digest:
            _made[location] = (stamp, digest, known[2])
            return known[2]
        context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
        context.__class__ = _SharedContext
        context.set_alpn_protocols(ALPN_PROTOCOLS)
        if os.path.isdir(location):
            context.load_verify_locations(capath=location)
        else:
            context.load_verify_locations(cafile=location)
        _made[location] = (stamp, digest, context)
        log.debug("TLS: one context for all connections, trusting %s (%d certificates)",
                  location, context.cert_store_stats().get("x509_ca", 0))
        return context


def prepare(url: str, verify: bool) -> None:
    """Make (or check) the context a run will need in the background while the run sets
    itself up: OpenSSL reads the bundle without holding the GIL, so the first request need
    not wait for it. The bundle is the one requests would take from the environment; any
    failure is left for the first request to meet and report."""
    if not (verify and url.lower().startswith("https://")):
        return
    found = ca_bundle_variable(os.environ)
    location = bundle_for(found[1] if found else True)

    def make() -> None:
        try:
            context_for(location, reread=True)
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            pass

    threading.Thread(target=make, name="tls-context", daemon=True).start()


class SharedContextAdapter(HTTPAdapter):
    """requests' adapter, its direct HTTPS pools given the shared context instead of the
    bundle's path. One adapter belongs to one session, used by one thread at a time."""

    _shared = False  # whether the request at hand takes the shared context

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        self._shared = (cert is None and request.url.lower().startswith("https://")
                        and not select_proxy(request.url, proxies))
        return super().get_connection_with_tls_context(request, verify, proxies, cert)

    def build_connection_pool_key_attributes(self, request, verify, cert=None
                                             ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert)
        location = bundle_for(verify)
        if self._shared and location is not None:
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
        if isinstance(conn.conn_kw.get("ssl_context"), _SharedContext):
            # Its context already trusts the bundle; given the path as well, urllib3 would
            # load the file into it again for every new connection.
            conn.ca_certs = conn.ca_cert_dir = None
