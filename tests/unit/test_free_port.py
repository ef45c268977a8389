"""free_port never hands out a port twice: the servers of one stack get distinct ports even
though each binds its port only later."""

from stack.processes import free_port


def test_ports_handed_out_are_all_distinct() -> None:
    # Plain bind-to-port-0 repeats itself well within this many tries (about 5% of 2,000).
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
