# expect: ok
# `repr` of a 100,000-deep list: monty elides past a depth, no native stack overflow.
def handler(event, context):
    a = []
    for _ in range(100000):
        a = [a]
    return len(repr(a))
