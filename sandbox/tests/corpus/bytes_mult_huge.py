# expect: memory
# Bytes the same way.
def handler(event, context):
    return len(b'a' * 10 ** 10)
