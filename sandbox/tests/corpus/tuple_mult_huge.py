# expect: memory
# `(1,) * 10**9`.
def handler(event, context):
    return len((1,) * 10 ** 9)
