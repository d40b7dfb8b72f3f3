# expect: notjson
# An integer beyond 64 bits has no exact JSON number here.
def handler(event, context):
    return 10 ** 30
