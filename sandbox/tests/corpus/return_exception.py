# expect: notjson
# An exception object is not JSON.
def handler(event, context):
    return ValueError('x')
