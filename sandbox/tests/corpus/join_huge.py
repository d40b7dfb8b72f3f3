# expect: memory
# `''.join` of a huge list.
def handler(event, context):
    return len(''.join(['abc'] * 10 ** 8))
