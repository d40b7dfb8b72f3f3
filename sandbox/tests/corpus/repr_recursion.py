# expect: raised RecursionError
# A `__repr__` that calls itself.
class Loop:
    def __repr__(self):
        return repr(self)


def handler(event, context):
    return repr(Loop())
