# expect: memory
# `10**10**8` would be a 40 MB integer: refused up front.
def handler(event, context):
    return 10 ** 10 ** 8 > 0
