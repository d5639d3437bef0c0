"""What the tests share: one way to wait, one publisher harness, one metric reader.

* :mod:`tests.support.waiting`: :func:`wait_for`, the only wait (a condition and a deadline);
* :mod:`tests.support.processes`: free ports, child processes that are always killed, their
  output read line by line;
* :mod:`tests.support.config`: a publisher's TOML configuration and the test instruments;
* :mod:`tests.support.stack`: the running stack, simulated gateways + the real publisher on its
  own thread + listeners (the fixtures in ``tests/conftest.py`` hand it out);
* :mod:`tests.support.listener`: a SUB socket that keeps every message, and conditions on them;
* :mod:`tests.support.metrics`: a registry reader that fails on a missing metric, HTTP probes;
* :mod:`tests.support.burst`: a gateway that sends a pre-generated burst faster than the
  publisher reads;
* :mod:`tests.support.paths`: where the repository and its deploy files are.
"""
