# expect: raised AttributeError
# A function's `__code__` is not exposed.
def handler(event, context):
    return handler.__code__.co_consts
