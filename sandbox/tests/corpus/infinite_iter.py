# expect: timeout
# `iter(callable, sentinel)` that never ends.
def handler(event, context):
    n = 0
    for _ in iter(int, 1):
        n += 1
    return n
