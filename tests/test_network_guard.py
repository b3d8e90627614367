import socket

import pytest

from tests.conftest import NetworkAccessDenied


def test_tests_cannot_reach_the_internet():
    with socket.socket() as sock, pytest.raises(NetworkAccessDenied):
        sock.connect(("192.0.2.1", 443))


def test_tests_may_use_loopback():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket() as client:
            client.connect(server.getsockname())
