# expect: memory
# `'x'.center(10**10)`.
def handler(event, context):
    return len('x'.center(10 ** 10))
