# expect: toolarge
# Eight lists of 30,000 numbers: 1.4 MB of JSON, made in small steps.
def handler(event, context):
    return [[12345] * 30000 for _ in range(8)]
