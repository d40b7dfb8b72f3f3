# expect: notjson
# An answer nested 100,000 deep is refused, not converted recursively.
def handler(event, context):
    a = []
    for _ in range(100000):
        a = [a]
    return a
