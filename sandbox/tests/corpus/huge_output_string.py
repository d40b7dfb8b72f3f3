# expect: toolarge
# A 2 MB answer in four strings of 500 KB (one string of 2 MB is refused as it is made).
def handler(event, context):
    return ['x' * 500000 for _ in range(4)]
