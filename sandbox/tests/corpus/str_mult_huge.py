# expect: memory
# `'a' * 10**10` is refused before it is allocated.
def handler(event, context):
    return len('a' * 10 ** 10)
