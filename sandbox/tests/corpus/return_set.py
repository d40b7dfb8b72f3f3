# expect: notjson
# A set has no JSON form.
def handler(event, context):
    return {1, 2, 3}
