class _SluiceRandom:
    """Stand-in for `random`: xorshift64*, seeded per call by the host."""

    def __init__(self, seed):
        self.seed(seed)

    def seed(self, a=None):
        if a is None:
            a = _sluice_seed
        if not isinstance(a, int):
            a = hash(a)
        self._s = (a & 0xFFFFFFFFFFFFFFFF) or 0x9E3779B97F4A7C15

    def _next(self):
        x = self._s
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        self._s = x
        return (x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def getrandbits(self, k):
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        r = 0
        got = 0
        while got < k:
            r = (r << 64) | self._next()
            got += 64
        return r >> (got - k)

    def _below(self, n):
        if n <= 0:
            raise ValueError("empty range")
        k = 64
        while (1 << k) < n:
            k += 64
        return self.getrandbits(k + 64) % n

    def random(self):
        return (self._next() >> 11) / 9007199254740992.0

    def randrange(self, start, stop=None, step=1):
        if stop is None:
            start, stop = 0, start
        if step == 0:
            raise ValueError("zero step for randrange()")
        if step > 0:
            n = (stop - start + step - 1) // step
        else:
            n = (start - stop - step - 1) // (-step)
        if n <= 0:
            raise ValueError("empty range for randrange()")
        return start + step * self._below(n)

    def randint(self, a, b):
        return self.randrange(a, b + 1)

    def choice(self, seq):
        if len(seq) == 0:
            raise IndexError("Cannot choose from an empty sequence")
        return seq[self._below(len(seq))]

    def choices(self, population, weights=None, k=1):
        pool = list(population)
        if weights is None:
            return [self.choice(pool) for _ in range(k)]
        if len(weights) != len(pool):
            raise ValueError("The number of weights does not match the population")
        total = sum(weights)
        out = []
        for _ in range(k):
            r = self.random() * total
            i = 0
            acc = weights[0]
            while acc <= r and i < len(pool) - 1:
                i += 1
                acc += weights[i]
            out.append(pool[i])
        return out

    def shuffle(self, x):
        i = len(x) - 1
        while i > 0:
            j = self._below(i + 1)
            t = x[i]
            x[i] = x[j]
            x[j] = t
            i -= 1

    def sample(self, population, k):
        pool = list(population)
        if k < 0 or k > len(pool):
            raise ValueError("Sample larger than population or is negative")
        for i in range(k):
            j = i + self._below(len(pool) - i)
            t = pool[i]
            pool[i] = pool[j]
            pool[j] = t
        return pool[:k]

    def uniform(self, a, b):
        return a + (b - a) * self.random()

    def gauss(self, mu=0.0, sigma=1.0):
        import math as _m

        u = 1.0 - self.random()
        v = self.random()
        return mu + sigma * _m.sqrt(-2.0 * _m.log(u)) * _m.cos(2.0 * _m.pi * v)

    def Random(self, seed=None):
        return _SluiceRandom(_sluice_seed if seed is None else seed)


_sluice_random = _SluiceRandom(_sluice_seed)
