"""Live feeds polled by the server (OpenTripPlanner-style updaters).

* :mod:`api.live.fetch` - one conditional HTTP request (ETag / If-Modified-Since, timeout);
* :mod:`api.live.spool` - the newest payload of a feed shared by the worker processes
  (one leader per feed, chosen by a file lock, fetches; every worker reads);
* :mod:`api.live.updater` - the poll loop of one feed: schedule, backoff with jitter, health;
* :mod:`api.live.snapshot` - the immutable realtime state planners read;
* :mod:`api.live.feeds` - all feeds of a region: threads, snapshot swaps, station feeds;
* :mod:`api.live.annotate` - realtime fields on itineraries and departure boards.
"""
