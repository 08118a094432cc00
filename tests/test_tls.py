"""HTTPS to the portal: one TLS context per CA bundle for the direct connections, the
certificate and host name checked as before, and a refused certificate told by its reason."""

from __future__ import annotations

import logging
import os
import shutil
import ssl

import pytest

from app.bitrix import tls
from app.bitrix.client import Bitrix24Client
from app.bitrix.reading import ListReader
from app.errors import PortalUnreachableError
from app.messages import say
from app.testing.portal import FakePortal, self_signed_tls

MADE = "TLS: one context for all connections"


@pytest.fixture
def secure(tmp_path, monkeypatch):
    """An HTTPS fake portal whose certificate the client trusts through REQUESTS_CA_BUNDLE."""
    context, cert = self_signed_tls(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with FakePortal(ssl_context=context) as portal:
        yield portal


def _pools(client: Bitrix24Client) -> list:
    return [pool for session in client._sessions
            for pool in session.get_adapter("https://").poolmanager.pools._container.values()]


def test_every_connection_of_a_parallel_read_shares_one_tls_context(secure, caplog):
    caplog.set_level(logging.DEBUG, logger="app.bitrix.tls")
    expected = secure.add_items(1040, [{"title": f"Item {i}"} for i in range(3000)])
    client = Bitrix24Client(secure.webhook_url, batch_commands=2)  # 100 rows a batch
    rows: list[dict] = []
    try:
        ListReader(client, "crm.item.list", {"entityTypeId": 1040}).read(rows.extend)
        pools = _pools(client)
    finally:
        client.close()

    assert sorted(int(r["id"]) for r in rows) == sorted(expected)
    assert len(pools) > 3  # read in parallel, a pool (and a connection) per reader thread
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith(MADE)] == [
        f"{MADE}, trusting {os.environ['REQUESTS_CA_BUNDLE']} (1 certificates)"]
    context = pools[0].conn_kw["ssl_context"]
    assert all(pool.conn_kw["ssl_context"] is context for pool in pools)
    # Given the bundle's path too, urllib3 would load the file again for every connection.
    assert all(pool.ca_certs is None and pool.ca_cert_dir is None for pool in pools)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def _refused(url: str) -> str:
    """The message of the TLS failure a call to the portal at `url` ends with."""
    client = Bitrix24Client(url, max_retries=0)
    try:
        with pytest.raises(PortalUnreachableError) as caught:
            client.call("crm.item.list", {"entityTypeId": 1036})
    finally:
        client.close()
    return str(caught.value)


def _told(reason: str, fix: str) -> str:
    return say("transport.tls", method="crm.item.list", reason=say(reason), fix=say(fix))


def test_an_untrusted_certificate_still_fails_the_tls_check(tmp_path, monkeypatch):
    context, _ = self_signed_tls(tmp_path)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with FakePortal(ssl_context=context) as portal:
        message = _refused(portal.webhook_url)
    assert message == _told("transport.tls_untrusted", "transport.tls_fix_trust")
    assert not portal.requests  # the request never reached the portal


def test_the_certificate_must_name_the_host(secure):
    # The certificate is for 127.0.0.1; `localhost` reaches the same server by another name.
    message = _refused(secure.webhook_url.replace("127.0.0.1", "localhost"))
    assert message == _told("transport.tls_host", "transport.tls_fix_host")
    assert "fakeSecret" not in message
    assert not secure.requests


def test_a_bundle_without_a_certificate_is_named_as_the_reason(tmp_path, monkeypatch):
    # What a certificate exported from Windows' certmgr as DER (.cer) looks like to OpenSSL.
    context, cert = self_signed_tls(tmp_path)
    bundle = tmp_path / "corp.cer"
    bundle.write_bytes(ssl.PEM_cert_to_DER_cert(cert.read_text(encoding="ascii")))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with FakePortal(ssl_context=context) as portal:
        message = _refused(portal.webhook_url)
    assert message == _told("transport.tls_empty_bundle", "transport.tls_fix_bundle")


def test_a_replaced_bundle_is_read_again(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    for round_ in ("first", "second"):  # each portal with a certificate of its own
        (tmp_path / round_).mkdir()
        context, cert = self_signed_tls(tmp_path / round_)
        shutil.copyfile(cert, bundle)
        with FakePortal(ssl_context=context) as portal:
            portal.add_items(1036, [{"title": "Москва"}])
            client = Bitrix24Client(portal.webhook_url, max_retries=0)
            assert client.call("crm.item.list", {"entityTypeId": 1036})["total"] == 1
            client.close()


def test_a_run_rereads_a_bundle_replaced_with_its_times_and_size_kept(tmp_path):
    # Copied with its times kept (cp -p, robocopy) onto a file system with coarse
    # timestamps, a new bundle can look like the old one to stat(); each run compares the
    # content once.
    old_folder, new_folder = tmp_path / "old", tmp_path / "new"
    old_folder.mkdir(), new_folder.mkdir()
    _, old_cert = self_signed_tls(old_folder)
    _, new_cert = self_signed_tls(new_folder)
    size = max(len(old_cert.read_bytes()), len(new_cert.read_bytes())) + 1
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(old_cert.read_bytes().ljust(size, b"\n"))
    first = tls.context_for(str(bundle))
    stamp = os.stat(bundle)
    bundle.write_bytes(new_cert.read_bytes().ljust(size, b"\n"))  # the same size
    os.utime(bundle, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # and the same times
    # Where stat() cannot tell the two apart (here the inode's change time still would):
    tls._made[str(bundle)] = (tls._stamp(str(bundle)), *tls._made[str(bundle)][1:])

    assert tls.context_for(str(bundle)) is first  # stat() alone cannot tell
    again = tls.context_for(str(bundle), reread=True)  # what prepare() does once a run
    assert again is not first
    assert again.get_ca_certs() != first.get_ca_certs()


@pytest.mark.parametrize("proxy, client_cert", [("https://proxy.example:3128", None),
                                                ("http://proxy.example:3128", None),
                                                (None, "client.pem")],
                         ids=["https proxy", "http proxy", "client certificate"])
def test_a_proxy_or_a_client_certificate_keeps_requests_own_tls_setup(proxy, client_cert,
                                                                       tmp_path):
    # An HTTPS proxy's own certificate is checked against the bundle's path, and a client
    # certificate would be loaded into the context: neither may touch the shared one.
    import requests

    _, cert = self_signed_tls(tmp_path)
    request = requests.Request("POST", "https://portal.example/rest/1/x/batch.json").prepare()
    adapter = tls.SharedContextAdapter()
    pool = adapter.get_connection_with_tls_context(
        request, str(cert), proxies={"https": proxy} if proxy else {}, cert=client_cert)
    adapter.cert_verify(pool, request.url, str(cert), None)
    assert pool.conn_kw.get("ssl_context") is None
    assert pool.ca_certs == str(cert)
    plain = tls.SharedContextAdapter().get_connection_with_tls_context(request, str(cert))
    assert isinstance(plain.conn_kw.get("ssl_context"), ssl.SSLContext)  # the direct way
