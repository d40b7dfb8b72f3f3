# expect: raised AttributeError
# `getattr` cannot reach dunders either.
def handler(event, context):
    return str(getattr(getattr((), '__class__'), '__base__'))
