# expect: timeout
# Cubic nested loops.
def handler(event, context):
    n = 0
    for a in range(10 ** 6):
        for b in range(10 ** 6):
            for c in range(10 ** 6):
                n += 1
    return n
