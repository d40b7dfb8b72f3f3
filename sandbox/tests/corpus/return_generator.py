# expect: ok
# monty evaluates generator expressions eagerly, so this is a plain list.
def handler(event, context):
    return (x for x in range(3))
