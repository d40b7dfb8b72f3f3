class _SluiceTime:
    """Stand-in for `time`: reads the host clock; cannot set it."""

    def time(self):
        return _sluice_host_time()

    def time_ns(self):
        return int(_sluice_host_time() * 1000000000)

    def monotonic(self):
        return _sluice_host_monotonic()

    def monotonic_ns(self):
        return int(_sluice_host_monotonic() * 1000000000)

    def perf_counter(self):
        return _sluice_host_monotonic()

    def perf_counter_ns(self):
        return int(_sluice_host_monotonic() * 1000000000)

    def sleep(self, secs):
        _sluice_host_sleep(secs)


_sluice_time = _SluiceTime()
