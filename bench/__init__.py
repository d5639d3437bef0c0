"""``make bench``: ibpub against the stock ibapi client on the same pre-generated frames.

Run ``python -m bench --help``. The modules, each one job:

* :mod:`publisher.sim.burst` (the simulator's, shared with the tests): pre-generated tick frames
  in both encodings, and how many ibapi callbacks each frame raises (pure);
* :mod:`bench.feeder`: a fake gateway process that serves those frames over loopback TCP, paced or
  as one burst, after the real TWS handshake;
* :mod:`bench.stock`: the baseline, ibapi's unmodified ``EClient`` + ``EReader`` + ``run()`` with
  callbacks that only count;
* :mod:`bench.counter`: the counting subscriber, a separate process on the bus;
* :mod:`bench.publisher`: ``ibpub run`` as a child process, its metrics, CPU time and peak RSS;
* :mod:`bench.stats`: quantiles, histogram deltas and machine facts (pure);
* :mod:`bench.scenarios`: sustained rate search, burst drain, latency steps;
* :mod:`bench.report`: the table and the JSON file;
* :mod:`bench.run`: the command line.
"""
