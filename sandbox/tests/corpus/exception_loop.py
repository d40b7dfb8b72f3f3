# expect: timeout
# Raising and catching for ever.
def handler(event, context):
    while True:
        try:
            raise ValueError('x')
        except ValueError:
            pass
