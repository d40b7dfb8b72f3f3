# expect: raised AttributeError
# A function's `__globals__` is not exposed.
def handler(event, context):
    return list(handler.__globals__)
