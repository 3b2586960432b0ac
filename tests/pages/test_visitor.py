"""ui/visitor.py: who is at the other end of a session, told from the connection's address alone. What
each visitor may then do on the home page runs through AppTest in tests/pages/test_app_home.py."""


def test_who_is_at_the_servers_machine():
    from unittest.mock import MagicMock

    from ui.visitor import kind_of_address

    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        assert kind_of_address(address) == "loopback", address
    for address in ("192.0.2.7", "10.0.0.5", "fd00::2", "2001:db8::1", "::ffff:192.0.2.7"):
        assert kind_of_address(address) == "network", address
    for address in (None, "", "localhost", "not an address", MagicMock()):
        assert kind_of_address(address) == "unknown", address
