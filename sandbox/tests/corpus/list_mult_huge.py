# expect: memory
# `[0] * 10**9`.
def handler(event, context):
    return len([0] * 10 ** 9)
