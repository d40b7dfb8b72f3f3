# expect: raised AttributeError
# `getattr` with a computed name.
def handler(event, context):
    name = '__sub' + 'classes__'
    return len(getattr(object, name)())
