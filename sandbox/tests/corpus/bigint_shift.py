# expect: memory
# `1 << 10**10` would need over a gigabyte.
def handler(event, context):
    return (1 << 10 ** 10) > 0
