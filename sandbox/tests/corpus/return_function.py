# expect: notjson
# A function has no JSON form.
def handler(event, context):
    return handler
