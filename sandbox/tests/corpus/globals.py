# expect: raised NameError
# `globals()` does not exist.
def handler(event, context):
    return list(globals().keys())
