# expect: raised NameError
# `vars()` does not exist.
def handler(event, context):
    return vars()
