# expect: memory|timeout
# `list(range(10**9))`.
def handler(event, context):
    return len(list(range(10 ** 9)))
