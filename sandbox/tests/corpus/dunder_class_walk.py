# expect: raised AttributeError
# The classic walk to `object.__subclasses__()` stops at the first dunder.
def handler(event, context):
    return [c.__name__ for c in ().__class__.__base__.__subclasses__()]
